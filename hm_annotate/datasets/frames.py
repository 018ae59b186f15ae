"""Frames stored as numbered image files: scanning folders without decoding, reading as RGB.

Listing a dataset only scans directories (``FrameFolder.scan``); frames are decoded when read
(``ImageFrames``), so a corrupt JPG surfaces at read time as a ``DatasetError`` naming the
file, the video and the frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.problems import BadVideo, report
from hm_annotate.frame_names import frame_number, is_image
from hm_annotate.safe_paths import UnsafePathError, check_video_id

# longest annotated clip accepted (a FineDiving dive is ~100 frames; end_frame = 10**9 in a
# tampered pickle would otherwise size arrays from it)
MAX_CLIP_FRAMES = 1_000_000
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"


@dataclass(frozen=True)
class FrameFolder:
    """The numbered images of one folder: ``numbers`` (sorted int64) and their file ``names``.

    A frame number is the last run of digits in the file name (``hm_annotate.frame_names``:
    ``00489.jpg`` -> 489, ``img_00001.jpg`` -> 1). Images whose name has no digits, or repeats another image's
    number, are kept apart in ``unnumbered``.
    """

    path: Path
    numbers: np.ndarray
    names: tuple[str, ...]
    unnumbered: tuple[str, ...]

    @classmethod
    def scan(cls, path: Path) -> FrameFolder:
        by_number: dict[int, str] = {}
        unnumbered = []
        with os.scandir(path) as entries:
            for entry in entries:
                if not is_image(entry.name) or not entry.is_file():
                    continue
                number = frame_number(entry.name)
                if number is None or number in by_number:
                    unnumbered.append(entry.name)
                else:
                    by_number[number] = entry.name
        numbers = np.array(sorted(by_number), dtype=np.int64)
        return cls(path, numbers, tuple(by_number[n] for n in numbers.tolist()), tuple(sorted(unnumbered)))

    def between(self, start: int, end: int) -> tuple[list[int], tuple[str, ...]]:
        """Frame numbers in ``start..end`` (inclusive) and their file names."""
        lo, hi = np.searchsorted(self.numbers, [start, end + 1])
        return self.numbers[lo:hi].tolist(), self.names[lo:hi]


def annotated_clip(
    video_id: str, folder: FrameFolder, rel_folder: str, start: int, end: int, strict: bool
) -> dict[int, str]:
    """``frame number -> relative path`` for the frames of ``start..end`` present in ``folder``.

    No frame at all makes the video bad; some frames missing (a known fault of real FineDiving
    copies) is reported and the frames present are listed.
    """
    if not 0 <= start <= end or end - start >= MAX_CLIP_FRAMES:
        raise BadVideo(
            f"video {video_id}: frames {start}..{end} are not a clip of 1..{MAX_CLIP_FRAMES} frames from 0"
        )
    numbers, names = folder.between(start, end)
    if not numbers:
        raise BadVideo(f"video {video_id}: {folder.path} holds none of its frames {start}..{end}")
    expected = end - start + 1
    if len(numbers) < expected:
        missing = np.setdiff1d(np.arange(start, end + 1), numbers)
        shown = ", ".join(str(n) for n in missing[:5].tolist()) + (", ..." if missing.size > 5 else "")
        report(
            f"video {video_id}: {folder.path} holds {len(numbers)} of its {expected} frames "
            f"{start}..{end} (missing {shown})",
            strict,
            "listing the frames present",
        )
    return {n: f"{rel_folder}/{name}" for n, name in zip(numbers, names)}


def frame_folder(video_id: str, path: Path) -> FrameFolder:
    """Scan a video's frame folder; a missing one, or an id that is no safe relative path (an
    event named ``../x`` in a tampered pickle), makes the video bad."""
    try:
        check_video_id(video_id)
    except UnsafePathError as exc:
        raise BadVideo(str(exc)) from None
    if not path.is_dir():
        raise BadVideo(f"video {video_id}: frame folder {path} is missing")
    return FrameFolder.scan(path)


def read_image(path: str, video_id: str, number: int) -> np.ndarray:
    """Decode one frame image as H x W x 3 uint8 RGB, or raise a ``DatasetError`` naming it.

    A JPEG without its end marker is refused before decoding: OpenCV would otherwise return a
    half-grey frame (and print to stderr) for a truncated file.
    """
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read frame {number} of video {video_id} ({exc})") from None
    raw = data.tobytes()
    truncated_jpeg = raw.startswith(_JPEG_START) and _JPEG_END not in raw[-64:]
    image = None if truncated_jpeg or not raw else cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: frame {number} of video {video_id} is not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class ImageFrames:
    """``read_frame`` for a video stored as image files (a class, so a Video pickles)."""

    def __init__(self, video_id: str, frames_root: str, frame_paths: dict[int, str]):
        self.video_id = video_id
        self.frames_root = frames_root
        self.frame_paths = frame_paths

    def __call__(self, number: int) -> np.ndarray:
        rel = self.frame_paths.get(int(number))
        if rel is None:
            raise DatasetError(f"video {self.video_id}: has no frame {number}")
        return read_image(os.path.join(self.frames_root, rel), self.video_id, int(number))


def image_video(
    video_id: str, frames_root: Path, frame_paths: dict[int, str], metadata: dict[str, Any]
) -> Video:
    """A ``Video`` whose frames are image files under ``frames_root``."""
    root = os.path.abspath(frames_root)
    return Video(
        id=video_id,
        frame_numbers=tuple(sorted(frame_paths)),
        read_frame=ImageFrames(video_id, root, frame_paths),
        metadata=metadata,
        frame_paths=frame_paths,
        frames_root=root,
    )
