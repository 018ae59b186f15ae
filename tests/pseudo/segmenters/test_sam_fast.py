"""The fast SAM encoder against segment_anything's own, on a small SAM whose relative position
terms are not zero (a fresh SAM starts them at zero, which would hide a wrong bias) and whose
window does not divide the token grid (so padded windows are exercised)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from hm_annotate.errors import HMError
from hm_annotate.pseudo.segmenters.sam import SamSegmenter, build_custom_sam
from hm_annotate.pseudo.segmenters.sam_fast import accelerate, torch_dtype
from tests.pseudo.scenes import scene

CONFIG = {
    "image_size": 128,
    "patch_size": 16,
    "encoder_embed_dim": 48,
    "encoder_depth": 3,
    "encoder_num_heads": 3,
    "encoder_global_attn_indexes": [1],
    "window_size": 3,
    "prompt_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_mlp_dim": 64,
    "decoder_num_heads": 2,
    "iou_head_hidden_dim": 32,
}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(5)
    sam = build_custom_sam(CONFIG)
    with torch.no_grad():
        for name, p in sam.named_parameters():
            if "rel_pos" in name:
                p.normal_(0.0, 0.5)
    path = tmp_path_factory.mktemp("sam") / "small.pth"
    torch.save(sam.state_dict(), path)
    return path


def frames(n: int) -> list[np.ndarray]:
    video, _ = scene(frames=n, height=96, width=144, athletes=2)
    return [video.read_frame(f) for f in video.frame_numbers]


def segmenter(checkpoint, **kw) -> SamSegmenter:
    return SamSegmenter(model="small", checkpoint=str(checkpoint), model_config=CONFIG, device="cpu", **kw)


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.float().flatten(1), b.float().flatten(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_encoder_output_matches_stock_per_image(checkpoint, dtype):
    sam = build_custom_sam(CONFIG).eval()
    sam.load_state_dict(torch.load(checkpoint))
    stock = sam.image_encoder
    fast = accelerate(copy.deepcopy(stock), dtype)
    assert all(p.dtype == dtype for p in fast.parameters())
    x = torch.stack([torch.as_tensor(f).permute(2, 0, 1).float() for f in frames(3)])
    x = sam.preprocess(torch.nn.functional.interpolate(x, size=(85, 128), mode="bilinear"))
    with torch.inference_mode():
        ref = stock(x)
        out = fast(x.to(dtype))
    assert out.shape == ref.shape == (3, 32, 8, 8)
    sims = cosine(ref, out)
    assert (sims >= 0.999).all(), sims
    # the bias matters: leaving the relative position terms out is far from stock
    for block in fast.blocks:
        block.attn.use_rel_pos = False
    with torch.inference_mode():
        assert (cosine(ref, fast(x.to(dtype))) < 0.99).all()


def test_fast_segmenter_masks_match_stock(checkpoint):
    fs = frames(4)
    box = np.array([[20, 10, 80, 90], [60, 5, 140, 92]], np.float64)
    stock = segmenter(checkpoint, fast=False)
    fast = segmenter(checkpoint)
    assert fast.describe()["fast"] and fast.describe()["precision"] == "float32"
    for a, b in zip(stock.prepare(fs), fast.prepare(fs), strict=True):
        assert cosine(a.features, b.features).item() >= 0.999
        for s, f in zip(stock.segment(a, box, [None, None], 0), fast.segment(b, box, [None, None], 0)):
            union = np.logical_or(s.mask, f.mask).sum()
            assert union > 0
            assert np.logical_and(s.mask, f.mask).sum() / union >= 0.99
            assert f.score == pytest.approx(s.score, abs=1e-3)


def test_bf16_segmenter_on_cpu(checkpoint):
    fs = frames(2)
    ref = segmenter(checkpoint).prepare(fs)
    half = segmenter(checkpoint, precision="bf16")
    out = half.prepare(fs)
    assert out[0].features.dtype == torch.bfloat16
    for a, b in zip(ref, out):
        assert cosine(a.features, b.features).item() >= 0.999
    [seg] = half.segment(out[0], np.array([[20, 10, 80, 90]]), [None], 0)
    assert seg.mask.shape == (96, 144) and np.isfinite(seg.score)


def test_precision_names():
    assert torch_dtype("auto", "cpu") == torch.float32
    assert torch_dtype("fp16", "cpu") == torch.float16
    with pytest.raises(HMError, match="unknown SAM precision 'fp8'"):
        torch_dtype("fp8", "cpu")


def test_compiled_encoder_matches_and_sees_one_batch_size(checkpoint):
    """torch.compile (inductor, on the CPU here): same embeddings as the plain fast encoder, and a
    smaller last batch is padded to the first batch's size instead of compiling again."""
    fs = frames(3)
    plain = segmenter(checkpoint).prepare(fs)
    compiled = segmenter(checkpoint, compile=True)
    full, short = compiled.prepare(fs), compiled.prepare(fs[:1])
    assert compiled.describe()["compile"] and len(short) == 1 and compiled._batch == 3
    for a, b in zip(plain, full, strict=True):
        assert cosine(a.features, b.features).item() >= 0.9999
    assert short[0].features.shape == (1, 32, 8, 8)
    assert cosine(plain[0].features, short[0].features).item() >= 0.9999
