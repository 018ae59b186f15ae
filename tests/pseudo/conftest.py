from __future__ import annotations

import pytest


@pytest.fixture
def torch_one_thread():
    """Run the tiny SAM on one torch thread: on busy shared cores torch's thread pool spends far
    longer waiting for a second core than the tiny model needs to compute."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
