"""FineDiving adapter: frames ``FINADiving_MTL_256s/<event>/<instance>/<NNNNN>.jpg``.

Annotations (``Annotations/``): ``train_split.pkl`` / ``test_split.pkl`` list ``(event,
instance)`` keys; ``FineDiving_coarse_annotation.pkl`` gives each key's ``start_frame`` /
``end_frame`` (the frame numbers in the file names), ``action_type``, ``dive_score``,
``difficulty`` and ``judge_scores``; ``FineDiving_fine-grained_annotation.pkl`` gives
``frames_labels`` and ``steps_transit_frames`` (relative to ``start_frame``). All four are
required. ``fine-grained_annotation_aqa.pkl`` repeats the fine-grained fields and is not read.

Video id ``"<event>/<instance>"``. A video's frames are the images of its folder numbered
``start_frame..end_frame``. Keys present in the annotations but in no split are not listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hm_annotate.datasets.annotations import (
    load_pickle,
    number_list,
    require_mapping,
    scalar,
    split_members,
    video_entry,
)
from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.frames import annotated_clip, frame_folder, image_video
from hm_annotate.datasets.problems import BadVideo, build_each, report

FRAMES_DIR = "FINADiving_MTL_256s"
ANNOTATIONS_DIR = "Annotations"
SPLIT_FILES = {"train": "train_split.pkl", "test": "test_split.pkl"}
COARSE_FILE = "FineDiving_coarse_annotation.pkl"
FINE_FILE = "FineDiving_fine-grained_annotation.pkl"
_COARSE_FIELDS = ("action_type", "start_frame", "end_frame", "dive_score", "difficulty")


def video_id(key: tuple[str, int]) -> str:
    """``"<event>/<instance>"`` for a FineDiving ``(event, instance)`` key."""
    return f"{key[0]}/{key[1]}"


def _split_keys(path: Path) -> list[tuple[str, int]]:
    entries = load_pickle(path)
    keys = []
    for i, entry in enumerate(entries if isinstance(entries, (list, tuple)) else [entries]):
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            kind = type(entry).__name__
            raise DatasetError(f"{path}: entry {i} is a {kind}, not an (event, instance) pair")
        try:
            keys.append((scalar(entry[0], str, "event"), scalar(entry[1], int, "instance")))
        except BadVideo as exc:
            raise DatasetError(f"{path}: entry {i}: {exc}") from None
    return keys


def _keyed(annotations: dict, path: Path) -> dict[tuple[str, int], Any]:
    """Annotations re-keyed as ``(str, int)``, so keys match whatever types each file used."""
    out = {}
    for k, v in require_mapping(annotations, path).items():
        try:
            if not (isinstance(k, tuple) and len(k) == 2):
                raise BadVideo(f"key {type(k).__name__} is not an (event, instance) pair")
            out[(scalar(k[0], str, "event"), scalar(k[1], int, "instance"))] = v
        except BadVideo as exc:
            raise DatasetError(f"{path}: {exc}") from None
    return out


def load(data_root: str | Path, split: str = "all", strict: bool = False) -> list[Video]:
    """The FineDiving videos of ``split`` under ``data_root``, in (event, instance) order."""
    root = Path(data_root)
    ann_dir = root / ANNOTATIONS_DIR
    splits = {name: _split_keys(ann_dir / file) for name, file in SPLIT_FILES.items()}
    coarse = _keyed(load_pickle(ann_dir / COARSE_FILE), ann_dir / COARSE_FILE)
    fine = _keyed(load_pickle(ann_dir / FINE_FILE), ann_dir / FINE_FILE)
    frames_root = root / FRAMES_DIR

    def build(member: tuple[tuple[str, int], str]) -> Video:
        key, split_name = member
        vid = video_id(key)
        entry = video_entry(coarse, key, vid, ann_dir / COARSE_FILE, _COARSE_FIELDS)
        where = f"video {vid}: {ann_dir / COARSE_FILE}"
        start = scalar(entry["start_frame"], int, f"{where}: start_frame")
        end = scalar(entry["end_frame"], int, f"{where}: end_frame")
        folder = frame_folder(vid, frames_root / vid)
        frame_paths = annotated_clip(vid, folder, vid, start, end, strict)
        event = key[0]
        metadata: dict[str, Any] = {
            "action_type": scalar(entry["action_type"], str, f"{where}: action_type"),
            "score": scalar(entry["dive_score"], float, f"{where}: dive_score"),
            "difficulty": scalar(entry["difficulty"], float, f"{where}: difficulty"),
            "split": split_name,
            "event": event,
            "sport": "diving",
            "athletes": 2 if "synchro" in event.lower() else 1,
            "start_frame": start,
            "end_frame": end,
        }
        if "judge_scores" in entry:
            metadata["judge_scores"] = number_list(entry["judge_scores"], float, f"{where}: judge_scores")
        fine_entry = fine.get(key)
        fine_where = f"video {vid}: {ann_dir / FINE_FILE}"
        if not isinstance(fine_entry, dict) or "steps_transit_frames" not in fine_entry:
            report(f"video {vid}: no step transitions in {ann_dir / FINE_FILE}", strict, "listed without")
        else:
            transits = fine_entry["steps_transit_frames"]
            transits = number_list(transits, int, f"{fine_where}: steps_transit_frames")
            metadata["step_transitions"] = [start + t for t in transits]
            if "frames_labels" in fine_entry:
                labels = fine_entry["frames_labels"]
                metadata["frames_labels"] = number_list(labels, int, f"{fine_where}: frames_labels")
        return image_video(vid, frames_root, frame_paths, metadata)

    members = sorted(split_members(splits, split, strict, video_id))
    return build_each(members, build, strict)
