"""A small synthetic dataset made once for the synth tests (4 clips, 2 of them synchronised)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hm_annotate.synth import generate

PARAMS = dict(videos=4, seed=7, sync_fraction=0.5, height=96, frames=32, hm_jpg=True)


@pytest.fixture(scope="session")
def synth_params() -> dict:
    """The parameters the ``dataset`` fixture was generated with."""
    return dict(PARAMS)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "ds"
    summary = generate(out, **PARAMS)
    return out, summary
