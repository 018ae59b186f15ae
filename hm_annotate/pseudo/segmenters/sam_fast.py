"""A faster SAM image encoder: the same modules and weights, fused attention, half precision.

Stock segment_anything computes every attention matrix in full (for ViT-H's global blocks
4096 x 4096 per head and image) and adds SAM's decomposed relative position terms to it before
the softmax. Here each block's attention goes through
``torch.nn.functional.scaled_dot_product_attention`` with those terms as its additive bias, so
PyTorch picks a fused kernel; the weights and activations can be cast to bf16 or fp16 (tensor
cores, half the memory traffic), and the encoder can be handed to ``torch.compile``. Nothing is
retrained or re-keyed: ``accelerate`` swaps the attention modules of an encoder that already holds
a checkpoint, so the stock encoder stays the numerical reference.
"""

from __future__ import annotations

from typing import Any

from hm_annotate.errors import HMError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def torch_dtype(precision: str, device: str) -> Any:
    """The dtype a precision name stands for on a device (``auto``: bf16 on a GPU that has it,
    else fp16 on a GPU, fp32 on the CPU)."""
    import torch

    if precision not in PRECISIONS:
        raise HMError(f"unknown SAM precision {precision!r} (use {', '.join(PRECISIONS)})")
    if precision == "auto":
        if device != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def _sdpa_attention_class():
    """Built on first use so that importing this module does not import torch."""
    import torch
    import torch.nn.functional as F

    def relative_positions(size: int, table: torch.Tensor) -> torch.Tensor:
        """segment_anything's ``get_rel_pos(size, size, table)`` for the table's own size (the
        encoder's input is always padded to it), indexed on the table's device: get_rel_pos
        builds its index on the CPU, and copying that to the GPU in every block stalls the CPU
        until the GPU has caught up."""
        coords = torch.arange(size, device=table.device)
        return table[coords[:, None] - coords[None, :] + (size - 1)]

    class SdpaAttention(torch.nn.Module):
        """SAM's ``Attention`` (same parameters, taken over from a stock module) computed by
        ``scaled_dot_product_attention``; the relative position terms become its bias."""

        def __init__(self, stock: torch.nn.Module) -> None:
            super().__init__()
            self.num_heads = stock.num_heads
            self.qkv = stock.qkv
            self.proj = stock.proj
            self.use_rel_pos = stock.use_rel_pos
            if self.use_rel_pos:
                self.rel_pos_h = stock.rel_pos_h
                self.rel_pos_w = stock.rel_pos_w

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, h, w, _ = x.shape
            heads = self.num_heads
            qkv = self.qkv(x).reshape(b, h * w, 3, heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)  # each b x heads x (h w) x head_dim
            bias = None
            if self.use_rel_pos:
                # the same terms as segment_anything's add_decomposed_rel_pos, from the unscaled q
                rh = relative_positions(h, self.rel_pos_h).to(q.dtype)
                rw = relative_positions(w, self.rel_pos_w).to(q.dtype)
                rq = q.reshape(b, heads, h, w, -1)
                rel_h = torch.einsum("bnhwc,hkc->bnhwk", rq, rh)
                rel_w = torch.einsum("bnhwc,wkc->bnhwk", rq, rw)
                bias = (rel_h[..., :, None] + rel_w[..., None, :]).reshape(b, heads, h * w, h * w)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            out = out.view(b, heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
            return self.proj(out)

    return SdpaAttention


def accelerate(encoder: Any, dtype: Any) -> Any:
    """Turn a stock ``ImageEncoderViT`` (weights loaded) into the fast one, in place: SDPA
    attention in every block, parameters cast to ``dtype``. Returns the encoder."""
    from segment_anything.modeling.image_encoder import Attention

    sdpa = _sdpa_attention_class()
    for block in encoder.blocks:
        if isinstance(block.attn, Attention):
            block.attn = sdpa(block.attn)
    return encoder.to(dtype=dtype)
