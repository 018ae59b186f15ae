"""Voting evaluation: cached encodings give the same scores as full voting, and the metrics behind them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baseline_model.data import MaskSource, build_splits
from baseline_model.evaluate import evaluate
from baseline_model.metrics import relative_l2, spearman
from baseline_model.models.uni_fineparser import vote
from baseline_model.train import build_model
from tests.baseline_model.synthetic_videos import make_dataset, one_thread, tiny_config, write_store

pytestmark = pytest.mark.usefixtures(one_thread.__name__)


def _reference_votes(model, test_set, dd=False):
    """Eq. 10 with the model's own ``vote`` (every pair through the full network)."""
    out = {}
    by_query: dict[int, list[int]] = {}
    for q, e in test_set.pairs:
        by_query.setdefault(q, []).append(e)
    for q, exemplars in by_query.items():
        query = test_set.sample_video(test_set.queries[q], "q")
        sides = [test_set.sample_video(test_set.pool[e], "e") for e in exemplars]
        videos = torch.stack([s["e_video"] for s in sides]).unsqueeze(0)  # 1 x M x 3 x T x H x W
        scores = torch.stack([s["e_score"] for s in sides]).unsqueeze(0)
        difficulty = None
        if dd:
            e_dd = torch.stack([s["e_difficulty"] for s in sides]).unsqueeze(0)
            difficulty = (query["q_difficulty"].view(1), e_dd)
        voted = vote(model, query["q_video"].unsqueeze(0), None, videos, None, scores, dd=difficulty)
        out[test_set.queries[q].id] = float(voted)
    return out


@pytest.mark.parametrize("mode", ["an", "dd"])
def test_cached_voting_matches_full_forward_voting(mode):
    train_v, test_v = make_dataset(n_train=6, n_test=3, length=14)
    for i, v in enumerate([*train_v, *test_v]):
        v.metadata["difficulty"] = 2.0 + (i % 2)
    cfg = tiny_config(data={"exemplar_mode": mode, "num_exemplars_vote": 2})
    splits = build_splits(train_v, test_v, cfg.data, seed=0, progress=False)
    torch.manual_seed(0)
    model = build_model(cfg)
    result = evaluate(model, splits.test, cfg, progress=False)
    reference = _reference_votes(model, splits.test, dd=mode == "dd")
    assert result.ids == [v.id for v in test_v]
    assert result.pred == pytest.approx([reference[i] for i in result.ids], rel=1e-5, abs=1e-4)
    assert result.true == [v.metadata["score"] for v in test_v]
    assert result.rho == pytest.approx(spearman(result.pred, result.true))
    assert result.rl2 == pytest.approx(relative_l2(result.pred, result.true))


def test_step_and_attention_metrics(tmp_path):
    train_v, test_v = make_dataset(n_train=4, n_test=3, length=14)
    write_store(tmp_path / "m.h5", [*train_v, *test_v])
    cfg = tiny_config()
    masks = MaskSource(str(tmp_path / "m.h5"), "corrected")
    splits = build_splits(train_v, test_v, cfg.data, seed=0, masks=masks, progress=False)
    metrics = evaluate(build_model(cfg), splits.test, cfg, progress=False).metrics()
    assert 0 <= metrics["tiou"] <= 1 and 0 <= metrics["attention_iou"] <= 1
    plain = build_splits(train_v, test_v, cfg.data, seed=0, progress=False)
    assert math.isnan(evaluate(build_model(cfg), plain.test, cfg, progress=False).attention_iou)
    for v in test_v:
        v.metadata["step_transitions"] = []
    none = build_splits(train_v, test_v, cfg.data, seed=0, progress=False)
    assert math.isnan(evaluate(build_model(cfg), none.test, cfg, progress=False).tiou)


def test_undefined_metrics_are_nan_not_errors():
    train_v, test_v = make_dataset(n_train=4, n_test=2, length=14)
    for v in test_v:
        v.metadata["score"] = 50.0  # constant truth: rho and relative L2 are undefined
    cfg = tiny_config()
    splits = build_splits(train_v, test_v, cfg.data, seed=0, progress=False)
    result = evaluate(build_model(cfg), splits.test, cfg, progress=False)
    assert math.isnan(result.rho) and math.isnan(result.rl2)
    assert np.isfinite(result.pred).all()


def test_attention_iou_leaves_videos_without_masks_out(tmp_path):
    train_v, test_v = make_dataset(n_train=4, n_test=3, length=14)
    write_store(tmp_path / "partial.h5", [*train_v, test_v[0]])  # test videos 1 and 2 have no masks
    cfg = tiny_config()
    masks = MaskSource(str(tmp_path / "partial.h5"), "corrected", allow_missing=True)
    partial = build_splits(train_v, test_v, cfg.data, seed=0, masks=masks, progress=False)
    only = build_splits(train_v, test_v[:1], cfg.data, seed=0, progress=False,
                        masks=MaskSource(str(tmp_path / "partial.h5"), "corrected"))
    torch.manual_seed(0)
    with_gaps = evaluate(build_model(cfg), partial.test, cfg, progress=False).attention_iou
    torch.manual_seed(0)
    masked_only = evaluate(build_model(cfg), only.test, cfg, progress=False).attention_iou
    assert with_gaps == pytest.approx(masked_only)
