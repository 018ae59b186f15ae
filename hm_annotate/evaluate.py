"""Score predicted masks against reference masks with the DAVIS measures (J, F, J&F).

The measures follow the davis2017-evaluation code so figures are comparable with published
video-object-segmentation numbers:

* J (region similarity) is the Jaccard index; two empty masks score 1.
* F (contour accuracy) is the F-measure of boundary precision and recall, where a boundary pixel
  counts as matched when a boundary pixel of the other mask lies within a disk of radius
  ``ceil(bound_th * image diagonal)`` (``bound_th`` >= 1 is taken as pixels). Two empty masks score 1,
  one empty mask scores 0.
* Per video: mean, recall (fraction of frames scoring > 0.5) and decay (mean of the first quarter of
  the frames minus mean of the last quarter, four overlapping bins as in DAVIS ``db_statistics``).
* Overall figures are means over videos of the per-video figures (DAVIS averages per sequence, not
  per frame), and ``JF_mean`` is the mean of ``J_mean`` and ``F_mean``.

What is compared is the human-centric foreground: the union of a frame's objects. Frames of the
reference that the prediction lacks count as empty predictions (reported as ``missing_frames``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.store import MaskStore

DEFAULT_BOUND_TH = 0.008


class EvaluateError(HMError):
    """The two stores cannot be compared (missing layer, mismatched frame sizes, ...)."""


def _as_bool(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask) != 0


def _check_shapes(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference shape {gt.shape}")
    if pred.ndim not in (2, 3):
        raise ValueError(f"expected H x W or N x H x W masks, got shape {pred.shape}")


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float | np.ndarray:
    """Region similarity J (intersection over union) of H x W masks, or per frame of N x H x W."""
    p, g = _as_bool(pred), _as_bool(gt)
    _check_shapes(p, g)
    inter = np.count_nonzero(p & g, axis=(-2, -1))
    union = np.count_nonzero(p | g, axis=(-2, -1))
    j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(j) if p.ndim == 2 else j.astype(np.float64)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary of H x W (or N x H x W) masks, as DAVIS' ``seg2bmap`` draws it.

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour; the
    image is extended by repeating its last row and column, so foreground touching the right or
    bottom edge is not a boundary there (exactly what seg2bmap's edge rules amount to).
    """
    m = _as_bool(mask)
    pad = [(0, 0)] * (m.ndim - 2) + [(0, 1), (0, 1)]
    ext = np.pad(m, pad, mode="edge")
    right = ext[..., :-1, 1:]
    down = ext[..., 1:, :-1]
    down_right = ext[..., 1:, 1:]
    return (m != right) | (m != down) | (m != down_right)


def disk(radius: int) -> np.ndarray:
    """Disk structuring element (uint8, 2r+1 square): offsets with dy^2 + dx^2 <= r^2."""
    r = int(radius)
    yy, xx = np.ogrid[-r : r + 1, -r : r + 1]
    return (yy * yy + xx * xx <= r * r).astype(np.uint8)


def bound_pixels(shape: Sequence[int], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """Matching tolerance in pixels: ``bound_th`` if >= 1, else ``ceil(bound_th * diagonal)``."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def _f_from_counts(
    n_pred: np.ndarray, n_gt: np.ndarray, pred_hit: np.ndarray, gt_hit: np.ndarray
) -> np.ndarray:
    # DAVIS conventions: no predicted boundary -> precision 1, no reference boundary -> recall 1;
    # the hit counts are 0 when the other side has no boundary, so one empty side gives F = 0
    precision = np.where(n_pred == 0, 1.0, pred_hit / np.maximum(n_pred, 1))
    recall = np.where(n_gt == 0, 1.0, gt_hit / np.maximum(n_gt, 1))
    total = precision + recall
    return np.where(total == 0, 0.0, 2 * precision * recall / np.where(total == 0, 1.0, total))


def boundary_f(pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH) -> float | np.ndarray:
    """Contour accuracy F of H x W masks, or per frame of N x H x W masks."""
    import cv2

    p, g = _as_bool(pred), _as_bool(gt)
    _check_shapes(p, g)
    kernel = disk(bound_pixels(p.shape[-2:], bound_th))
    frames_p = p.reshape(-1, *p.shape[-2:])
    frames_g = g.reshape(-1, *g.shape[-2:])
    f = np.array([_frame_f(a, b, kernel, cv2.dilate) for a, b in zip(frames_p, frames_g)], np.float64)
    return float(f[0]) if p.ndim == 2 else f


def _frame_f(pred: np.ndarray, gt: np.ndarray, kernel: np.ndarray, dilate) -> float:
    """F of one frame, computed on the box around both masks (athletes are small in the frame).

    The box keeps one background row and column on every side that the image has, which is all the
    boundary rule looks at, so the boundaries and matches are exactly those of the full frame.
    """
    either = pred | gt
    rows = np.flatnonzero(either.any(axis=1))
    if rows.size == 0:
        return 1.0  # both empty
    cols = np.flatnonzero(either.any(axis=0))
    y0, y1 = max(rows[0] - 1, 0), rows[-1] + 2
    x0, x1 = max(cols[0] - 1, 0), cols[-1] + 2
    bp = boundary_map(pred[y0:y1, x0:x1])
    bg = boundary_map(gt[y0:y1, x0:x1])
    n_pred, n_gt = np.count_nonzero(bp), np.count_nonzero(bg)
    pred_hit = gt_hit = 0
    if n_pred and n_gt:
        pred_hit = np.count_nonzero(bp & (dilate(bg.view(np.uint8), kernel) != 0))
        gt_hit = np.count_nonzero(bg & (dilate(bp.view(np.uint8), kernel) != 0))
    return float(_f_from_counts(np.array(n_pred), np.array(n_gt), np.array(pred_hit), np.array(gt_hit)))


def statistics(per_frame_values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """(mean, recall, decay) of one video's per-frame J or F, as DAVIS ``db_statistics``.

    Recall is the fraction of frames above 0.5. Decay splits the frames into four bins at
    ``round(linspace(1, n, 5)) - 1`` (each bin includes its right edge, so neighbours share a frame)
    and subtracts the last bin's mean from the first's. NaN values are ignored in means. DAVIS casts
    the bin edges to uint8, which wraps for sequences over 256 frames; plain integers are used here,
    so results agree with DAVIS up to 256 frames and stay correct beyond.
    """
    v = np.asarray(per_frame_values, dtype=np.float64).ravel()
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = _nanmean(v)
    recall = float(np.mean(v > 0.5))
    edges = (np.round(np.linspace(1, v.size, 5) + 1e-10) - 1).astype(np.int64)
    first = v[edges[0] : edges[1] + 1]
    last = v[edges[3] : edges[4] + 1]
    decay = _nanmean(first) - _nanmean(last)
    return mean, recall, decay


def _nanmean(v: np.ndarray) -> float:
    finite = v[~np.isnan(v)]
    return float(finite.mean()) if finite.size else math.nan


# ----------------------------------------------------------------------------- stores

_MEASURES = ("J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay", "JF_mean")


def score_video(pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH) -> dict[str, float]:
    """The DAVIS figures of one video from aligned F x H x W predicted and reference masks."""
    j_mean, j_recall, j_decay = statistics(jaccard(pred, gt))
    f_mean, f_recall, f_decay = statistics(boundary_f(pred, gt, bound_th))
    return {
        "J_mean": j_mean,
        "J_recall": j_recall,
        "J_decay": j_decay,
        "F_mean": f_mean,
        "F_recall": f_recall,
        "F_decay": f_decay,
        "JF_mean": (j_mean + f_mean) / 2,
    }


def aggregate(per_video: dict[str, dict]) -> dict[str, float | int]:
    """Means over videos of the per-video figures (DAVIS' overall numbers), plus counts."""
    rows = list(per_video.values())
    out: dict[str, float | int] = {
        k: _nanmean(np.array([r[k] for r in rows], np.float64)) for k in _MEASURES
    }
    out["JF_mean"] = (out["J_mean"] + out["F_mean"]) / 2
    out["videos"] = len(rows)
    out["frames"] = sum(r["frames"] for r in rows)
    out["missing_frames"] = sum(r["missing_frames"] for r in rows)
    return out


def _aligned_prediction(
    pred_store: MaskStore, video_id: str, layer: str, ref_frames: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, int]:
    """PRED's union masks on the reference frames (empty where PRED lacks a frame) and the count
    of such missing frames."""
    out = np.zeros((len(ref_frames), *size), np.uint8)
    if not pred_store.has(video_id, layer):
        return out, len(ref_frames)
    pred_size = pred_store.size(video_id)
    if tuple(pred_size) != tuple(size):
        raise EvaluateError(
            f"{pred_store.path}: video {video_id}: predicted masks are {pred_size[0]}x{pred_size[1]}, "
            f"reference masks {size[0]}x{size[1]}"
        )
    data = pred_store.read(video_id, layer)
    pos = np.searchsorted(data.frames, ref_frames)
    found = pos < len(data.frames)
    found[found] = data.frames[pos[found]] == ref_frames[found]
    if found.any():
        out[found] = rle.decode_batch([data.union(int(i)) for i in pos[found]])
    return out, int((~found).sum())


def evaluate_stores(
    pred_path: str | Path,
    ref_path: str | Path,
    pred_layer: str = "pseudo",
    ref_layer: str = "corrected",
    videos: Sequence[str] | None = None,
    *,
    bound_th: float = DEFAULT_BOUND_TH,
    progress: bool = False,
) -> dict:
    """Compare PRED's layer with REF's layer on every reference frame; DAVIS figures as a dict.

    Keys: the overall ``J_mean``, ``J_recall``, ``J_decay``, ``F_*``, ``JF_mean`` (means over
    videos), ``videos``, ``frames``, ``missing_frames`` (reference frames PRED lacks, scored as
    empty predictions), ``per_video`` (id -> figures, ``action_type``, counts) and
    ``per_action_type`` (action type -> the same means over its videos).
    """
    from tqdm import tqdm

    with MaskStore.open(ref_path) as ref, MaskStore.open(pred_path) as pred:
        ids = _videos_to_score(ref, ref_layer, videos)
        per_video: dict[str, dict] = {}
        for vid in tqdm(ids, desc="evaluate", unit="video", disable=None if progress else True):
            ref_frames, gt = ref.masks(vid, ref_layer)
            if not len(ref_frames):
                continue
            guess, missing = _aligned_prediction(pred, vid, pred_layer, ref_frames, gt.shape[1:])
            per_video[vid] = {
                "action_type": _action_type(vid, ref, pred),
                "frames": len(ref_frames),
                "missing_frames": missing,
                **score_video(guess, gt, bound_th),
            }
    if not per_video:
        raise EvaluateError(f"{ref_path}: no reference frames in layer {ref_layer!r} to evaluate")
    by_type: dict[str, dict[str, dict]] = {}
    for vid, row in per_video.items():
        by_type.setdefault(row["action_type"], {})[vid] = row
    return {
        "pred": str(pred_path),
        "reference": str(ref_path),
        "pred_layer": pred_layer,
        "ref_layer": ref_layer,
        "bound_th": bound_th,
        **aggregate(per_video),
        "per_video": per_video,
        "per_action_type": {t: aggregate(rows) for t, rows in sorted(by_type.items())},
    }


def _action_type(video_id: str, *stores: MaskStore) -> str:
    """The video's action type from the first store whose metadata has one, else "unknown"."""
    for st in stores:
        if video_id in st and st.metadata(video_id).get("action_type") is not None:
            return str(st.metadata(video_id)["action_type"])
    return "unknown"


def _videos_to_score(ref: MaskStore, ref_layer: str, videos: Sequence[str] | None) -> list[str]:
    if videos is None:
        return [v for v in ref.videos() if ref.has(v, ref_layer)]
    for v in videos:
        if not ref.has(v, ref_layer):
            raise EvaluateError(f"{ref.path}: video {v!r} has no {ref_layer!r} masks to compare against")
    return list(dict.fromkeys(videos))
