"""Generic adapter: a folder of video files (mp4/avi/mov/mkv) and/or of frame folders.

Every video file under the data root is a video, frames numbered 0..n-1 as decoded by
OpenCV; every folder holding numbered images is a video whose frame numbers are the last run
of digits in each image name. The id is the path relative to the data root, without the
file extension (``"clips/dive1"`` for ``clips/dive1.mp4``).

Optional metadata comes from a CSV (``metadata_csv``): a ``video_id`` column plus any columns,
numbers parsed as int or float. A ``split`` column lets ``split="train"`` / ``"test"`` select
videos; without one, only ``split="all"`` lists anything.
"""

from __future__ import annotations

import csv
import io
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.frames import FrameFolder, image_video
from hm_annotate.datasets.problems import BadVideo, build_each, report
from hm_annotate.frame_names import is_image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
_OPEN_LIMIT = 4  # decoders kept open at once across all video files
_open_readers: OrderedDict[int, VideoFileFrames] = OrderedDict()


class VideoFileFrames:
    """``read_frame`` over a video file that decodes sequential reads without seeking.

    The decoder stays open between calls and remembers its position: reading frame n+1 after
    n is one decode, a short jump forward decodes through, anything else seeks. At most
    ``_OPEN_LIMIT`` decoders stay open process-wide (least recently used are closed). Not for
    concurrent use by several threads; a pickled copy (a DataLoader worker) reopens the file.
    """

    SEEK_AFTER = 48  # a forward jump longer than this seeks instead of decoding through

    def __init__(self, video_id: str, path: str, count: int):
        self.video_id = video_id
        self.path = path
        self.count = count
        self._cap: Any = None
        self._next = 0

    def __call__(self, number: int) -> np.ndarray:
        import cv2

        number = int(number)
        if not 0 <= number < self.count:
            raise DatasetError(f"video {self.video_id}: has no frame {number} (frames 0..{self.count - 1})")
        cap = self._capture()
        if not self._next <= number <= self._next + self.SEEK_AFTER:
            cap.set(cv2.CAP_PROP_POS_FRAMES, number)
            self._next = number
        ok = True
        while ok and self._next < number:
            ok = cap.grab()
            self._next += 1
        ok, bgr = cap.read() if ok else (False, None)
        if not ok:
            self.release()
            raise DatasetError(f"{self.path}: cannot decode frame {number} of video {self.video_id}")
        self._next = number + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _capture(self) -> Any:
        import cv2

        _open_readers.pop(id(self), None)
        _open_readers[id(self)] = self
        if self._cap is None:
            cap = cv2.VideoCapture(self.path)
            if not cap.isOpened():
                _open_readers.pop(id(self), None)
                raise DatasetError(f"{self.path}: cannot open video {self.video_id}")
            self._cap, self._next = cap, 0
            while len(_open_readers) > _OPEN_LIMIT:
                _open_readers.popitem(last=False)[1].release()
        return self._cap

    def release(self) -> None:
        """Close the decoder (reopened on the next read)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        _open_readers.pop(id(self), None)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cap": None, "_next": 0}


def _probe(video_id: str, path: Path) -> tuple[int, float]:
    """(frame count, fps) of a video file, without decoding it all when the header is right."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise BadVideo(f"video {video_id}: {path} cannot be opened as a video")
        count, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), float(cap.get(cv2.CAP_PROP_FPS))
        header_right = False
        if count > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, count - 1)
            header_right = cap.grab()
        if count <= 0 or not header_right:  # the header's count is an estimate: count by decoding
            cap.release()
            cap = cv2.VideoCapture(str(path))
            count = 0
            while cap.grab():
                count += 1
    finally:
        cap.release()
    if count == 0:
        raise BadVideo(f"video {video_id}: {path} holds no decodable frames")
    return count, fps


def _value(text: str) -> Any:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def _csv_id(text: str) -> str:
    vid = text.strip().replace("\\", "/")
    stem, ext = os.path.splitext(vid)
    return stem if ext.lower() in VIDEO_EXTENSIONS else vid


def read_metadata_csv(path: str | Path) -> dict[str, dict[str, Any]]:
    """``video id -> {column: value}`` from a CSV with a ``video_id`` column; empty cells omitted."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: metadata file not found") from None
    reader = csv.DictReader(io.StringIO(text))
    if "video_id" not in (reader.fieldnames or []):
        raise DatasetError(f"{path}: has no video_id column (columns: {', '.join(reader.fieldnames or [])})")
    rows: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(reader, start=2):
        vid = _csv_id(row.pop("video_id") or "")
        if not vid:
            raise DatasetError(f"{path}: line {line} has an empty video_id")
        if vid in rows:
            raise DatasetError(f"{path}: line {line} repeats video {vid}")
        rows[vid] = {k.strip(): _value(v.strip()) for k, v in row.items() if k and v and v.strip()}
    return rows


def _sources(root: Path) -> list[tuple[str, Path, bool]]:
    """``(id, path, is_frame_folder)`` for every video file and numbered-image folder, sorted by id."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        for name in filenames:
            stem, ext = os.path.splitext(name)
            if ext.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                found.append((stem if rel_dir == "." else f"{rel_dir}/{stem}", here / name, False))
        if any(is_image(n) for n in filenames):
            found.append((root.name if rel_dir == "." else rel_dir, here, True))
    return sorted(found, key=lambda item: item[0])


def load(
    data_root: str | Path, split: str = "all", strict: bool = False, metadata_csv: str | Path | None = None
) -> list[Video]:
    """The videos under ``data_root`` with the metadata of ``metadata_csv``, selected by ``split``."""
    root = Path(data_root)
    extra = read_metadata_csv(metadata_csv) if metadata_csv is not None else {}
    sources, seen = [], set()
    for vid, path, is_folder in _sources(root):
        if vid in seen:
            report(f"video {vid}: {path} has the same id as another video under {root}", strict, "skipped")
            continue
        seen.add(vid)
        sources.append((vid, path, is_folder))
    for vid in sorted(extra.keys() - seen):
        message = f"{metadata_csv}: video {vid} has no video file or frame folder under {root}"
        report(message, strict, "row ignored")

    def build(source: tuple[str, Path, bool]) -> Video | None:
        vid, path, is_folder = source
        metadata = dict(extra.get(vid, {}))
        if split != "all" and metadata.get("split") != split:
            return None
        if is_folder:
            folder = FrameFolder.scan(path)
            if folder.unnumbered:
                shown = ", ".join(folder.unnumbered[:3])
                raise BadVideo(f"video {vid}: images in {path} without a frame number of their own ({shown})")
            rel = path.relative_to(root).as_posix()
            prefix = "" if rel == "." else f"{rel}/"
            frame_paths = {n: prefix + f for n, f in zip(folder.numbers.tolist(), folder.names)}
            return image_video(vid, root, frame_paths, metadata)
        count, fps = _probe(vid, path)
        metadata.setdefault("fps", fps)
        return Video(id=vid, frame_numbers=tuple(range(count)),
                     read_frame=VideoFileFrames(vid, os.path.abspath(path), count), metadata=metadata)

    return build_each(sources, build, strict)
