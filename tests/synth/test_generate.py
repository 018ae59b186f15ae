import filecmp
import shutil

import cv2
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.datasets import load_videos
from hm_annotate.store import MaskStore, validate
from hm_annotate.synth import SynthError, generate
from hm_annotate.synth.annotations import FILES
from hm_annotate.synth.plan import plan_dataset

META = (
    "action_type",
    "score",
    "difficulty",
    "judge_scores",
    "split",
    "step_transitions",
    "event",
    "sport",
    "athletes",
)


def _plans(params):
    return plan_dataset(params["videos"], params["seed"], params["sync_fraction"], params["frames"])


def test_summary_and_layout(dataset, synth_params):
    out, summary = dataset
    plans = _plans(synth_params)
    assert summary["videos"] == 4 and summary["rendered"] == 4 and summary["sync_videos"] == 2
    assert (summary["height"], summary["width"]) == (96, 170)
    assert summary["frames"] == sum(p.n_frames for p in plans)
    for p in plans:
        for root in ("FINADiving_MTL_256s", "diving_mask_annotation_gray"):
            names = sorted(f.name for f in (out / root / p.event / str(p.instance)).iterdir())
            assert names == [f"{n:05d}.jpg" for n in p.frame_numbers]
        frame = cv2.imread(str(out / "FINADiving_MTL_256s" / p.video_id / f"{p.start_frame:05d}.jpg"))
        assert frame.shape == (96, 170, 3)


def test_store_is_valid_and_holds_the_exact_masks_with_metadata(dataset, synth_params):
    out, _ = dataset
    assert validate(out / "gt_masks.h5") == []
    plans = {p.video_id: p for p in _plans(synth_params)}
    with MaskStore.open(out / "gt_masks.h5") as st:
        assert st.videos() == sorted(plans)
        for vid, p in plans.items():
            assert st.layers(vid) == ["corrected"]
            assert st.metadata(vid) == p.metadata()
            data = st.read(vid, "corrected")
            assert data.frames.tolist() == p.frame_numbers.tolist()
            assert (data.height, data.width) == (96, 170)
            counts = np.array([len(m) for m in data.masks])
            assert (counts > 0).mean() > 0.7
            if p.sync:
                assert (counts == 2).mean() > 0.6
                assert all(ids in ([1], [2], [1, 2], []) for ids in data.object_ids)
            else:
                assert counts.max() == 1
            # the FineDiving-HM gray masks threshold back to the store's union masks
            frames, union = st.masks(vid, "corrected")
            for n, m in zip(frames, union, strict=True):
                gray = cv2.imread(str(out / "diving_mask_annotation_gray" / vid / f"{n:05d}.jpg"), 0)
                assert np.array_equal(gray >= 128, m.astype(bool))
            assert st.metadata(vid)["step_transitions"] == [
                p.start_frame + p.takeoff_end,
                p.start_frame + p.flight_end,
            ]


def test_same_seed_same_bytes_whatever_the_worker_count(dataset, synth_params, tmp_path):
    out, _ = dataset
    again = tmp_path / "again"
    generate(again, workers=2, **synth_params)
    for name in FILES:
        assert filecmp.cmp(out / "Annotations" / name, again / "Annotations" / name, shallow=False)
    with MaskStore.open(out / "gt_masks.h5") as a, MaskStore.open(again / "gt_masks.h5") as b:
        assert a.videos() == b.videos()
        for vid in a.videos():
            da, db = a.read(vid, "corrected"), b.read(vid, "corrected")
            assert da.masks == db.masks and da.object_ids == db.object_ids
            assert a.metadata(vid) == b.metadata(vid)
            first = f"{vid}/{int(da.frames[len(da.frames) // 2]):05d}.jpg"
            assert filecmp.cmp(
                out / "FINADiving_MTL_256s" / first, again / "FINADiving_MTL_256s" / first, shallow=False
            )


def test_an_interrupted_run_is_finished_by_running_it_again(tmp_path):
    params = dict(videos=2, seed=3, sync_fraction=0.5, height=64, frames=26)
    out = tmp_path / "ds"
    generate(out, **params)
    keep = {n: (out / "Annotations" / n).read_bytes() for n in FILES}
    with MaskStore.open(out / "gt_masks.h5") as st:
        before = {v: st.read(v, "corrected").masks for v in st.videos()}
    # as if killed while rendering the second video: no annotations, its frames half written
    shutil.rmtree(out / "Annotations")
    victim = plan_dataset(2, 3, 0.5, 26)[1]
    frames = sorted((out / "FINADiving_MTL_256s" / victim.video_id).iterdir())
    for f in frames[len(frames) // 2 :]:
        f.unlink()
    summary = generate(out, **params)
    assert summary["rendered"] == 1
    assert {n: (out / "Annotations" / n).read_bytes() for n in FILES} == keep
    with MaskStore.open(out / "gt_masks.h5") as st:
        assert {v: st.read(v, "corrected").masks for v in st.videos()} == before
    assert len(list((out / "FINADiving_MTL_256s" / victim.video_id).iterdir())) == victim.n_frames
    # a finished folder is left as it is
    assert generate(out, **params)["rendered"] == 0


def test_other_parameters_or_a_foreign_folder_are_refused(dataset, synth_params, tmp_path):
    out, _ = dataset
    with pytest.raises(SynthError, match="seed=7 \\(now 8\\)"):
        generate(out, **{**synth_params, "seed": 8})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SynthError, match="not empty"):
        generate(foreign, videos=1, seed=1)
    with pytest.raises(SynthError, match="height"):
        generate(tmp_path / "small", videos=1, seed=1, height=32)


def test_the_finediving_adapter_reads_everything_back(dataset, synth_params):
    out, _ = dataset
    videos = {v.id: v for v in load_videos("finediving", out)}
    plans = {p.video_id: p for p in _plans(synth_params)}
    assert sorted(videos) == sorted(plans)
    assert {v.id for v in load_videos("finediving", out, split="test")} == {
        k for k, p in plans.items() if p.split == "test"
    }
    with MaskStore.open(out / "gt_masks.h5") as st:
        for vid, v in videos.items():
            p = plans[vid]
            assert list(v.frame_numbers) == p.frame_numbers.tolist()
            stored = st.metadata(vid)
            assert {k: v.metadata[k] for k in META} == {k: stored[k] for k in META}
            assert v.metadata["frames_labels"] == p.frames_labels().tolist()
            frame = v.read_frame(p.start_frame)
            assert frame.shape == (96, 170, 3) and frame.dtype == np.uint8
            # masks line up with the frames the adapter reads: the athlete is not the venue
            data = st.read(vid, "corrected")
            i = int(np.argmax([rle.area([rle.union(m, (96, 170))])[0] for m in data.masks]))
            assert rle.area([data.union(i)])[0] > 30
