"""COCO file names both ways: a frame's ``file_name`` on export, and the (video, frame) a file
name stands for on import.

A ``FileNamePattern`` (``{video_id}/{frame:05d}.jpg``, or a video's own metadata pattern) names
frames; import splits a file name into the literal text around the frame number and looks that
up per video. A dataset's own frame paths (``Video.frame_paths``) name frames exactly where a
pattern cannot (``FrameNames``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping

from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.store import MaskStore

DEFAULT_FILE_NAME_PATTERN = "{video_id}/{frame:05d}.jpg"
# a video's metadata may carry its own frame path template (e.g. AQA-7's "img_{frame:05d}.jpg")
PATTERN_METADATA_KEY = "frame_name_pattern"
_TRAILING_DIGITS = re.compile(r"\d+$")

class CocoError(HMError):
    """A COCO file, frame list or file-name pattern that cannot be exported or imported."""


class FileNamePattern:
    """A frame path template with the fields ``{video_id}`` and ``{frame}`` (e.g. ``{frame:05d}``).

    Export formats it; import splits a file name into the literal text around the frame number
    and looks that up per video, so any pattern works both ways as long as the frame number is
    not glued to other digits.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise CocoError(f"file-name pattern {text!r}: {exc}") from None
        fields = [p[1] for p in parts if p[1] is not None]
        bad = sorted({f for f in fields if f not in ("video_id", "frame")})
        if bad:
            raise CocoError(
                f"file-name pattern {text!r}: unknown field(s) {bad}; use {{video_id}} and {{frame}}"
            )
        if fields.count("frame") != 1:
            raise CocoError(f"file-name pattern {text!r} must contain {{frame}} exactly once")
        if any(p[2] and "{" in p[2] for p in parts):
            raise CocoError(f"file-name pattern {text!r}: nested fields are not supported")
        self._parts = parts
        try:
            self.format("v", 1)
        except (ValueError, TypeError) as exc:
            raise CocoError(f"file-name pattern {text!r}: {exc}") from None

    def format(self, video_id: str, frame: int) -> str:
        """The file name of a frame."""
        return self.text.format(video_id=video_id, frame=int(frame))

    def split(self, video_id: str) -> tuple[str, str]:
        """The literal text before and after the frame number in this video's file names."""
        before: list[str] = []
        after: list[str] = []
        out = before
        for literal, name, spec, conv in self._parts:
            out.append(literal)
            if name == "frame":
                out = after
            elif name == "video_id":
                value = {"r": repr, "a": ascii}.get(conv or "", str)(video_id)
                out.append(format(value, spec or ""))
        prefix = "".join(before)
        if prefix[-1:].isdigit():
            raise CocoError(
                f"file-name pattern {self.text!r}: the frame number directly follows a digit for video "
                f"{video_id!r}, so file names cannot be read back"
            )
        return prefix, "".join(after)


class FrameNameIndex:
    """Maps frame file names back to ``(video_id, frame)`` for a set of videos."""

    def __init__(self, patterns: Mapping[str, FileNamePattern]) -> None:
        self._by_suffix: dict[str, dict[str, str]] = {}
        for video_id, pattern in patterns.items():
            prefix, suffix = pattern.split(video_id)
            known = self._by_suffix.setdefault(suffix, {})
            if prefix in known:
                raise CocoError(
                    f"file-name pattern {pattern.text!r} gives videos {known[prefix]!r} and {video_id!r} "
                    "the same file names; restrict the import to one video"
                )
            known[prefix] = video_id

    def lookup(self, file_name: str) -> tuple[str, int] | None:
        """The video and frame number a file name stands for, or None."""
        for suffix, prefixes in self._by_suffix.items():
            if not file_name.endswith(suffix):
                continue
            rest = file_name[: len(file_name) - len(suffix)]
            m = _TRAILING_DIGITS.search(rest)
            if m and rest[: m.start()] in prefixes and len(m.group()) <= 18:
                return prefixes[rest[: m.start()]], int(m.group())
        return None


def video_patterns(
    st: MaskStore, video_ids: Iterable[str], override: str | None
) -> dict[str, FileNamePattern]:
    """Each video's file-name pattern: the override, else its metadata's, else the default."""
    cache: dict[str, FileNamePattern] = {}

    def get(text: str) -> FileNamePattern:
        if text not in cache:
            cache[text] = FileNamePattern(text)
        return cache[text]

    if override is not None:
        return {v: get(override) for v in video_ids}
    return {v: get(st.metadata(v).get(PATTERN_METADATA_KEY) or DEFAULT_FILE_NAME_PATTERN) for v in video_ids}


class FrameNames:
    """Frame file names both ways: the dataset's own frame paths where given, else patterns.

    ``paths`` maps video ids to ``{frame: path relative to the frames root}`` (``Video.frame_paths``
    of a dataset adapter), which names frames exactly even where a pattern cannot (AQA-7's
    ``diving-out/001/img_00001.jpg`` for video ``diving/001``).
    """

    def __init__(
        self, patterns: Mapping[str, FileNamePattern], paths: Mapping[str, Mapping[int, str]] | None = None
    ) -> None:
        self.patterns = dict(patterns)
        self.paths = {v: fp for v, fp in (paths or {}).items() if v in self.patterns}
        self._index = FrameNameIndex({v: p for v, p in self.patterns.items() if v not in self.paths})
        self._by_path = {path: (v, int(f)) for v, fp in self.paths.items() for f, path in fp.items()}

    def name(self, video_id: str, frame: int) -> str:
        """The file name of a frame."""
        if video_id not in self.paths:
            return self.patterns[video_id].format(video_id, frame)
        try:
            return self.paths[video_id][frame]
        except KeyError:
            raise CocoError(f"video {video_id!r} frame {frame}: the dataset has no such frame") from None

    def lookup(self, file_name: str) -> tuple[str, int] | None:
        """The video and frame number a file name stands for, or None."""
        return self._by_path.get(file_name) or self._index.lookup(file_name)


def dataset_frame_paths(videos: Iterable[Video]) -> dict[str, dict[int, str]]:
    """Frame paths of a dataset's videos (``Video.frame_paths``; videos read from files have none)."""
    return {v.id: dict(v.frame_paths) for v in videos if v.frame_paths}
