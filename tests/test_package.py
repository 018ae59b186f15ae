"""The package face: every advertised name imports, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hm_annotate


@pytest.mark.parametrize("name", [n for n in hm_annotate.__all__ if n != "__version__"])
def test_every_exported_name_resolves(name: str) -> None:
    value = getattr(hm_annotate, name)
    assert value is not None and name in dir(hm_annotate)


def test_exports_are_the_library_objects() -> None:
    from hm_annotate.pseudo.pipeline import run
    from hm_annotate.store import MaskStore

    assert hm_annotate.MaskStore is MaskStore and hm_annotate.run_pipeline is run


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hm_annotate.Nope  # noqa: B018


def test_import_does_not_load_heavy_dependencies() -> None:
    code = "import sys, hm_annotate; print(sorted(m for m in ('h5py', 'cv2', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_library_example_runs_on_the_synthetic_dataset(tmp_path) -> None:
    """The README's five lines, with the CPU pipeline, end to end through the package face (at 64
    pixels high the synthetic divers are too small to score well: quality is tested in tests/pseudo)."""
    from hm_annotate import (
        Components,
        MaskStore,
        Reporter,
        evaluate_stores,
        load_pipeline,
        load_videos,
        run_pipeline,
    )
    from hm_annotate.synth import generate

    generate(tmp_path / "synth", videos=2, seed=3, height=64, frames=24)
    videos = load_videos("finediving", tmp_path / "synth", split="all")
    config = load_pipeline("synthetic-demo")
    report = run_pipeline(videos, tmp_path / "pm.h5", Components.build(config), reporter=Reporter())
    assert sorted(report.labelled) == sorted(v.id for v in videos) and not report.failed
    with MaskStore.open(tmp_path / "pm.h5") as pm:
        for video in videos:  # every frame of every video has its pseudo masks
            assert pm.read(video.id, "pseudo").frames.tolist() == list(video.frame_numbers)
    scores = evaluate_stores(tmp_path / "pm.h5", tmp_path / "synth" / "gt_masks.h5", pred_layer="pseudo")
    assert scores["videos"] == len(videos) and 0.0 <= scores["J_mean"] <= 1.0  # quality: tests/pseudo
