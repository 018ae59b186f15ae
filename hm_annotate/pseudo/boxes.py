"""Small box helpers; a box is ``[x0, y0, x1, y1]`` in pixels (x1, y1 exclusive), float."""

from __future__ import annotations

import numpy as np


def as_box(values) -> np.ndarray:
    """A float64 box from any 4-sequence."""
    return np.asarray(values, dtype=np.float64).reshape(4)


def area(box: np.ndarray) -> float:
    """Area; zero for degenerate boxes."""
    return float(max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0))


def clip(box: np.ndarray, height: int, width: int) -> np.ndarray:
    """The part of ``box`` inside a ``height`` x ``width`` frame (may be degenerate)."""
    return np.array(
        [
            np.clip(box[0], 0, width),
            np.clip(box[1], 0, height),
            np.clip(box[2], 0, width),
            np.clip(box[3], 0, height),
        ]
    )


def inside_fraction(box: np.ndarray, height: int, width: int) -> float:
    """How much of the box lies inside the frame (0 when it left it or is degenerate)."""
    a = area(box)
    return area(clip(box, height, width)) / a if a > 0 else 0.0


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    inter = area(np.array([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]))
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def expand(box: np.ndarray, fraction: float) -> np.ndarray:
    """Grow a box by ``fraction`` of its width/height on every side."""
    return _outset(box, (box[2] - box[0]) * fraction, (box[3] - box[1]) * fraction)


def pad(box: np.ndarray, fraction: float) -> np.ndarray:
    """Grow a box on every side by ``fraction`` of its width/height or of its mean side (the square
    root of its area), whichever is larger: a diver rotating out of a flat box (a pike seen side
    on) needs room in the short direction too, which a fraction of the short side does not give."""
    w, h = box[2] - box[0], box[3] - box[1]
    mean_side = float(np.sqrt(max(w * h, 0.0)))
    return _outset(box, fraction * max(w, mean_side), fraction * max(h, mean_side))


def _outset(box: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return np.array([box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy])


def center(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def diagonal(box: np.ndarray) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def of_mask(mask: np.ndarray) -> np.ndarray | None:
    """The tight box of a mask's foreground, None when it is empty."""
    ys = np.flatnonzero(mask.any(axis=1))
    if ys.size == 0:
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], dtype=np.float64)


def to_xywh(box: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """Integer ``(x, y, w, h)`` inside the frame, at least 1 x 1 (OpenCV's rectangle convention)."""
    c = clip(np.round(box), height, width)
    x0 = int(min(c[0], width - 1))
    y0 = int(min(c[1], height - 1))
    return x0, y0, max(int(c[2]) - x0, 1), max(int(c[3]) - y0, 1)


def from_xywh(rect) -> np.ndarray:
    x, y, w, h = (float(v) for v in rect)
    return np.array([x, y, x + w, y + h])
