"""GTM / PM / no-mask comparison: identical settings across conditions, the table, resuming."""

from __future__ import annotations

import math

import pytest

from baseline_model.compare import Comparison, Condition, compare, default_conditions, summary, with_masks
from baseline_model.train import RunResult, config_differences
from tests.baseline_model.synthetic_videos import make_dataset, one_thread, tiny_config, write_store

pytestmark = pytest.mark.usefixtures(one_thread.__name__)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    train_v, test_v = make_dataset(n_train=6, n_test=3, length=14)
    write_store(root / "gtm.h5", [*train_v, *test_v], layer="corrected")
    write_store(root / "pm.h5", [*train_v, *test_v], layer="pseudo", offset=5)  # shifted boxes: worse masks
    return train_v, test_v, str(root / "gtm.h5"), str(root / "pm.h5")


def test_conditions_differ_only_in_their_masks(stores):
    _, _, gtm, pm = stores
    cfg = tiny_config()
    runs = [with_masks(cfg, c, seed=4) for c in default_conditions(gtm, pm)]
    assert runs[0].data.mask_layer == "corrected" and runs[1].data.mask_layer == "pseudo"
    assert not runs[2].data.use_masks and runs[2].data.mask_store is None
    assert all(r.train.seed == 4 for r in runs)
    for other in runs[1:]:
        assert {d.split(":")[0] for d in config_differences(runs[0].to_dict(), other.to_dict())} <= {
            "data.mask_store", "data.mask_layer", "data.use_masks"}


def test_same_pairs_and_order_for_every_condition(tmp_path, stores):
    # with L_A off the masks cannot change anything: all three conditions must train identically
    train_v, test_v, gtm, pm = stores
    cfg = tiny_config(model={"loss_attention": False}, train={"epochs": 2})
    result = compare(cfg, train_v, test_v, default_conditions(gtm, pm), tmp_path / "runs", seeds=1,
                     device="cpu", progress=False)
    histories = [result.runs[(c.name, 0)].history for c in result.conditions]
    for h in histories[1:]:
        for a, b in zip(histories[0], h):
            assert a["L_E"] == pytest.approx(b["L_E"], rel=1e-6)
            assert a["rho"] == pytest.approx(b["rho"], nan_ok=True)


def test_parallel_jobs_give_the_same_runs(tmp_path, stores):
    train_v, test_v, gtm, pm = stores
    cfg = tiny_config(train={"epochs": 1})
    conditions = default_conditions(gtm, pm)
    one = compare(cfg, train_v, test_v, conditions, tmp_path / "one", seeds=1, device="cpu", progress=False)
    two = compare(cfg, train_v, test_v, conditions, tmp_path / "two", seeds=1, jobs=2, device="cpu",
                  progress=False)
    for key, run in one.runs.items():
        assert run.history[0]["L_E"] == pytest.approx(two.runs[key].history[0]["L_E"], rel=1e-5)
        assert run.history[0]["L_A"] == pytest.approx(two.runs[key].history[0]["L_A"], rel=1e-5)
        assert two.runs[key].out_dir.parent == tmp_path / "two"


def test_table_over_seeds_and_resuming(tmp_path, stores):
    train_v, test_v, gtm, pm = stores
    cfg = tiny_config(train={"epochs": 1, "seed": 3})
    result = compare(cfg, train_v, test_v, default_conditions(gtm, pm), tmp_path / "runs", seeds=2,
                     device="cpu", progress=False)
    assert result.seeds == [3, 4] and len(result.runs) == 6
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "gtm_seed3", "gtm_seed4", "no-masks_seed3", "no-masks_seed4", "pm_seed3", "pm_seed4"]
    gtm_run = result.runs[("GTM", 3)]
    assert gtm_run.history[0]["L_A"] > 0 and result.runs[("no masks", 3)].history[0]["L_A"] == 0
    table = result.table()
    rows = [line for line in table.splitlines() if line.startswith("| Uni-FineParser")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "Uni-FineParser (GTM)", "Uni-FineParser (PM)", "Uni-FineParser (no masks)"]
    assert "2 seed(s)" in table and "1 epochs" in table
    assert all(len(r.split("|")) == 7 for r in rows)
    assert summary(result)["runs"][0]["condition"] == "GTM"
    again = compare(cfg, train_v, test_v, default_conditions(gtm, pm), tmp_path / "runs", seeds=2,
                    device="cpu", progress=False)  # every run is finished: resumed, nothing retrained
    assert again.table().splitlines()[:5] == table.splitlines()[:5]


def _fake(values: dict[str, list[float]]) -> Comparison:
    conditions = [Condition(name) for name in values]
    out = Comparison(conditions=conditions, seeds=[0, 1])
    for name, rhos in values.items():
        for seed, rho in zip(out.seeds, rhos):
            metrics = {"rho": rho, "rl2": 1.0 - rho}
            out.runs[(name, seed)] = RunResult(out_dir=None, epochs_done=1, history=[], best=metrics,
                                               last=metrics)
    return out


def test_mean_std_cells_and_order():
    ok = _fake({"GTM": [0.9, 0.8], "PM": [0.8, 0.7], "no masks": [0.5, 0.6]})
    assert ok.ordered("rho") and "| 0.8500 +- 0.0707 |" in ok.table()
    swapped = _fake({"GTM": [0.5, 0.6], "PM": [0.8, 0.7], "no masks": [0.5, 0.6]})
    assert not swapped.ordered("rho")
    assert ok.verdict("rho") == "held" and swapped.verdict("rho") == "did not hold"
    tied = _fake({"GTM": [0.4, 0.4], "PM": [0.4, 0.4], "no masks": [0.4, 0.4]})
    assert not tied.ordered("rho") and tied.verdict("rho").startswith("tied, no verdict")
    one_seed = _fake({"GTM": [0.9, 0.9], "PM": [0.8, 0.8]})
    one_seed.seeds = [0]
    assert one_seed.verdict("rho").startswith("not judged")
    undefined = _fake({"GTM": [math.nan, math.nan]})
    assert "n/a" in undefined.table()
