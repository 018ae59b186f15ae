"""AQA-7 adapter: frames ``Seven/<class>-out/<%03d>/img_%05d.jpg``.

Splits ``Split_4/split_4_{train,test}_list.mat`` hold ``consolidated_{train,test}_list``, one
row per sample: ``[class index (1-based), sample index, score]``. ``Split_4`` is looked for
under the data root and under ``Seven/`` (where the CoRe code keeps it); the data root may
also be the ``Seven`` folder itself.

Video id ``"<class>/<sample:03d>"``; all numbered images of the sample folder are its frames.
``action_type`` and ``event`` are the class name; the sync diving classes have two athletes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hm_annotate.datasets.annotations import load_mat_array, split_members
from hm_annotate.datasets.base import DatasetError, Video
from hm_annotate.datasets.frames import frame_folder, image_video
from hm_annotate.datasets.problems import BadVideo, build_each

# Class order of the split files' 1-based class index; trampoline (7) is in no common split.
CLASSES = ("diving", "gym_vault", "ski_big_air", "snowboard_big_air", "sync_diving_3m", "sync_diving_10m",
           "trampoline")
SPORTS = {"diving": "diving", "gym_vault": "gymnastics", "ski_big_air": "skiing",
          "snowboard_big_air": "snowboarding", "sync_diving_3m": "diving", "sync_diving_10m": "diving",
          "trampoline": "trampoline"}
SPLIT_VARIABLES = {"train": "consolidated_train_list", "test": "consolidated_test_list"}


def _layout(root: Path) -> tuple[Path, Path]:
    """(folder holding ``<class>-out`` folders, folder holding the split files)."""
    seven = root / "Seven"
    frames_root = seven if seven.is_dir() else root
    for split_dir in (root / "Split_4", seven / "Split_4"):
        if split_dir.is_dir():
            return frames_root, split_dir
    return frames_root, root / "Split_4"


def _rows(path: Path, variable: str) -> list[tuple[tuple[int, int], float]]:
    """``((class index, sample), score)`` per row of a split file."""
    array = load_mat_array(path, variable)
    if array.ndim != 2 or array.shape[1] < 3:
        raise DatasetError(f"{path}: {variable} has shape {array.shape}, not rows [class, sample, score]")
    return [((int(c), int(s)), float(score)) for c, s, score in array[:, :3].tolist()]


def video_id(key: tuple[int, int]) -> str:
    """``"<class>/<sample:03d>"`` for a ``(class index (1-based), sample)`` key."""
    class_idx, sample = key
    name = CLASSES[class_idx - 1] if 1 <= class_idx <= len(CLASSES) else f"class{class_idx}"
    return f"{name}/{sample:03d}"


def load(data_root: str | Path, split: str = "all", strict: bool = False) -> list[Video]:
    """The AQA-7 samples of ``split`` under ``data_root``, in (class, sample) order."""
    frames_root, split_dir = _layout(Path(data_root))
    rows = {name: _rows(split_dir / f"split_4_{name}_list.mat", var) for name, var in SPLIT_VARIABLES.items()}
    scores: dict[tuple[int, int], float] = {}
    for split_rows in rows.values():
        for key, score in split_rows:
            scores.setdefault(key, score)

    def build(member: tuple[tuple[int, int], str]) -> Video:
        (class_idx, sample), split_name = member
        vid = video_id((class_idx, sample))
        if not 1 <= class_idx <= len(CLASSES):
            raise BadVideo(f"video {vid}: class index {class_idx} is not an AQA-7 class (1..{len(CLASSES)})")
        name = CLASSES[class_idx - 1]
        rel = f"{name}-out/{sample:03d}"
        folder = frame_folder(vid, frames_root / rel)
        if not folder.names:
            raise BadVideo(f"video {vid}: frame folder {folder.path} holds no numbered images")
        frame_paths = {n: f"{rel}/{f}" for n, f in zip(folder.numbers.tolist(), folder.names)}
        metadata: dict[str, Any] = {
            "action_type": name,
            "score": scores[(class_idx, sample)],
            "split": split_name,
            "event": name,
            "sport": SPORTS[name],
            "athletes": 2 if name.startswith("sync_") else 1,
        }
        return image_video(vid, frames_root, frame_paths, metadata)

    splits = {name: [key for key, _ in split_rows] for name, split_rows in rows.items()}
    return build_each(sorted(split_members(splits, split, strict, video_id)), build, strict)
