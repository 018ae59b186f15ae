from __future__ import annotations

import numpy as np
import pytest
import torch

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.segmenters.prior_prompts import PriorPrompter
from hm_annotate.pseudo.segmenters.sam import (
    SamCheckpointError,
    SamSegmenter,
    architecture_of,
    build_custom_sam,
    locate_checkpoint,
    read_state_dict,
)
from hm_annotate.weights import sha256_file
from tests.pseudo.footage import CAR_BOX, OFF_THE_MAN, carphone, man_mask
from tests.pseudo.tiny_sam import TINY_CONFIG, one_torch_thread, save_tiny_sam, tiny_pipeline_yaml


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_sam(tmp_path_factory.mktemp("sam") / "tiny.pth")


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


def frames(n: int, h: int = 72, w: int = 96) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def decode_by_hand(seg, image, box: np.ndarray, points: np.ndarray | None = None):
    """segment_anything's prompt encoder and mask decoder on one box (1 x 4) and its positive
    points (1 x n x 2) in frame pixels: the three masks and their predicted IoUs."""
    sam = seg._sam
    size = image.original_size
    with torch.inference_mode():
        prompt = torch.as_tensor(seg._transform.apply_boxes(box.astype(float), size), dtype=torch.float)
        clicks = None
        if points is not None:
            coords = torch.as_tensor(seg._transform.apply_coords(points, size), dtype=torch.float)
            clicks = coords, torch.ones(coords.shape[:2], dtype=torch.int)
        sparse, dense = sam.prompt_encoder(points=clicks, boxes=prompt, masks=None)
        low, iou = sam.mask_decoder(
            image_embeddings=image.features,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )
        masks = sam.postprocess_masks(low, image.input_size, size) > 0
    return masks, iou


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
    masks, iou = decode_by_hand(seg, image, box)
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


# --- the human prior (prior_prompts) on real frames: carphone's man, a tiny SAM ---

NOBODY = np.array([0.0, 0.0, 60.0, 50.0])  # the car's rear window: no person there


@pytest.fixture(scope="module")
def car(tiny):
    """A SAM without and one with the prior, carphone frame 0 through each, the man's mask."""
    pytest.importorskip("ai_edge_litert")
    with one_torch_thread():
        kw = {"model": "tiny", "checkpoint": str(tiny), "model_config": TINY_CONFIG, "device": "cpu"}
        plain, prior = SamSegmenter(**kw), SamSegmenter(prior={}, **kw)
        frame = carphone(1)[0]
        [a], [b] = plain.prepare([frame]), prior.prepare([frame])
    return plain, a, prior, b, frame, man_mask(frame)


def test_with_the_prior_off_or_agreeing_boxes_sam_gets_the_tracked_boxes_alone(car):
    """Prior off: the masks of box prompts (as before the prior existed); prior on, a box that
    agrees with the man's (a carried mask) or one where the prior sees nobody: the same bytes."""
    plain, a, prior, b, _, man = car
    both = np.stack([CAR_BOX, NOBODY])
    off = plain.segment(a, both, [man, man], 0)
    on = prior.segment(b, both, [man, man], 0)
    assert [p.reason for p in prior.last_prompts] == ["tracked", "unseen"]
    assert all(np.array_equal(p.box, q) and len(p.points) == 0 for p, q in zip(prior.last_prompts, both))
    for i, (x, y) in enumerate(zip(off, on)):
        masks, iou = decode_by_hand(plain, a, both[i : i + 1])
        assert np.array_equal(x.mask, masks[0, int(iou[0].argmax())].numpy())
        assert np.array_equal(x.mask, y.mask) and x.score == y.score
    assert plain.describe()["prior"] is None and prior.describe()["prior"]["min_iou"] == 0.5


def test_a_box_moved_off_the_man_reaches_sam_as_his_box_and_body_points(car):
    plain, a, prior, b, frame, man = car
    [out] = prior.segment(b, OFF_THE_MAN[None], [man], 0)
    [sent] = prior.last_prompts
    want = PriorPrompter().prompt(frame, OFF_THE_MAN, carried=man)
    assert sent.reason == want.reason == "drift"
    assert np.array_equal(sent.box, want.box) and np.array_equal(sent.points, want.points)
    assert boxes.iou(sent.box, boxes.of_mask(man)) > 0.9 and len(sent.points) >= 3
    masks, iou = decode_by_hand(plain, a, sent.box[None], sent.points[None])
    assert np.array_equal(out.mask, masks[0, int(iou[0].argmax())].numpy())
    assert out.score == pytest.approx(float(iou[0].max()))
    [moved] = plain.segment(a, OFF_THE_MAN[None], [man], 0)
    assert not np.array_equal(out.mask, moved.mask)  # without the prior SAM saw the moved box


def test_boxes_sharing_a_frame_get_the_masks_of_their_prompts_alone(car):
    """An agreeing box, the same box fresh, a box off the man (his mask is the boxes' nearer his
    middle: refused) and an empty spot, decoded in batches by number of points: each mask and
    score as when its prompt is decoded alone; the sure boxes' masks as with the prior off, where
    all four boxes share one batch (the same bytes here; batches of other sizes may round
    differently on other devices, so this holds for the CPU)."""
    plain, a, prior, b, _, man = car
    four = np.stack([CAR_BOX, CAR_BOX, OFF_THE_MAN, NOBODY])
    together = prior.segment(b, four, [man, None, man, man], 0)
    sent = prior.last_prompts
    assert [p.reason for p in sent] == ["tracked", "fresh", "unseen", "unseen"]
    for p, got in zip(sent, together, strict=True):
        masks, iou = decode_by_hand(plain, a, p.box[None], p.points[None] if len(p.points) else None)
        assert np.array_equal(got.mask, masks[0, int(iou[0].argmax())].numpy())
        assert got.score == pytest.approx(float(iou[0].max()), abs=1e-6)
    off = plain.segment(a, four, [man, None, man, man], 0)
    for i in (0, 2, 3):
        assert np.array_equal(together[i].mask, off[i].mask)
        assert together[i].score == pytest.approx(off[i].score, abs=1e-6)


def test_a_pipeline_file_with_the_prior_runs_end_to_end(tmp_path, tiny):
    """``segmenter.params.prior`` in a pipeline YAML: the CLI labels four carphone frames with a
    tiny SAM; the prompted first frame (no carried mask) gets the man's points, so its mask
    differs from the run without the prior, and the provenance records the prior's settings."""
    pytest.importorskip("ai_edge_litert")
    import cv2
    import yaml

    from hm_annotate.cli import main
    from hm_annotate.store import MaskStore

    folder = tmp_path / "data" / "car"
    folder.mkdir(parents=True)
    for n, frame in enumerate(carphone(4)):
        cv2.imwrite(str(folder / f"{n:05d}.png"), frame[..., ::-1])
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("video_id,frame,x0,y0,x1,y1\ncar,0,30,14,176,144\n")
    stored = {}
    for name, prior in (("off", None), ("on", {"min_iou": 0.5})):
        pipeline = tiny_pipeline_yaml(tmp_path / f"{name}.yaml", tiny)
        doc = yaml.safe_load(pipeline.read_text())
        if prior is not None:
            doc["segmenter"]["params"]["prior"] = prior
        pipeline.write_text(yaml.safe_dump(doc))
        out = tmp_path / f"{name}.h5"
        argv = ["pseudo-label", "--dataset-format", "videos", "--data-root", str(tmp_path / "data")]
        argv += ["--out", str(out), "--pipeline", str(pipeline), "--prompts", str(prompts), "--quiet"]
        with one_torch_thread():
            main(argv)  # returns on success, exits on failure
        with MaskStore.open(out) as st:
            stored[name] = st.read("car", "pseudo")
    on, off = stored["on"], stored["off"]
    assert len(on.frames) == 4 and np.isfinite(on.scores).all()
    assert on.masks[0] != off.masks[0]
    seg = on.provenance[0]["parameters"]["segmenter"]
    assert seg["prior"]["min_iou"] == 0.5 and seg["prior"]["enlarge"] == 2.0
    assert off.provenance[0]["parameters"]["segmenter"]["prior"] is None


def test_an_unknown_prior_key_in_a_pipeline_file_is_refused(tmp_path, tiny):
    import yaml

    from hm_annotate.pseudo.config import ConfigError, load_pipeline

    pipeline = tiny_pipeline_yaml(tmp_path / "bad.yaml", tiny)
    doc = yaml.safe_load(pipeline.read_text())
    doc["segmenter"]["params"]["prior"] = {"min_ioo": 0.5}
    pipeline.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"segmenter/params/prior.*min_ioo"):
        load_pipeline(pipeline)
