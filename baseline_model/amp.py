"""Mixed precision: which half type ``train.amp`` means on a device, and the autocast for it.

bf16 has float32's exponent range, so it needs no loss scaling; fp16 overflows past 65,504 and
needs a GradScaler (and the model keeps its overflow-prone heads in float32, see uni_fineparser).
``auto`` takes bf16 where the GPU supports it (Ampere and later), else fp16. On a CPU every mode
trains in float32: the trainer's CPU runs are the exact, reproducible ones.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch


def amp_dtype(mode: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype ``train.amp`` (off | auto | bf16 | fp16) gives on ``device``; None: float32."""
    device = torch.device(device)
    if mode == "off" or device.type != "cuda":
        return None
    if mode == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """Autocast to ``dtype`` on ``device``'s kind, or nothing for float32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def needs_scaler(dtype: torch.dtype | None) -> bool:
    """Whether gradients need loss scaling (fp16 only)."""
    return dtype == torch.float16
