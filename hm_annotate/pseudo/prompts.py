"""Prompt boxes from a file: where each athlete is on some frames of some videos.

CSV rows are ``video_id,frame,x0,y0,x1,y1[,object_id]`` in pixels (x1, y1 exclusive; a header
row starting with ``video_id`` is optional; object_id defaults to 1). JSON files are
``{"prompts": [{"video_id", "frame", "box": [x0, y0, x1, y1], "object_id"}]}`` and are checked
against ``schemas/prompts.schema.json``. A prompt restarts the tracker of its object on its
frame, so a file may hold one box per video or keyframes all along.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.pseudo import boxes
from hm_annotate.reporting import Reporter


class PromptError(HMError):
    """A prompts file that cannot be used, with the line or item at fault."""


@dataclass(frozen=True)
class Prompt:
    """One box for one object on one frame; ``where`` says where in the file it came from."""

    video_id: str
    frame: int
    box: tuple[float, float, float, float]
    object_id: int
    where: str


class Prompts:
    """Prompts of a file, looked up by video, then frame, then object."""

    def __init__(self, items: Iterable[Prompt], source: str, sha256: str) -> None:
        self.source = source
        self.sha256 = sha256
        self._by_video: dict[str, dict[int, dict[int, Prompt]]] = {}
        for p in items:
            frame = self._by_video.setdefault(p.video_id, {}).setdefault(p.frame, {})
            if p.object_id in frame:
                raise PromptError(
                    f"{p.where}: a second box for object {p.object_id} of video {p.video_id!r} "
                    f"frame {p.frame} (first at {frame[p.object_id].where})"
                )
            frame[p.object_id] = p

    def videos(self) -> list[str]:
        return sorted(self._by_video)

    def for_video(self, video_id: str) -> dict[int, dict[int, np.ndarray]]:
        """frame number -> object id -> box (float64 ``x0, y0, x1, y1``)."""
        return {
            f: {o: np.asarray(p.box, np.float64) for o, p in objs.items()}
            for f, objs in self._by_video.get(video_id, {}).items()
        }

    def object_ids(self, video_id: str) -> set[int]:
        return {o for objs in self._by_video.get(video_id, {}).values() for o in objs}

    def items(self, video_id: str) -> list[Prompt]:
        return [p for objs in self._by_video.get(video_id, {}).values() for p in objs.values()]

    def describe(self) -> str:
        return f"{self.source} (sha256 {self.sha256})"

    def check(
        self, videos: Sequence[Video], dataset: Iterable[str], frame_size: Callable[[Video], Any]
    ) -> None:
        """Refuse prompts for videos the dataset lacks, frames a video lacks, boxes off the frame.

        ``dataset`` holds every video id of the dataset (prompts for other shards are fine);
        ``videos`` are the ones about to be labelled, whose frames are checked;
        ``frame_size(video)`` gives ``(height, width)`` or None when the frame cannot be read
        (the pipeline reports that video later).
        """
        known = set(dataset)
        for vid in self.videos():
            if vid not in known:
                where = self.items(vid)[0].where
                raise PromptError(f"{where}: video {vid!r} is not in the dataset")
        for video in videos:
            items = self.items(video.id)
            if not items:
                continue
            frames = set(video.frame_numbers)
            for p in items:
                if p.frame not in frames:
                    first, last = video.frame_numbers[0], video.frame_numbers[-1]
                    raise PromptError(
                        f"{p.where}: video {video.id!r} has no frame {p.frame} (frames {first}..{last})"
                    )
            size = frame_size(video)
            if size is None:
                continue
            h, w = size
            for p in items:
                if boxes.area(boxes.clip(np.asarray(p.box), h, w)) <= 0:
                    raise PromptError(
                        f"{p.where}: box {list(p.box)} of video {video.id!r} frame {p.frame} "
                        f"lies outside the {w}x{h} frame"
                    )


def _box(values: Sequence[Any], where: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in values)
    except (TypeError, ValueError):
        raise PromptError(f"{where}: box {list(values)} is not four numbers x0, y0, x1, y1") from None
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise PromptError(f"{where}: box {list(values)} is not finite")
    if x1 <= x0 or y1 <= y0:
        raise PromptError(f"{where}: box {list(values)} is empty (needs x0 < x1 and y0 < y1)")
    return x0, y0, x1, y1


def _int(value: Any, what: str, where: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PromptError(f"{where}: {what} {value!r} is not an integer") from None
    if not number.is_integer():
        raise PromptError(f"{where}: {what} {value!r} is not an integer")
    return int(number)


def _from_csv(path: Path, text: str) -> list[Prompt]:
    out = []
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if line == 1 and row[0].strip() == "video_id":
            continue
        where = f"{path}:{line}"
        if len(row) not in (6, 7):
            raise PromptError(
                f"{where}: expected video_id,frame,x0,y0,x1,y1[,object_id], got {len(row)} fields"
            )
        obj = _int(row[6], "object_id", where) if len(row) == 7 else 1
        out.append(Prompt(row[0].strip(), _int(row[1], "frame", where), _box(row[2:6], where), obj, where))
    return out


def _from_json(path: Path, text: str) -> list[Prompt]:
    import jsonschema

    from hm_annotate.resources import resource_path

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PromptError(f"{path}: not valid JSON ({exc})") from None
    schema = json.loads(resource_path("schemas/prompts.schema.json").read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "top level"
        raise PromptError(f"{path}: {at}: {error.message}")
    return [
        Prompt(
            p["video_id"],
            int(p["frame"]),
            _box(p["box"], f"{path} prompts/{i}"),
            int(p.get("object_id", 1)),
            f"{path} prompts/{i}",
        )
        for i, p in enumerate(doc["prompts"])
    ]


def load_prompts(path: str | Path) -> Prompts:
    """Read a CSV or JSON prompts file (chosen by its suffix, ``.json`` or anything else)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{path}: cannot read the prompts file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PromptError(f"{path}: the prompts file is not UTF-8 text") from None
    items = _from_json(path, text) if path.suffix.lower() == ".json" else _from_csv(path, text)
    if not items:
        raise PromptError(f"{path}: the prompts file holds no prompt")
    return Prompts(items, str(path), hashlib.sha256(raw).hexdigest())


def _frame_size(video: Video) -> tuple[int, int] | None:
    """Size of a video's frames for checking prompt boxes; None when unreadable (reported later)."""
    try:
        return video.read_frame(video.frame_numbers[0]).shape[:2]
    except (HMError, OSError):
        return None


def check_for(
    path: str | Path,
    videos: Sequence[Video],
    *,
    dataset_format: str,
    data_root: str | Path,
    dataset: Sequence[Video] | None = None,
) -> Prompts:
    """The prompts of file ``path``, checked (``Prompts.check``) against the ``videos`` about to be
    labelled and against every video of the dataset, in any split: prompts may name videos of
    other shards and splits. ``dataset``: every video of the dataset when the caller has them
    already, else they are loaded here (their warnings were the caller's to report)."""
    prompts = load_prompts(path)
    if dataset is None:
        from hm_annotate.datasets import DatasetWarning, load_videos

        with Reporter().capture(DatasetWarning):
            dataset = load_videos(dataset_format, data_root, split="all")
    prompts.check(videos, [v.id for v in dataset], _frame_size)
    return prompts


def write_box_prompts(
    store_path: str | Path, out: str | Path, *, layer: str = "corrected", every_frame: bool = False
) -> int:
    """Write a prompts CSV with each object's box on its video's first frame with masks in a store
    layer (or on every such frame), and return how many boxes were written.

    The first frame stands in for an annotator drawing one box per athlete (how the paper
    prompted SAM): on a synthetic dataset from the exact masks, on real data from a store of a
    few hand-drawn keyframe masks. Every frame gives the segmenter perfect boxes, which measures
    its ceiling apart from the tracker's errors.
    """
    from hm_annotate import rle
    from hm_annotate.store import MaskStore

    rows = 0
    with MaskStore.open(store_path) as st, open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "frame", "x0", "y0", "x1", "y1", "object_id"])
        for vid in st.videos():
            data = st.read(vid, layer)
            masked = [i for i, objs in enumerate(data.masks) if objs]
            for i in masked if every_frame else masked[:1]:
                for (x, y, w, h), oid in zip(rle.bbox(data.masks[i]), data.object_ids[i], strict=True):
                    if w > 0 and h > 0:
                        box = [int(x), int(y), int(x + w), int(y + h)]
                        writer.writerow([vid, int(data.frames[i]), *box, oid])
                        rows += 1
    return rows
