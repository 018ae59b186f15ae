"""How adapters report a bad video: a warning by default, an error when strict.

A real dataset copy often has a few broken entries (a missing frame folder, a folder with
fewer frames than annotated). One bad video should not stop a listing of thousands, so by
default each one becomes a ``DatasetWarning`` naming it and the listing goes on; ``strict``
turns the first one into a ``DatasetError``. Library code never prints: callers that want
the warnings as lines (the CLI) route them with ``Reporter.capture(DatasetWarning)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TypeVar

from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.safe_paths import UnsafePathError, check_video_id

T = TypeVar("T")


class DatasetWarning(UserWarning):
    """A video skipped or listed incompletely because its files do not match the annotations."""


class BadVideo(Exception):
    """Raised inside an adapter while building one video; becomes a warning or an error."""


def report(message: str, strict: bool, outcome: str = "") -> None:
    """Raise ``DatasetError(message)`` when strict, else warn ``"<message>; <outcome>"``.

    ``outcome`` says what the adapter does about it when it goes on (e.g. "skipped").
    """
    if strict:
        raise DatasetError(message)
    warnings.warn(f"{message}; {outcome}" if outcome else message, DatasetWarning, stacklevel=3)


def build_each(items: Iterable[T], build: Callable[[T], Video | None], strict: bool) -> list[Video]:
    """Build a video per item; a ``BadVideo`` is reported and that item skipped."""
    videos = []
    for item in items:
        try:
            video = build(item)
        except BadVideo as exc:
            report(str(exc), strict, "skipped")
            continue
        if video is not None:
            videos.append(video)
    return videos


def safe_ids(videos: list[Video], strict: bool) -> list[Video]:
    """The videos whose id is a safe relative path; each other one is reported and skipped (ids
    become folder and zip entry names on export)."""
    kept = []
    for video in videos:
        try:
            check_video_id(video.id)
        except UnsafePathError as exc:
            report(str(exc), strict, "skipped")
            continue
        kept.append(video)
    return kept
