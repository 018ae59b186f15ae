from __future__ import annotations

from pathlib import Path

import pytest

from tests.io.coco.helpers import make_store


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "masks.h5")
