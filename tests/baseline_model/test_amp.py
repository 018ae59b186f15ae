"""Mixed precision modes: float32 on a CPU whatever the config says; bf16 / fp16 on a GPU."""

from __future__ import annotations

import pytest
import torch

from baseline_model.amp import amp_dtype, autocast, needs_scaler


def test_cpu_always_trains_in_float32():
    for mode in ("off", "auto", "bf16", "fp16"):
        assert amp_dtype(mode, "cpu") is None
    with autocast("cpu", None):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("cpu", torch.bfloat16):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert needs_scaler(torch.float16) and not needs_scaler(torch.bfloat16) and not needs_scaler(None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_takes_bf16_where_the_gpu_supports_it():
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert amp_dtype("auto", "cuda") == expected and amp_dtype("fp16", "cuda:0") == torch.float16
    assert amp_dtype("off", "cuda") is None
