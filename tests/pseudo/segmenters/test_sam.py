from __future__ import annotations

import numpy as np
import pytest
import torch

from hm_annotate.pseudo.segmenters.sam import (
    SamCheckpointError,
    SamSegmenter,
    architecture_of,
    build_custom_sam,
    locate_checkpoint,
    read_state_dict,
)
from hm_annotate.weights import sha256_file
from tests.pseudo.tiny_sam import TINY_CONFIG, save_tiny_sam


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "tiny.pth")


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


def frames(n: int, h: int = 72, w: int = 96) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_tiny_checkpoint_loads_and_segments(tiny):
    seg = SamSegmenter(model="tiny", checkpoint=str(tiny), model_config=TINY_CONFIG, device="cpu")
    images = seg.prepare(frames(3))
    out = seg.segment(images[1], np.array([[10, 10, 50, 60], [40, 5, 90, 70]]), [None, None], seed=0)
    assert len(out) == 2
    for o in out:
        assert o.mask.shape == (72, 96) and o.mask.dtype == bool
        assert np.isfinite(o.score)
    d = seg.describe()
    assert d["checkpoint_sha256"] == sha256_file(tiny) and d["model_config"] == TINY_CONFIG


def test_batched_encoder_matches_one_frame_at_a_time(tiny):
    seg = SamSegmenter(model="tiny", checkpoint=str(tiny), model_config=TINY_CONFIG, device="cpu")
    fs = frames(3)
    batched = seg.prepare(fs)
    single = [seg.prepare([f])[0] for f in fs]
    for a, b in zip(batched, single):
        assert a.features.shape == (1, 32, 4, 4)
        torch.testing.assert_close(a.features, b.features, rtol=1e-4, atol=1e-5)
        assert a.original_size == (72, 96) and a.input_size == (48, 64)


def test_multimask_picks_highest_predicted_iou(tiny):
    """The chosen mask and score are the decoder's best of three, recomputed here by hand."""
    seg = SamSegmenter(model="tiny", checkpoint=str(tiny), model_config=TINY_CONFIG, device="cpu")
    single = SamSegmenter(
        model="tiny", checkpoint=str(tiny), model_config=TINY_CONFIG, device="cpu", multimask=False
    )
    [image] = seg.prepare(frames(1))
    box = np.array([[10, 10, 50, 60]])
    sam = seg._sam
    with torch.inference_mode():
        prompt = torch.as_tensor(seg._transform.apply_boxes(box.astype(float), (72, 96)), dtype=torch.float)
        sparse, dense = sam.prompt_encoder(points=None, boxes=prompt, masks=None)
        low, iou = sam.mask_decoder(
            image_embeddings=image.features,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        masks = sam.postprocess_masks(low, image.input_size, image.original_size) > 0
    best = int(iou[0].argmax())
    [out] = seg.segment(image, box, [None], seed=0)
    assert out.score == pytest.approx(float(iou[0, best]))
    assert np.array_equal(out.mask, masks[0, best].numpy())
    [one] = single.segment(image, box, [None], seed=0)
    assert np.isfinite(one.score)


def test_missing_checkpoint_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HM_ANNOTATE_CACHE", str(tmp_path))
    with pytest.raises(SamCheckpointError) as err:
        locate_checkpoint("vit_b", None)
    msg = str(err.value)
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in msg
    assert "hm-annotate weights download vit_b" in msg and str(tmp_path) in msg
    with pytest.raises(SamCheckpointError, match="does not exist"):
        SamSegmenter(model="vit_b", checkpoint=str(tmp_path / "nope.pth"), device="cpu")


def test_a_file_that_is_not_sam_is_refused(tmp_path, tiny):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    with pytest.raises(SamCheckpointError, match="notes.pth is not a SAM checkpoint"):
        SamSegmenter(model="vit_b", checkpoint=str(text), device="cpu")
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(2)}, other)
    with pytest.raises(
        SamCheckpointError, match=r"resnet.pth is not a SAM checkpoint \(a PyTorch file holding keys"
    ):
        SamSegmenter(model="vit_b", checkpoint=str(other), device="cpu")


def test_random_bytes_are_refused_with_one_clear_error(tmp_path):
    blob = tmp_path / "blob.pth"
    blob.write_bytes(np.random.default_rng(198).bytes(2048))  # this seed made torch raise KeyError
    with pytest.raises(SamCheckpointError, match="blob.pth is not a SAM checkpoint"):
        read_state_dict(blob)


def test_a_sam_of_another_size_is_named(tiny):
    state = read_state_dict(tiny)
    assert architecture_of(state) == (32, 2)
    with pytest.raises(SamCheckpointError, match=r"width 32 and depth 2, not SAM vit_b's 768 x 12"):
        SamSegmenter(model="vit_b", checkpoint=str(tiny), device="cpu")
    wrong = dict(TINY_CONFIG, encoder_embed_dim=64)
    with pytest.raises(SamCheckpointError, match="does not fit the SAM model_config"):
        SamSegmenter(model="tiny", checkpoint=str(tiny), model_config=wrong, device="cpu")
    with pytest.raises(SamCheckpointError, match="unknown SAM model_config keys"):
        build_custom_sam({"depth": 3})


def test_each_process_of_a_per_gpu_launcher_takes_its_own_gpu():
    from hm_annotate.pseudo.segmenters.sam import local_gpu

    assert local_gpu({}, 8) is None
    assert local_gpu({"LOCAL_RANK": "3", "RANK": "11"}, 8) == 3
    assert local_gpu({"SLURM_LOCALID": "9"}, 8) == 1  # more processes than GPUs: they share
    assert local_gpu({"LOCAL_RANK": "0"}, 0) is None
