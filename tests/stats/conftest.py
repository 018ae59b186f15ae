"""A store with known contents for the statistics tests."""

from __future__ import annotations

import pytest

from tests.mask_stores import write_store
from tests.stats.known_store import known_videos


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("stats") / "s.h5", known_videos())
