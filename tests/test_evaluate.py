"""DAVIS measures: hand-computed cases, a slow readable reference, and stores end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.evaluate import (
    EvaluateError,
    bound_pixels,
    boundary_f,
    boundary_map,
    evaluate_stores,
    jaccard,
    statistics,
)
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks, layer_from_masks


def rect(h: int, w: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[top:bottom, left:right] = 1
    return m


# ----------------------------------------------------------------------------- a slow reference


def reference_boundary(mask: np.ndarray) -> np.ndarray:
    """seg2bmap spelled out pixel by pixel: compare with the right, lower and lower-right
    neighbours; in the last row only the right one, in the last column only the lower one; the
    bottom-right corner is never a boundary."""
    h, w = mask.shape
    m = mask.astype(bool)
    out = np.zeros_like(m)
    for y in range(h):
        for x in range(w):
            if y == h - 1 and x == w - 1:
                continue
            if y == h - 1:
                out[y, x] = m[y, x] != m[y, x + 1]
            elif x == w - 1:
                out[y, x] = m[y, x] != m[y + 1, x]
            else:
                out[y, x] = m[y, x] != m[y, x + 1] or m[y, x] != m[y + 1, x] or m[y, x] != m[y + 1, x + 1]
    return out


def reference_f(pred: np.ndarray, gt: np.ndarray, radius: int) -> float:
    """F from boundary pixels matched within Euclidean distance ``radius`` (what disk dilation means)."""
    bp, bg = reference_boundary(pred), reference_boundary(gt)
    p_pts, g_pts = list(zip(*np.nonzero(bp))), list(zip(*np.nonzero(bg)))
    if not p_pts and not g_pts:
        return 1.0
    if not p_pts or not g_pts:
        return 0.0

    def matched(points, others):
        return sum(any((y - v) ** 2 + (x - u) ** 2 <= radius**2 for v, u in others) for y, x in points)

    precision = matched(p_pts, g_pts) / len(p_pts)
    recall = matched(g_pts, p_pts) / len(g_pts)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def random_blob(rng: np.random.Generator, h: int = 30, w: int = 30) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.uniform(-2, h + 2), rng.uniform(-2, w + 2)
        ry, rx = rng.uniform(2, 10), rng.uniform(2, 10)
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m.astype(np.uint8)


@pytest.mark.parametrize("seed", range(6))
def test_boundary_map_matches_pixelwise_definition(seed):
    m = random_blob(np.random.default_rng(seed))
    np.testing.assert_array_equal(boundary_map(m), reference_boundary(m))


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("bound_th", [0.008, 0.05, 2])
def test_boundary_f_matches_slow_reference(seed, bound_th):
    rng = np.random.default_rng(100 + seed)
    pred, gt = random_blob(rng), random_blob(rng)
    if seed % 2:  # half the cases: a perturbed copy, so F is neither 0 nor 1
        gt = np.roll(pred, int(rng.integers(1, 4)), axis=int(rng.integers(0, 2)))
    radius = bound_pixels(pred.shape, bound_th)
    assert boundary_f(pred, gt, bound_th=bound_th) == pytest.approx(reference_f(pred, gt, radius), abs=1e-12)


# ----------------------------------------------------------------------------- hand-computed cases


def test_jaccard_of_two_rectangles():
    a = rect(40, 40, 5, 5, 15, 25)  # 10 x 20 = 200 pixels
    b = rect(40, 40, 10, 15, 30, 35)  # 20 x 20 = 400; overlap rows 10-14, cols 15-24 = 50
    assert jaccard(a, b) == pytest.approx(50 / (200 + 400 - 50))
    assert jaccard(a, a) == 1.0
    assert jaccard(a, rect(40, 40, 30, 30, 35, 35)) == 0.0


def test_jaccard_empty_cases_and_batches():
    empty = np.zeros((8, 8), np.uint8)
    full = np.ones((8, 8), np.uint8)
    assert jaccard(empty, empty) == 1.0
    assert jaccard(empty, full) == 0.0
    batch = jaccard(np.stack([empty, full, full]), np.stack([empty, empty, full]))
    np.testing.assert_array_equal(batch, [1.0, 0.0, 1.0])


def test_bound_pixels():
    assert bound_pixels((30, 30), 0.008) == 1  # ceil(0.008 * 42.4)
    assert bound_pixels((256, 455), 0.008) == 5  # ceil(0.008 * 522.07) = ceil(4.18)
    assert bound_pixels((480, 854), 0.008) == 8  # DAVIS 480p: ceil(7.84)
    assert bound_pixels((30, 30), 3) == 3  # >= 1 is taken as pixels


def test_boundary_f_identical_disjoint_and_empty():
    a = rect(30, 30, 5, 5, 15, 15)
    far = rect(30, 30, 20, 20, 28, 28)
    empty = np.zeros((30, 30), np.uint8)
    assert boundary_f(a, a) == 1.0
    assert boundary_f(a, far) == 0.0
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(a, empty) == 0.0
    assert boundary_f(empty, a) == 0.0


def test_boundary_f_of_one_pixel_shift():
    # The boundary of the 10 x 10 square at rows/cols 5-14 is the ring of the 11 x 11 square at
    # rows/cols 4-14 (40 pixels); shifted down one row, the ring spans rows 5-15. With no
    # tolerance only the two side columns' shared rows 5-14 match: 20 of 40 on each side.
    a = rect(30, 30, 5, 5, 15, 15)
    b = rect(30, 30, 6, 5, 16, 15)
    assert boundary_map(a).sum() == 40
    assert boundary_f(a, b, bound_th=0) == pytest.approx(0.5)
    # with the DAVIS default at 30 x 30 the tolerance is one pixel: every boundary pixel matches
    assert boundary_f(a, b) == 1.0
    assert boundary_f(a, b, bound_th=1) == 1.0


def test_boundary_f_batch_equals_per_frame():
    masks = ellipse_masks(5)
    other = np.roll(masks, 3, axis=2)
    batch = boundary_f(masks, other)
    assert batch.shape == (5,)
    np.testing.assert_allclose(batch, [boundary_f(m, o) for m, o in zip(masks, other)])


def test_statistics_mean_recall_decay():
    values = np.arange(12, dtype=float) / 11  # 0, 1/11, ..., 1
    mean, recall, decay = statistics(values)
    assert mean == pytest.approx(0.5)
    assert recall == pytest.approx(6 / 12)  # 6/11 .. 11/11 are above 0.5
    # bins start at round(linspace(1, 12, 5)) - 1 = 0, 3, 6, 8, 11 and include their right edge:
    # first = values[0:4], last = values[8:12]
    assert decay == pytest.approx(np.mean(values[0:4]) - np.mean(values[8:12]))
    assert decay == pytest.approx((1.5 - 9.5) / 11)


def test_statistics_short_long_and_nan():
    assert statistics([0.9]) == (0.9, 1.0, 0.0)
    assert statistics([1.0, 0.0]) == (0.5, 0.5, 1.0)  # bins [0:1], [0:1], [0:2], [1:2]
    values = np.r_[np.ones(150), np.zeros(150)]  # longer than DAVIS' uint8 bin edges allow
    assert statistics(values)[2] == pytest.approx(1.0)
    mean, recall, _ = statistics([1.0, np.nan, 0.0])
    assert mean == 0.5 and recall == pytest.approx(1 / 3)
    assert all(math.isnan(x) for x in statistics([]))


# ----------------------------------------------------------------------------- stores


def write(path, video: str, layer: str, data: LayerData, action_type: str) -> None:
    with MaskStore.open(path, "a") as st:
        st.put(video, layer, data, metadata={"action_type": action_type, "split": "test"})


def test_evaluate_stores_per_video_action_type_and_missing_frames(tmp_path):
    pred_path, ref_path = tmp_path / "pred.h5", tmp_path / "ref.h5"
    gt_a = ellipse_masks(8, seed=1)
    gt_b = ellipse_masks(6, seed=2)
    gt_c = ellipse_masks(4, seed=3)
    write(ref_path, "ev/1", "corrected", layer_from_masks(gt_a, first_frame=10), "107b")
    write(ref_path, "ev/2", "corrected", layer_from_masks(gt_b, first_frame=50), "107b")
    write(ref_path, "ev/3", "corrected", layer_from_masks(gt_c, first_frame=0), "207c")
    shifted = np.roll(gt_b, 2, axis=2)
    write(pred_path, "ev/1", "pseudo", layer_from_masks(gt_a, first_frame=10), "107b")  # perfect
    # ev/2: shifted masks, frames 52-55 only (50 and 51 missing), plus an extra frame 60 ignored
    extra = np.concatenate([shifted[2:], gt_b[:1]])
    data = layer_from_masks(extra, first_frame=52)
    data = LayerData(frames=np.r_[52:56, 60], masks=data.masks, height=48, width=64)
    write(pred_path, "ev/2", "pseudo", data, "107b")
    # ev/3 is absent from PRED: every frame is an empty prediction

    result = evaluate_stores(pred_path, ref_path, task="unsupervised")  # one object: every frame
    v1, v2, v3 = (result["per_video"][k] for k in ("ev/1", "ev/2", "ev/3"))
    assert (v1["J_mean"], v1["F_mean"], v1["J_recall"], v1["J_decay"]) == (1.0, 1.0, 1.0, 0.0)
    assert (v3["J_mean"], v3["F_mean"], v3["missing_frames"]) == (0.0, 0.0, 4)

    aligned = np.zeros_like(gt_b)
    aligned[2:] = shifted[2:]
    j2, f2 = jaccard(aligned, gt_b), boundary_f(aligned, gt_b)
    assert j2[:2].tolist() == [0.0, 0.0]
    assert v2["J_mean"] == pytest.approx(j2.mean())
    assert v2["F_mean"] == pytest.approx(f2.mean())
    assert (v2["J_recall"], v2["J_decay"]) == pytest.approx(statistics(j2)[1:])
    assert v2["missing_frames"] == 2 and v2["frames"] == 6

    assert result["J_mean"] == pytest.approx((1.0 + j2.mean() + 0.0) / 3)  # mean over videos
    assert result["JF_mean"] == pytest.approx((result["J_mean"] + result["F_mean"]) / 2)
    assert (result["videos"], result["frames"], result["missing_frames"]) == (3, 18, 6)
    per_type = result["per_action_type"]
    assert set(per_type) == {"107b", "207c"}
    assert per_type["107b"]["videos"] == 2
    assert per_type["107b"]["J_mean"] == pytest.approx((1.0 + j2.mean()) / 2)
    assert per_type["207c"]["JF_mean"] == 0.0

    only = evaluate_stores(pred_path, ref_path, videos=["ev/1"], task="unsupervised")
    assert list(only["per_video"]) == ["ev/1"] and only["JF_mean"] == 1.0


def test_evaluate_same_store_two_layers_and_sync_objects(tmp_path):
    """pseudo vs corrected in one store; with --protocol union two objects per frame are compared
    by their union."""
    path = tmp_path / "m.h5"
    left = ellipse_masks(5, seed=4)
    right = np.roll(left, 25, axis=2)
    two = LayerData(
        frames=np.arange(5),
        masks=[[a, b] for a, b in zip(rle.encode_batch(left), rle.encode_batch(right))],
        height=48,
        width=64,
    )
    union = layer_from_masks(left | right)
    with MaskStore.open(path, "a") as st:
        st.put("sync/1", "pseudo", two, metadata={"action_type": "5253b"})
        st.put("sync/1", "corrected", union)
    result = evaluate_stores(path, path, protocol="union")
    assert result["JF_mean"] == 1.0
    # curated (corrected over pseudo) as the prediction is also accepted
    assert evaluate_stores(path, path, pred_layer="curated", protocol="union")["J_mean"] == 1.0


def test_evaluate_errors(tmp_path):
    ref_path, pred_path = tmp_path / "ref.h5", tmp_path / "pred.h5"
    write(ref_path, "v/1", "corrected", layer_from_masks(ellipse_masks(3)), "101a")
    write(pred_path, "v/1", "pseudo", layer_from_masks(ellipse_masks(3, h=24, w=32)), "101a")
    with pytest.raises(EvaluateError, match="video v/1: predicted masks are 24x32, reference masks 48x64"):
        evaluate_stores(pred_path, ref_path)
    with pytest.raises(EvaluateError, match="'v/2' has no 'corrected' masks"):
        evaluate_stores(pred_path, ref_path, videos=["v/2"])
    with pytest.raises(EvaluateError, match="no reference frames in layer 'corrected'"):
        evaluate_stores(ref_path, pred_path)


def test_per_object_protocol_scores_each_diver_and_the_tasks_pair_them_as_davis_does(tmp_path):
    """Two divers whose ids are swapped on frames 2-4: the union hides it, per object it shows;
    semi-supervised leaves out the first and last frame, unsupervised pairs objects by J&F."""
    path = tmp_path / "m.h5"
    left = ellipse_masks(8, seed=4)
    right = np.roll(left, 30, axis=2)
    gt = LayerData(frames=np.arange(8), masks=[[a, b] for a, b in zip(rle.encode_batch(left),
                   rle.encode_batch(right))], height=48, width=64)
    swapped = [list(reversed(objs)) if 2 <= i <= 4 else objs for i, objs in enumerate(gt.masks)]
    whole = LayerData(frames=np.arange(8), masks=[[b, a] for a, b in gt.masks], height=48, width=64)
    with MaskStore.open(path, "a") as st:
        st.put("sync/1", "corrected", gt)
        st.put("sync/1", "pseudo", LayerData(frames=np.arange(8), masks=swapped, height=48, width=64))
    union = evaluate_stores(path, path, protocol="union")
    assert union["JF_mean"] == 1.0 and union["objects"] == 1 and union["frames"] == 6
    semi = evaluate_stores(path, path)
    assert semi["objects"] == 2 and semi["frames"] == 6  # frames 1..6
    assert set(semi["per_object"]) == {"sync/1_1", "sync/1_2"}
    assert semi["per_object"]["sync/1_1"]["J_mean"] == pytest.approx(3 / 6)  # swapped on 3 of 6 frames
    assert semi["J_mean"] == pytest.approx(np.mean([r["J_mean"] for r in semi["per_object"].values()]))
    unsup = evaluate_stores(path, path, task="unsupervised")
    assert unsup["frames"] == 8 and unsup["per_object"]["sync/1_1"]["J_mean"] == pytest.approx(5 / 8)
    # ids swapped on every frame: semi-supervised scores 0, unsupervised pairs them back
    with MaskStore.open(path, "a") as st:
        st.put("sync/1", "pseudo", whole)
    assert evaluate_stores(path, path)["J_mean"] == 0.0
    unsup = evaluate_stores(path, path, task="unsupervised")
    assert unsup["JF_mean"] == 1.0
    assert [r["pred_object"] for r in unsup["per_object"].values()] == [2, 1]


REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "interop" / "davis-reference"


@pytest.fixture(scope="module")
def davis_reference(tmp_path_factory) -> tuple[Path, dict]:
    import json

    from hm_annotate.io import davis

    if not (REFERENCE / "expected.json").is_file():
        pytest.skip(f"{REFERENCE}: DAVIS reference figures absent (../shared/interop, see its README)")
    path = tmp_path_factory.mktemp("davis") / "ref.h5"
    with MaskStore.open(path, "a") as st, st.transaction():
        for layer, sub in (("corrected", "gt"), ("pseudo", "pm")):
            for vid, data in davis.read_tree(REFERENCE / sub):
                st.put(vid, layer, data)
    return path, json.loads((REFERENCE / "expected.json").read_text())


@pytest.mark.parametrize("task", ["semi-supervised", "unsupervised"])
def test_reproduces_the_official_davis2017_evaluation(davis_reference, task):
    path, expected = davis_reference
    want = expected["tasks"][task]
    got = evaluate_stores(path, path, task=task)
    for key in ("JF_mean", "J_mean", "J_recall", "J_decay", "F_mean", "F_recall", "F_decay"):
        assert got[key] == pytest.approx(want[key], abs=1e-4), key
    assert set(got["per_object"]) == set(want["per_object"])
    for key, figures in want["per_object"].items():
        for k in ("J_mean", "F_mean"):
            assert got["per_object"][key][k] == pytest.approx(figures[k], abs=1e-4), (key, k)
