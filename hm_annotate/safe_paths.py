"""Paths built from data (video ids, COCO file names, zip entries) kept inside their root.

Video ids become folder names on export (``<out>/<video_id>/00489.png``), zip entry names and
frame paths under ``--frames-root``. An id such as ``../../x`` or ``/etc`` coming from a tampered
annotation pickle or store would let an export overwrite files anywhere, so ids are checked
where they enter (adapters, store writes, store reads) and every writer also resolves its target
and refuses anything outside the folder it was given.
"""

from __future__ import annotations

import os
from pathlib import Path

from hm_annotate.errors import HMError

MAX_ID_LENGTH = 1024


class UnsafePathError(HMError, ValueError):
    """A video id or data-derived path that could point outside the folder it belongs in."""


def relative_path_problem(text: object, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Why ``text`` is not a safe relative path (normalised, ``/``-separated), or None when it is."""
    if not isinstance(text, str):
        return f"is a {type(text).__name__}, not a string"
    if not text:
        return "is empty"
    if len(text) > max_length:
        return f"is {len(text)} characters long (at most {max_length})"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "contains a control character"
    if "\\" in text:
        return "contains a backslash"
    if text.startswith("/"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in text.split("/")):
        return "is not a normalised relative path (empty, '.' or '..' component)"
    return None


def check_video_id(video_id: object) -> str:
    """``video_id`` itself when it is a safe relative path; UnsafePathError otherwise."""
    problem = relative_path_problem(video_id)
    if problem:
        raise UnsafePathError(f"video id {video_id!r} {problem}")
    return video_id  # type: ignore[return-value]


def inside(root: str | os.PathLike, relative: str, what: str = "path") -> Path:
    """``root / relative``, resolved (symlinks followed), refused unless it stays under ``root``."""
    problem = relative_path_problem(relative, max_length=4096)
    if problem:
        raise UnsafePathError(f"{what} {relative!r} {problem}")
    base = Path(root).resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise UnsafePathError(f"{what} {relative!r} resolves to {target}, outside {base}")
    return target
