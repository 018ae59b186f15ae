"""Stand-in pseudo masks made from ground truth: how they degrade, determinism, the store they write."""

from __future__ import annotations

import numpy as np

from baseline_model.degrade import Degradation, _shift, degrade_masks, degrade_store
from hm_annotate.store import MaskStore
from tests.baseline_model.synthetic_videos import box_mask, make_dataset, write_store


def test_shift_moves_without_wrapping():
    m = np.zeros((5, 6), np.uint8)
    m[0, 0] = m[4, 5] = 1
    out = _shift(m, 1, 2)
    assert out[1, 2] == 1 and out.sum() == 1  # the bottom-right pixel left the frame
    assert np.array_equal(_shift(out, -1, -2)[0, 0:1], [1])


def test_degraded_masks_grow_shrink_drift_and_drop():
    masks = np.stack([box_mask(n) for n in range(200)])
    deg = Degradation(max_radius=2, max_shift=3, drop=0.2, drop_run=4, seed=1)
    bad = degrade_masks(masks, deg, np.random.default_rng(0))
    areas, true_areas = bad.sum((1, 2)), masks.sum((1, 2))
    lost = areas == 0
    assert 0.1 < lost.mean() < 0.3
    kept = ~lost
    assert (areas[kept] > true_areas[kept]).any() and (areas[kept] < true_areas[kept]).any()
    inter = (bad & masks).sum((1, 2))[kept] / (bad | masks).sum((1, 2))[kept]
    assert 0.3 < inter.mean() < 0.95
    assert np.array_equal(bad, degrade_masks(masks, deg, np.random.default_rng(0)))
    exact = degrade_masks(masks, Degradation(0, 0, 0.0), np.random.default_rng(0))
    assert np.array_equal(exact, masks)


def test_degrade_store_writes_the_pseudo_layer_with_provenance(tmp_path):
    train, test = make_dataset(n_train=3, n_test=1, length=30)
    write_store(tmp_path / "gt.h5", [*train, *test])
    stats = degrade_store(tmp_path / "gt.h5", tmp_path / "pm.h5", Degradation(seed=2), progress=False)
    assert stats["videos"] == 4 and stats["frames"] == 120 and 0 < stats["mean_iou"] < 1
    with MaskStore.open(tmp_path / "pm.h5") as pm, MaskStore.open(tmp_path / "gt.h5") as gt:
        vid = train[0].id
        data = pm.read(vid, "pseudo")
        assert data.provenance[0]["tool"] == "hm-baseline degrade-masks"
        assert pm.metadata(vid)["score"] == gt.metadata(vid)["score"]
        frames, masks = pm.masks(vid, "pseudo")
        assert np.array_equal(frames, gt.masks(vid, "corrected")[0])
        empty = [i for i, objs in enumerate(data.masks) if not objs]
        assert all(not masks[i].any() for i in empty)
    again = degrade_store(tmp_path / "gt.h5", tmp_path / "pm2.h5", Degradation(seed=2), progress=False)
    assert again["mean_iou"] == stats["mean_iou"]
