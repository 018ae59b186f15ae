from __future__ import annotations

import pytest

from tests.pseudo.tiny_sam import one_torch_thread


@pytest.fixture
def torch_one_thread():
    with one_torch_thread():
        yield
