"""Parameter summary per component."""

from __future__ import annotations

from baseline_model.models import UniFineParser
from baseline_model.summary import parameter_summary
from tests.baseline_model.tiny_models import one_thread, tiny_config  # noqa: F401 (autouse fixture)


def test_components_add_up_and_follow_the_switches():
    model = UniFineParser(tiny_config().model)
    summary = parameter_summary(model)
    assert set(summary) == {"i3d", "sap", "sve", "tap", "regressor", "total_params", "trainable_params"}
    parts = sum(summary[k] for k in ("i3d", "sap", "sve", "tap", "regressor"))
    assert parts == summary["total_params"] == summary["trainable_params"]
    for p in model.i3d.parameters():
        p.requires_grad_(False)
    assert parameter_summary(model)["trainable_params"] == summary["total_params"] - summary["i3d"]
    no_sve = parameter_summary(UniFineParser(tiny_config(sve=False, sap=False).model))
    assert "sve" not in no_sve and "sap" not in no_sve
    assert no_sve["total_params"] == summary["total_params"] - summary["sve"] - summary["sap"]
