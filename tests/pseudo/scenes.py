"""Tiny drawn videos with exact masks: a coloured body that moves, turns and changes shape over
a textured background that pans (so trackers, detectors and segmenters see camera motion)."""

from __future__ import annotations

import cv2
import numpy as np

from hm_annotate.datasets.base import DatasetError, Video


def scene(
    video_id: str = "v/1",
    frames: int = 24,
    height: int = 128,
    width: int = 176,
    seed: int = 0,
    athletes: int = 1,
    pan: float = 1.5,
    first: int = 100,
    bad_frame: int | None = None,
    jump: tuple[int, int] | None = None,
) -> tuple[Video, np.ndarray]:
    """A Video whose frames are drawn on demand, and its F x H x W uint8 ground-truth masks.

    ``bad_frame`` (a frame number) makes reading that frame fail as an unreadable file would;
    ``jump=(i, dx)`` moves the bodies ``dx`` pixels sideways from the i-th frame on (a cut).
    """
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.integers(40, 200, (height, width * 2, 3), dtype=np.uint8), (0, 0), 3)
    colours = [(220, 60, 50), (40, 200, 230)]
    numbers = tuple(range(first, first + frames))
    images, gts = {}, []
    for i, n in enumerate(numbers):
        x0 = int(i * pan)
        img = big[:, x0 : x0 + width].copy()
        gt = np.zeros((height, width), np.uint8)
        for a in range(athletes):
            cx = width * (0.35 + 0.3 * a) + 20 * np.sin(i / 6 + a)
            if jump is not None and i >= jump[0]:
                cx += jump[1]
            cy = height * 0.3 + i * (height * 0.4 / frames)
            axes = (int(9 + 3 * np.sin(i / 4)), int(22 - 6 * np.sin(i / 4)))
            body = np.zeros_like(gt)
            cv2.ellipse(body, (int(cx), int(cy)), axes, (i * 9 + 40 * a) % 180, 0, 360, 1, -1)
            cv2.circle(body, (int(cx + 4), int(cy - axes[1])), 6, 1, -1)
            img[body == 1] = colours[a]
            gt |= body
        images[n] = img
        gts.append(gt)

    def read(n: int) -> np.ndarray:
        if n == bad_frame:
            raise DatasetError(
                f"/data/{video_id}/{n:05d}.jpg: frame {n} of video {video_id} is not a readable image"
            )
        return images[n]

    meta = {"athletes": athletes, "action_type": "107b", "split": "train"}
    return Video(video_id, numbers, read, meta), np.stack(gts)


def first_box(gt: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(gt)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]
