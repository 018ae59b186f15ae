"""Pairs, temporal sampling, transitions, masks by frame number, joint augmentation, clip cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from baseline_model.config import DataConfig
from baseline_model.data import (
    Augment,
    DataError,
    FrameCache,
    MaskSource,
    MissingMasksError,
    PairDataset,
    build_splits,
    map_transitions,
    sample_positions,
    to_video_tensor,
)
from tests.baseline_model.synthetic_videos import (
    HEIGHT,
    WIDTH,
    box_mask,
    make_dataset,
    make_video,
    write_store,
)

SIZE = 56
SHAPE = (HEIGHT, WIDTH)


def data_cfg(**over) -> DataConfig:
    """A 9-frame, 56-pixel geometry (2 snippets of 4 frames at stride 5); frames need no resize."""
    base = dict(num_frames=9, num_snippets=2, snippet_len=4, snippet_stride=5, image_size=SIZE,
                resize=[WIDTH, HEIGHT], temporal_shift=[0, 0], normalisation="model_rgb",
                num_exemplars_vote=3)
    return DataConfig(**{**base, **over})


def _dataset(queries, pool, *, train=True, masks=None, frames=None, seed=0, **over):
    return PairDataset(queries, pool, data_cfg(**over), train=train, frames=frames or FrameCache(SHAPE),
                       masks=masks, seed=seed)


def _clip(video, num_frames, frames=None):
    """Positions, numbers and frames of the untrained (test-time) sampling of ``video``."""
    pos = sample_positions(len(video.frame_numbers), num_frames)
    return pos, np.asarray(video.frame_numbers)[pos], (frames or FrameCache(SHAPE)).frames(video, pos)


# ----------------------------------------------------------------------------- temporal sampling


def test_sample_positions_resamples_and_pads_like_the_reference_loader():
    assert sample_positions(5, 9).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    start, end = 489, 489 + 205
    reference = np.linspace(start, end, 103).astype(int) - start  # FineDiving loader, consecutive numbers
    assert np.array_equal(sample_positions(206, 103), reference)
    assert sample_positions(103, 103).tolist() == list(range(103))


def test_transitions_map_to_the_last_sampled_frame_of_the_preceding_step():
    numbers = np.array([10, 10, 11, 11, 12, 12, 13, 13, 14])
    assert map_transitions(numbers, [11, 13], 3).tolist() == [3, 7, -1]
    assert map_transitions(numbers, [], 2).tolist() == [-1, -1]
    assert map_transitions(numbers, [5, 99], 2).tolist() == [0, 8]  # clamped into the clip


def test_transition_mapping_matches_the_reference_label_change_rule():
    rng = np.random.default_rng(1)
    for _ in range(20):
        length = int(rng.integers(63, 274))
        start = int(rng.integers(0, 10000))
        t1, t2 = sorted(rng.choice(np.arange(start + 5, start + length - 5), 2, replace=False).tolist())
        labels = np.zeros(length, int)
        labels[t1 - start + 1:] = 1
        labels[t2 - start + 1:] = 2
        idx = sample_positions(length, 103)
        sampled = labels[idx].tolist()
        cats = sorted(set(sampled), key=sampled.index)
        firsts = [sampled.index(c) for c in cats]
        reference = [firsts[1] - 1, firsts[-1] - 1]
        numbers = np.arange(start, start + length)[idx]
        assert map_transitions(numbers, [t1, t2], 2).tolist() == reference


def test_sampling_uses_positions_when_frame_numbers_have_gaps():
    numbers = [100, 101, 105, 106, 200]
    video = make_video("gap/0", numbers, "107b", 50.0)
    pos, got_numbers, frames = _clip(video, 10)
    assert got_numbers.tolist() == [numbers[i] for i in [0, 0, 0, 1, 1, 2, 2, 3, 3, 4]]
    assert [int(frames[t, 0, 0, 1]) for t in range(10)] == [n % 251 for n in got_numbers]


def test_temporal_shift_moves_the_end_of_the_span():
    assert sample_positions(20, 5, shift=-4).tolist() == [0, 3, 7, 11, 15]
    assert sample_positions(20, 5, shift=2).tolist() == [0, 5, 10, 15, 19]  # clamped to the clip
    train, _ = make_dataset(n_train=4, length=30)
    ds = _dataset(train, train, temporal_shift=[-6, 0])
    ends = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        s = ds[0]
        ends.add(int(s["q_transitions"][1]))  # transitions follow the jittered sampling
    assert len(ends) > 1


# ----------------------------------------------------------------------------- pairs


def test_train_pairs_share_action_type_and_avoid_the_query_itself():
    train, test = make_dataset(n_train=9, n_test=3, length=12, types=("107b", "207c", "5253b"))
    lone = make_video("lone/0", list(range(10, 22)), "626c", 40.0)
    ds = _dataset([*train, lone], [*train, lone])
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            q, e = (ds.queries[k] if n == 0 else ds.pool[k] for n, k in enumerate(ds.pair(i)))
            assert e.metadata["action_type"] == q.metadata["action_type"]
            assert e.id != q.id or q.id == "lone/0"
            sample = ds[i]
            assert (sample["q_id"], sample["e_id"]) == (q.id, e.id)
    assert ds.pool[ds.pair(len(train))[1]].id == "lone/0"  # no other 626c: itself
    picks = set()
    for epoch in range(10):
        ds.set_epoch(epoch)
        picks.add(ds.pair(0)[1])
    assert len(picks) == 2  # 107b has three train videos: both others get drawn over epochs


def test_several_training_exemplars_per_query():
    train, _ = make_dataset(n_train=6, length=12)
    ds = _dataset(train, train, num_exemplars_train=3)
    assert len(ds) == 18
    assert [ds.pair(i)[0] for i in range(6)] == [0, 0, 0, 1, 1, 1]


def test_test_pairs_vote_over_train_exemplars_of_the_same_type():
    train, test = make_dataset(n_train=10, n_test=4, length=12)
    ds = _dataset(test, train, train=False)
    assert len(ds) == 4 * 3
    per_query: dict[int, list[int]] = {}
    for q, e in ds.pairs:
        per_query.setdefault(q, []).append(e)
        assert train[e].metadata["action_type"] == test[q].metadata["action_type"]
    assert all(len(set(v)) == 3 for v in per_query.values())
    assert _dataset(test, train, train=False).pairs == ds.pairs
    few = _dataset(test, train[:4], train=False)   # two of each type: fewer than M
    assert len(few) == 4 * 2


def test_dd_mode_groups_by_difficulty_and_keeps_raw_scores():
    train, _ = make_dataset(n_train=6, length=12)
    for i, v in enumerate(train):
        v.metadata["difficulty"] = 2.0 if i < 3 else 3.5
    ds = _dataset(train, train, exemplar_mode="dd")
    for i in range(len(ds)):
        q, e = ds.pair(i)
        assert ds.queries[q].metadata["difficulty"] == ds.pool[e].metadata["difficulty"]
    s = ds[4]
    assert s["q_score"].item() == pytest.approx(train[4].metadata["score"])  # the loss divides
    assert s["q_difficulty"].item() == 3.5


def test_pairs_and_augmentations_depend_only_on_seed_epoch_and_index():
    train, _ = make_dataset(n_train=6, length=12)
    a, b = _dataset(train, train, seed=3), _dataset(train, train, seed=3)
    for ds in (a, b):
        ds.set_epoch(2)
    sa, sb = a[4], b[4]
    assert sa["e_id"] == sb["e_id"]
    assert torch.equal(sa["q_video"], sb["q_video"])
    a.set_epoch(3)
    assert any(not torch.equal(a[i]["q_video"], b[i]["q_video"]) for i in range(len(a)))


def test_missing_action_type_in_training_split_is_a_clear_error():
    train, test = make_dataset(n_train=4, n_test=2, length=12)
    odd = make_video("test_ev/odd", list(range(5, 17)), "109b", 33.0, split="test")
    with pytest.raises(DataError, match="109b.*test_ev/odd"):
        _dataset([*test, odd], train, train=False)


def test_video_without_score_is_rejected():
    train, _ = make_dataset(n_train=2, length=12)
    bad = make_video("x/0", list(range(12)), "107b", 1.0)
    bad.metadata.pop("score")
    with pytest.raises(DataError, match="x/0.*score"):
        _dataset([*train, bad], train)


# ----------------------------------------------------------------------------- samples and batches


def test_batch_has_the_documented_keys_shapes_and_values(tmp_path):
    train, test = make_dataset(n_train=6, n_test=2, length=20)
    write_store(tmp_path / "m.h5", [*train, *test])
    masks = MaskSource(str(tmp_path / "m.h5"), "corrected")
    splits = build_splits(train, test, data_cfg(), seed=0, masks=masks, progress=False)
    assert splits.frames.enabled and len(splits.frames) == 8
    batch = next(iter(torch.utils.data.DataLoader(splits.train, batch_size=3)))
    for p in ("q", "e"):
        assert batch[f"{p}_video"].shape == (3, 3, 9, SIZE, SIZE)
        assert batch[f"{p}_video"].dtype == torch.float32
        assert batch[f"{p}_mask"].shape == (3, 1, 9, SIZE, SIZE)
        assert set(torch.unique(batch[f"{p}_mask"]).tolist()) <= {0.0, 1.0}
        assert batch[f"{p}_transitions"].shape == (3, 2) and batch[f"{p}_transitions"].dtype == torch.long
        assert batch[f"{p}_score"].shape == (3,) and batch[f"{p}_difficulty"].shape == (3,)
        assert len(batch[f"{p}_id"]) == 3
    by_id = {v.id: v for v in train}
    assert batch["q_score"].tolist() == pytest.approx([by_id[i].metadata["score"] for i in batch["q_id"]])
    # 20 frames -> 9 samples at positions [0,2,4,7,9,11,14,16,19]; transitions at frames +6, +13
    assert batch["q_transitions"][0].tolist() == [2, 5]
    assert len(splits.test) == 2 * 3


def test_without_masks_the_batch_has_no_mask_keys():
    train, _ = make_dataset(n_train=4, length=12)
    sample = _dataset(train, train)[0]
    assert "q_mask" not in sample and "e_mask" not in sample


def test_normalisations():
    clip = np.full((2, 4, 4, 3), 255, np.uint8)
    assert torch.allclose(to_video_tensor(clip, "i3d_rgb_imagenet"), torch.ones(3, 2, 4, 4))
    im = to_video_tensor(clip, "model_rgb")
    assert im[0, 0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229)
    with pytest.raises(DataError, match="unknown normalisation"):
        to_video_tensor(clip, "bogus")


# ----------------------------------------------------------------------------- masks


def test_masks_are_matched_by_frame_number_not_position(tmp_path):
    # the store starts 7 frames before the clip: positional matching would shift every mask
    video = make_video("ev/1", list(range(489, 489 + 30)), "107b", 60.0)
    write_store(tmp_path / "m.h5", [video], extra=7)
    pos, numbers, frames = _clip(video, 12)
    got = MaskSource(str(tmp_path / "m.h5"), "corrected").get(video, SHAPE)[pos]
    expected = np.stack([box_mask(int(n)) for n in numbers])
    assert np.array_equal(got, expected)
    assert np.array_equal(frames[..., 2] == 255, expected.astype(bool))  # on the frame's own box


def test_masks_stored_at_another_resolution_are_resized_to_the_frames(tmp_path):
    video = make_video("ev/2", list(range(50, 70)), "107b", 60.0)
    write_store(tmp_path / "m.h5", [video], size=(2 * HEIGHT, 2 * WIDTH))
    got = MaskSource(str(tmp_path / "m.h5"), "corrected").get(video, SHAPE)
    assert got.shape == (20, HEIGHT, WIDTH)
    assert np.array_equal(got, np.stack([box_mask(n) for n in video.frame_numbers]))


def test_frames_and_masks_resized_together_from_larger_sources(tmp_path):
    big = make_video("ev/9", list(range(0, 6)), "107b", 60.0)
    write_store(tmp_path / "m.h5", [big])
    half = (HEIGHT // 2, WIDTH // 2)
    frames = FrameCache(half).frames(big, np.arange(6))
    masks = MaskSource(str(tmp_path / "m.h5"), "corrected").get(big, half)
    assert frames.shape == (6, *half, 3) and masks.shape == (6, *half)
    assert np.array_equal(frames[..., 2] >= 128, masks.astype(bool))


def _windows(sample: np.ndarray, raw: np.ndarray) -> set[bool]:
    """Flip values of every (top, left, flip) window of ``raw`` that equals ``sample``."""
    size = sample.shape[0]
    found = set()
    for flip in (False, True):
        src = raw[:, ::-1] if flip else raw
        for top in range(raw.shape[0] - size + 1):
            for left in range(raw.shape[1] - size + 1):
                if np.array_equal(src[top:top + size, left:left + size], sample):
                    found.add(flip)
    return found


def test_flip_and_crop_keep_masks_on_their_frames(tmp_path):
    train, _ = make_dataset(n_train=6, length=16)
    write_store(tmp_path / "m.h5", train)
    ds = _dataset(train, train, masks=MaskSource(str(tmp_path / "m.h5"), "corrected"))
    by_id = {v.id: v for v in train}
    flips: set[bool] = set()
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            s = ds[i]
            for p in ("q", "e"):
                white = (s[f"{p}_video"][2] * 0.225 + 0.406) > 0.99   # blue = 255 only on the box
                assert torch.equal(white, s[f"{p}_mask"][0].bool())
                assert s[f"{p}_mask"].sum() > 0
            rgb = ((s["q_video"][:, 0].permute(1, 2, 0) * torch.tensor([0.229, 0.224, 0.225])
                    + torch.tensor([0.485, 0.456, 0.406])) * 255).round().to(torch.uint8).numpy()
            found = _windows(rgb, ds.frames.frames(by_id[s["q_id"]], np.zeros(1, np.int64))[0])
            assert len(found) == 1, "the sample is not exactly one crop of its clip"
            flips |= found
    assert flips == {True, False}
    ds = _dataset(train, train, horizontal_flip=False)
    ds.set_epoch(1)
    for i in range(len(ds)):
        rgb = ((ds[i]["q_video"][:, 0].permute(1, 2, 0) * torch.tensor([0.229, 0.224, 0.225])
                + torch.tensor([0.485, 0.456, 0.406])) * 255).round().to(torch.uint8).numpy()
        assert _windows(rgb, ds.frames.frames(ds.queries[i], np.zeros(1, np.int64))[0]) == {False}


def test_augment_centre_crop_and_random_window_bounds():
    aug = Augment.draw((64, 112), 56, None)
    assert (aug.top, aug.left, aug.flip) == (4, 28, False)
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = Augment.draw((64, 112), 56, rng)
        assert 0 <= a.top <= 8 and 0 <= a.left <= 56
    clip = np.arange(2 * 64 * 112).reshape(2, 64, 112)
    out = Augment(1, 2, 56, True).apply(clip)
    assert out.shape == (2, 56, 56) and out[0, 0, 0] == clip[0, 1, 57]


def test_missing_masks_raise_listing_ids_or_become_empty_when_allowed(tmp_path):
    train, _ = make_dataset(n_train=8, length=12)
    write_store(tmp_path / "m.h5", train[:5])
    strict = MaskSource(str(tmp_path / "m.h5"), "corrected")
    with pytest.raises(MissingMasksError, match=r"3 video\(s\).*train_ev/5.*train_ev/6.*allow_missing=True"):
        strict.check(train)
    lenient = MaskSource(str(tmp_path / "m.h5"), "corrected", allow_missing=True)
    lenient.check(train)
    assert lenient.missing == {"train_ev/5": 12, "train_ev/6": 12, "train_ev/7": 12}
    assert not lenient.get(train[6], SHAPE).any()
    assert lenient.get(train[1], SHAPE).any(axis=(1, 2)).all()


def test_missing_frames_inside_a_stored_video_are_counted(tmp_path):
    video = make_video("ev/3", list(range(0, 30)), "107b", 60.0)
    write_store(tmp_path / "m.h5", [make_video("ev/3", list(range(0, 15)), "107b", 60.0)])  # first half
    with pytest.raises(MissingMasksError, match=r"ev/3 \(15 frames\)"):
        MaskSource(str(tmp_path / "m.h5"), "corrected").check([video])
    with pytest.raises(MissingMasksError, match=r"ev/3: no 'corrected' mask for frames \[15, 16"):
        MaskSource(str(tmp_path / "m.h5"), "corrected").get(video, SHAPE)
    got = MaskSource(str(tmp_path / "m.h5"), "corrected", allow_missing=True).get(video, SHAPE)
    assert got[:15].any(axis=(1, 2)).all() and not got[15:].any()


def test_curated_layer_and_unknown_layer(tmp_path):
    video = make_video("ev/4", list(range(0, 10)), "107b", 60.0)
    write_store(tmp_path / "m.h5", [video], layer="pseudo", offset=3)
    write_store(tmp_path / "m.h5", [make_video("ev/4", list(range(0, 5)), "107b", 60.0)], layer="corrected")
    got = MaskSource(str(tmp_path / "m.h5"), "curated").get(video, SHAPE)
    expected = [box_mask(n) if n < 5 else box_mask(n + 3) for n in range(10)]
    assert np.array_equal(got, np.stack(expected))
    with pytest.raises(DataError, match="mask layer"):
        MaskSource(str(tmp_path / "m.h5"), "gt")


# ----------------------------------------------------------------------------- cache


def test_frame_cache_decodes_each_video_once():
    reads: list[int] = []
    video = make_video("ev/5", list(range(40)), "107b", 50.0, reads=reads)
    ds = _dataset([video], [video])
    for epoch in range(3):
        ds.set_epoch(epoch)
        ds[0]
    assert sorted(reads) == list(range(40))
    reads.clear()
    off = FrameCache(SHAPE, enabled=False)
    off.frames(video, sample_positions(40, 9))
    off.frames(video, sample_positions(40, 9))
    assert len(reads) == 2 * 9 and len(off) == 0


def test_test_samples_are_the_centre_crop_without_flip():
    train, test = make_dataset(n_train=2, n_test=1, length=9)
    ds = _dataset(test, train, train=False, num_exemplars_vote=1)
    _, numbers, frames = _clip(test[0], 9)
    assert torch.equal(ds[0]["q_video"], to_video_tensor(frames[:, 4:60, 28:84], "model_rgb"))
    assert numbers.tolist() == list(test[0].frame_numbers)


def test_reference_resize_mode_squeezes_a_456x256_frame_to_256_wide_455_high():
    from baseline_model.data import frame_shape

    wide = make_video("wide/0", list(range(3)), "107b", 50.0)
    frame = np.zeros((256, 456, 3), np.uint8)
    frame[:, :228] = 255  # left half white
    wide = dataclasses.replace(wide, read_frame=lambda n: frame)
    reference = frame_shape(data_cfg(resize=[455, 256], image_size=224, resize_mode="reference"))
    aspect = frame_shape(data_cfg(resize=[455, 256], image_size=224, resize_mode="aspect"))
    assert reference == (455, 256) and aspect == (256, 455)  # (height, width)
    out = FrameCache(reference).frames(wide, np.arange(3))
    assert out.shape == (3, 455, 256, 3)
    assert out[:, :, :126].min() == 255 and out[:, :, 130:].max() == 0  # squeezed sideways, not cropped
    assert FrameCache(aspect).frames(wide, np.arange(1)).shape == (1, 256, 455, 3)
