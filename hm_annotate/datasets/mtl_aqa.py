"""MTL-AQA adapter: clips of whole competition videos ``new_total_frames_256s/<video:02d>/<%08d>.jpg``.

``info/final_annotations_dict_with_dive_number.pkl`` maps ``(video, clip)`` to the clip's
``start_frame`` / ``end_frame`` in its video's frame numbering, ``final_score``,
``difficulty``, ``judge_scores``, ``dive_number`` (e.g. ``'407C'``), ``position``,
``armstand``, ``rotation_type``, ``ss_no`` and ``tw_no``; ``info/train_split_0.pkl`` and
``info/test_split_0.pkl`` list the keys of each split.

Video id ``"<video:02d>/<clip>"``. ``action_type`` is the dive number lowercased
(``'407c'``), matching FineDiving's spelling so action types compare across datasets.
``event`` is the competition video's folder (``"01"``). The annotations carry no
synchronised-diving flag, so ``athletes`` is 1 unless an entry has an ``athletes`` field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hm_annotate.datasets.annotations import (
    load_pickle,
    number_list,
    plain,
    require_mapping,
    scalar,
    split_members,
    video_entry,
)
from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.frames import FrameFolder, annotated_clip, frame_folder, image_video
from hm_annotate.datasets.problems import BadVideo, build_each

FRAMES_DIR = "new_total_frames_256s"
INFO_DIR = "info"
ANNOTATION_FILE = "final_annotations_dict_with_dive_number.pkl"
SPLIT_FILES = {"train": "train_split_0.pkl", "test": "test_split_0.pkl"}
_REQUIRED = ("start_frame", "end_frame", "final_score", "difficulty", "dive_number")
_CATEGORICAL = ("position", "armstand", "rotation_type", "ss_no", "tw_no")


def video_id(key: tuple[int, int]) -> str:
    """``"<video:02d>/<clip>"`` for an MTL-AQA ``(video, clip)`` key."""
    return f"{key[0]:02d}/{key[1]}"


def _key(entry: Any, path: Path, where: str) -> tuple[int, int]:
    try:
        video, clip = entry
        return scalar(video, int, "video"), scalar(clip, int, "clip")
    except (TypeError, ValueError, BadVideo):
        raise DatasetError(f"{path}: {where} is not a (video, clip) pair of integers") from None


def load(data_root: str | Path, split: str = "all", strict: bool = False) -> list[Video]:
    """The MTL-AQA clips of ``split`` under ``data_root``, in (video, clip) order."""
    root = Path(data_root)
    info = root / INFO_DIR
    annotations_path = info / ANNOTATION_FILE
    annotations = {
        _key(k, annotations_path, f"key {i}"): v
        for i, (k, v) in enumerate(require_mapping(load_pickle(annotations_path), annotations_path).items())
    }
    splits = {
        name: [_key(k, info / file, f"entry {i}") for i, k in enumerate(load_pickle(info / file))]
        for name, file in SPLIT_FILES.items()
    }
    frames_root = root / FRAMES_DIR
    folders: dict[int, FrameFolder] = {}  # each whole-video folder is scanned once for all its clips

    def build(member: tuple[tuple[int, int], str]) -> Video:
        key, split_name = member
        vid = video_id(key)
        entry = video_entry(annotations, key, vid, annotations_path, _REQUIRED)
        video_dir = f"{key[0]:02d}"
        if key[0] not in folders:
            folders[key[0]] = frame_folder(vid, frames_root / video_dir)
        where = f"video {vid}: {annotations_path}"
        start = scalar(entry["start_frame"], int, f"{where}: start_frame")
        end = scalar(entry["end_frame"], int, f"{where}: end_frame")
        frame_paths = annotated_clip(vid, folders[key[0]], video_dir, start, end, strict)
        metadata: dict[str, Any] = {
            "action_type": scalar(entry["dive_number"], str, f"{where}: dive_number").lower(),
            "score": scalar(entry["final_score"], float, f"{where}: final_score"),
            "difficulty": scalar(entry["difficulty"], float, f"{where}: difficulty"),
            "split": split_name,
            "event": video_dir,
            "sport": "diving",
            "athletes": scalar(entry.get("athletes", 1), int, f"{where}: athletes"),
            "start_frame": start,
            "end_frame": end,
        }
        if "judge_scores" in entry:
            metadata["judge_scores"] = number_list(entry["judge_scores"], float, f"{where}: judge_scores")
        metadata.update({f: plain(entry[f], f"{where}: {f}") for f in _CATEGORICAL if f in entry})
        return image_video(vid, frames_root, frame_paths, metadata)

    return build_each(sorted(split_members(splits, split, strict, video_id)), build, strict)
