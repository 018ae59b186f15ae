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
* Overall figures are means over objects of the per-object figures (davis2017-evaluation averages
  per object, not per frame nor per video), and ``JF_mean`` is the mean of ``J_mean`` and ``F_mean``.

The per-object protocol scores every athlete, as DAVIS does; the union protocol scores the
human-centric foreground (the union of a frame's objects) as one object. The tasks follow the
official code: semi-supervised pairs objects by id and leaves out each video's first and last
frame; unsupervised pairs them by the Hungarian method on mean J&F and counts every frame. Frames of
the reference that the prediction lacks count as empty predictions (``missing_frames``). Where the
official code reads the objects of a video from its first frame, every reference frame counts here
(an athlete may enter later); the figures agree wherever the first frame shows every athlete.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter
from hm_annotate.store import LayerData, MaskStore

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


def boundary_f(pred: np.ndarray, gt: np.ndarray, *, bound_th: float = DEFAULT_BOUND_TH) -> float | np.ndarray:
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


def aggregate(rows: Sequence[dict]) -> dict[str, float | int]:
    """Means of the rows' figures (DAVIS' overall numbers are means over objects), plus counts."""
    out: dict[str, float | int] = {
        k: _nanmean(np.array([r[k] for r in rows], np.float64)) for k in _MEASURES
    }
    out["JF_mean"] = (out["J_mean"] + out["F_mean"]) / 2
    out["objects"] = len(rows)
    return out


PROTOCOLS = ("per-object", "union")
TASKS = ("semi-supervised", "unsupervised")


def _layer(store: MaskStore, video_id: str, layer: str, size: tuple[int, int]) -> LayerData | None:
    """A prediction layer of one video (None where the store lacks it), checked to match ``size``."""
    if not store.has(video_id, layer):
        return None
    h, w = store.size(video_id)
    if (h, w) != tuple(size):
        raise EvaluateError(
            f"{store.path}: video {video_id}: predicted masks are {h}x{w}, "
            f"reference masks {size[0]}x{size[1]}"
        )
    return store.read(video_id, layer)


def _object_masks(
    data: LayerData | None, frames: np.ndarray, size: tuple[int, int], union: bool
) -> tuple[dict[int, np.ndarray], int]:
    """Per object id, its F x H x W masks on ``frames`` (empty where absent), and how many of the
    frames the layer lacks. ``union`` gives one object, id 1: the union of the frame's objects."""
    if data is None:
        return {}, len(frames)
    pos = np.searchsorted(data.frames, frames)
    found = pos < len(data.frames)
    found[found] = data.frames[pos[found]] == frames[found]
    out: dict[int, np.ndarray] = {}
    for k in np.flatnonzero(found):
        i = int(pos[k])
        objs, ids = ([data.union(i)], [1]) if union else (data.masks[i], data.object_ids[i])
        if not objs or (union and not data.area[i]):
            continue
        for oid, mask in zip(ids, rle.decode_batch(objs)):
            out.setdefault(int(oid), np.zeros((len(frames), *size), np.uint8))[k] = mask
    return out, int((~found).sum())


def _per_frame(pred: np.ndarray | None, gt: np.ndarray, bound_th: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame J and F of one predicted object (None: empty) against one reference object."""
    pred = np.zeros_like(gt) if pred is None else pred
    return jaccard(pred, gt), boundary_f(pred, gt, bound_th=bound_th)


def _figures(j: np.ndarray, f: np.ndarray) -> dict[str, float]:
    j_mean, j_recall, j_decay = statistics(j)
    f_mean, f_recall, f_decay = statistics(f)
    return {
        "J_mean": j_mean,
        "J_recall": j_recall,
        "J_decay": j_decay,
        "F_mean": f_mean,
        "F_recall": f_recall,
        "F_decay": f_decay,
        "JF_mean": (j_mean + f_mean) / 2,
    }


def score_objects(
    pred: dict[int, np.ndarray], gt: dict[int, np.ndarray], task: str, *, bound_th: float = DEFAULT_BOUND_TH
) -> dict[int, dict]:
    """DAVIS figures of every reference object of one video, keyed by its id.

    semi-supervised: the predicted object with the same id (empty when PRED lacks it).
    unsupervised: predicted objects (padded with empty ones to the reference's count) are paired
    with reference objects by the Hungarian method on the mean of J and F over the frames, as
    davis2017-evaluation does; ``pred_object`` says which (None: an empty pad).
    """
    if task not in TASKS:
        raise EvaluateError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    out: dict[int, dict] = {}
    if task == "semi-supervised":
        for oid, masks in gt.items():
            j, f = _per_frame(pred.get(oid), masks, bound_th)
            out[oid] = {"pred_object": oid if oid in pred else None, **_figures(j, f)}
        return out
    from hm_annotate.io.identity import best_pairs

    pred_ids: list[int | None] = sorted(pred)
    pred_ids += [None] * max(0, len(gt) - len(pred_ids))
    gt_ids = sorted(gt)
    per = {(p, g): _per_frame(pred.get(p), gt[g], bound_th)
           for p in pred_ids for g in gt_ids}
    score = np.array([[(per[p, g][0].mean() + per[p, g][1].mean()) / 2 for g in gt_ids] for p in pred_ids])
    # every reference object gets a partner: add a tiny constant so that 0-score pairs are kept
    for r, c in best_pairs(score + 1.0):
        p, g = pred_ids[r], gt_ids[c]
        out[g] = {"pred_object": p, **_figures(*per[p, g])}
    return dict(sorted(out.items()))


def evaluate_stores(
    pred_path: str | Path,
    ref_path: str | Path,
    *,
    pred_layer: str = "pseudo",
    ref_layer: str = "corrected",
    videos: Sequence[str] | None = None,
    protocol: str = "per-object",
    task: str = "semi-supervised",
    bound_th: float = DEFAULT_BOUND_TH,
    reporter: Reporter | None = None,
) -> dict:
    """Compare PRED's layer with REF's layer on the reference frames; DAVIS figures as a dict.

    ``protocol`` per-object scores every athlete (as DAVIS, YouTube-VOS and the field report);
    union scores the human-centric foreground (the union of a frame's objects) as one object.
    ``task`` semi-supervised matches objects by id and leaves out each video's first and last
    reference frame; unsupervised pairs objects by the Hungarian method and counts every frame.
    Keys: the overall ``J_mean``, ``J_recall``, ``J_decay``, ``F_*``, ``JF_mean`` (means over
    objects), ``objects``, ``videos``, ``frames`` (reference frames scored), ``missing_frames``
    (those PRED lacks, scored as empty predictions), ``per_object`` (``<video>_<id>`` -> figures),
    ``per_video`` (means over the video's objects) and ``per_action_type`` (means over the
    objects of its videos).
    """
    if protocol not in PROTOCOLS:
        raise EvaluateError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if task not in TASKS:
        raise EvaluateError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    union = protocol == "union"
    per_object: dict[str, dict] = {}
    per_video: dict[str, dict] = {}
    by_type: dict[str, list[dict]] = {}
    with MaskStore.open(ref_path) as ref, MaskStore.open(pred_path) as pred:
        ids = _videos_to_score(ref, ref_layer, videos)
        for vid in (reporter or Reporter()).bar(ids, desc="evaluate", unit="video"):
            ref_data = ref.read(vid, ref_layer)
            ref_frames = ref_data.frames[1:-1] if task == "semi-supervised" else ref_data.frames
            if not len(ref_frames):
                continue
            size = (ref_data.height, ref_data.width)
            gt, _ = _object_masks(ref_data, ref_frames, size, union)
            if not gt:  # no athlete in any scored frame: one empty object, as a union scores it
                gt = {1: np.zeros((len(ref_frames), *size), np.uint8)}
            guess, missing = _object_masks(_layer(pred, vid, pred_layer, size), ref_frames, size, union)
            action = _action_type(vid, ref, pred)
            rows = []
            for oid, figures in score_objects(guess, gt, task, bound_th=bound_th).items():
                row = {"video_id": vid, "object_id": oid, "action_type": action, **figures}
                per_object[f"{vid}_{oid}"] = row
                rows.append(row)
            per_video[vid] = {"action_type": action, **aggregate(rows), "videos": 1}
            per_video[vid] |= {"frames": len(ref_frames), "missing_frames": missing}
            by_type.setdefault(action, []).extend(rows)
    if not per_video:
        raise EvaluateError(f"{ref_path}: no reference frames in layer {ref_layer!r} to evaluate")
    return {
        "pred": str(pred_path),
        "reference": str(ref_path),
        "pred_layer": pred_layer,
        "ref_layer": ref_layer,
        "protocol": protocol,
        "task": task,
        "bound_th": bound_th,
        **_overall(list(per_object.values()), per_video),
        "per_object": per_object,
        "per_video": per_video,
        "per_action_type": {t: _overall(rows, per_video) for t, rows in sorted(by_type.items())},
    }


def _overall(rows: list[dict], per_video: dict[str, dict]) -> dict:
    """Means over the objects of ``rows`` with the frame counts of their videos."""
    vids = {r["video_id"] for r in rows}
    return {
        **aggregate(rows),
        "videos": len(vids),
        "frames": sum(per_video[v]["frames"] for v in vids),
        "missing_frames": sum(per_video[v]["missing_frames"] for v in vids),
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
