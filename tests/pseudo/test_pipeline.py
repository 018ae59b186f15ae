from __future__ import annotations

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.config import PipelineConfig, Stage, TargetRules
from hm_annotate.pseudo.pipeline import Components, PipelineError, Timings, VideoFailed, label_video, run
from hm_annotate.reporting import Reporter
from hm_annotate.store import MaskStore
from tests.pseudo.scenes import first_box, scene
from tests.pseudo.tiny_sam import TINY_CONFIG, save_tiny_sam


def j_mean(data, gt: np.ndarray) -> float:
    return float(np.mean([rle.iou(data.union(i), rle.encode(gt[i])) for i in range(len(gt))]))


def prompts_file(tmp_path, rows) -> str:
    p = tmp_path / "prompts.csv"
    p.write_text("".join(f"{v},{f},{x0},{y0},{x1},{y1},{o}\n" for v, f, (x0, y0, x1, y1), o in rows))
    return str(p)


def parts(tmp_path=None, rows=(), segmenter=None, tracker="mask-flow", detector=None, **kw):
    prompts = prompts_file(tmp_path, rows) if rows else None
    cfg = PipelineConfig(
        name="test",
        segmenter=segmenter or Stage("grabcut"),
        tracker=Stage(tracker),
        detector=detector,
        prompts=prompts,
        **kw,
    )
    return Components.build(cfg)


@pytest.mark.parametrize(("tracker", "goal"), [("mask-flow", 0.9), ("csrt", 0.8), ("kcf", 0.6)])
def test_prompted_video(tmp_path, tracker, goal):
    video, gt = scene(frames=20)
    p = parts(tmp_path, [("v/1", 100, first_box(gt[0]), 1)], tracker=tracker)
    timings = Timings()
    data = label_video(video, p, timings=timings)
    assert data.frames.tolist() == list(video.frame_numbers)
    assert (data.height, data.width) == gt.shape[1:]
    assert all(len(objs) == 1 for objs in data.masks) and data.object_ids[0] == [1]
    assert j_mean(data, gt) > goal
    assert set(data.quality) == {"iou_prev", "area_jump", "empty", "touches_border", "reacquired", "runaway"}
    assert np.isfinite(data.scores).all()
    assert timings.frames == 20 and timings.seconds["segmenter"] > 0
    rec = data.provenance[0]
    assert rec["segmenter"] == "grabcut" and rec["tracker"] == tracker and "prompts.csv" in rec["prompts"]
    assert rec["tool"] == "hm-annotate pseudo-label" and rec["time"].endswith("Z")


def test_two_athletes_found_by_motion_without_prompts():
    video, gt = scene(frames=24, athletes=2)
    data = label_video(video, parts(detector=Stage("motion")))
    assert data.object_ids[0] == [1, 2] and all(len(objs) == 2 for objs in data.masks)
    assert j_mean(data, gt) > 0.75
    # object 1 is the left athlete, object 2 the right one
    boxes = rle.bbox([data.masks[5][0], data.masks[5][1]])
    assert boxes[0, 0] < boxes[1, 0]


def test_lost_target_is_found_again():
    """A cut moves the body 60 px: the tracker loses it and the motion detector finds it again."""
    video, gt = scene(frames=30, jump=(12, 60))
    data = label_video(video, parts(detector=Stage("motion")))
    assert not data.quality["reacquired"][1:12].any() and data.quality["reacquired"][12:16].any()
    after = [rle.iou(data.union(i), rle.encode(gt[i])) for i in range(18, 30)]
    assert np.mean(after) > 0.8


def test_unreadable_frame_fails_the_video_with_file_video_and_frame():
    video, _ = scene(frames=10, bad_frame=105)
    with pytest.raises(
        VideoFailed, match=r"video v/1: frame 105: /data/v/1/00105.jpg: frame 105 of video v/1"
    ):
        label_video(video, parts(detector=Stage("motion")))


def test_same_masks_whatever_the_batch_size_and_history(tmp_path):
    video, gt = scene(frames=15)
    rows = [("v/1", 100, first_box(gt[0]), 1)]
    a = label_video(video, parts(tmp_path, rows, batch_size=1))
    other, _ = scene("v/2", frames=8, seed=4)
    p = parts(tmp_path, rows, batch_size=6)
    with pytest.raises(VideoFailed):  # state left behind by a failed video must not matter
        label_video(scene("v/3", frames=10, bad_frame=104)[0], p)
    label_video(other, p)
    b = label_video(video, p)
    assert a.masks == b.masks
    np.testing.assert_array_equal(a.scores, b.scores)


def test_tiny_sam_through_the_pipeline(tmp_path, torch_one_thread):
    ckpt = save_tiny_sam(tmp_path / "tiny.pth")
    seg = Stage("sam", {"model": "tiny", "checkpoint": str(ckpt), "model_config": TINY_CONFIG})
    video, gt = scene(frames=7)
    p = parts(tmp_path, [("v/1", 100, first_box(gt[0]), 1)], segmenter=seg, batch_size=3, device="cpu")
    data = label_video(video, p)
    assert len(data.masks) == 7 and np.isfinite(data.scores).all()
    rec = data.provenance[0]
    assert rec["segmenter"] == "sam" and rec["model"] == "tiny" and len(rec["checkpoint_sha256"]) == 64
    assert rec["parameters"]["segmenter"]["device"] == "cpu"


def test_run_commits_each_video_and_reports_failures(tmp_path):
    videos = [scene(f"v/{k}", frames=8, seed=k, bad_frame=103 if k == 1 else None)[0] for k in range(3)]
    out = tmp_path / "masks.h5"
    reporter = Reporter()
    p = parts(detector=Stage("motion"))
    report = run(videos, out, p, reporter=reporter)
    failures = [vid for vid, _ in reporter.failures]
    assert report.labelled == ["v/0", "v/2"] and [f[0] for f in report.failed] == ["v/1"] == failures
    with MaskStore.open(out) as st:
        assert st.videos() == ["v/0", "v/2"]
        assert st.metadata("v/0")["athletes"] == 1
        data = st.read("v/2", "pseudo")
        assert len(data.frames) == 8 and "iou_prev" in data.quality
        first = data.provenance[0]["time"]
    with pytest.raises(
        PipelineError, match="already has pseudo masks for 2 of these videos.*resume finishes.*overwrite"
    ):
        run(videos, out, p)
    with pytest.raises(PipelineError, match="choose one"):
        run(videos, out, p, resume=True, overwrite=True)
    again = run(videos, out, p, resume=True)
    assert again.skipped == ["v/0", "v/2"] and again.labelled == []
    with MaskStore.open(out) as st:
        assert st.read("v/2", "pseudo").provenance[0]["time"] == first
    redo = run(videos[2:], out, p, overwrite=True)
    assert redo.labelled == ["v/2"]


def test_masks_stop_when_the_athlete_is_gone(tmp_path):
    """After the body leaves (like a diver under water) the masks found there are not the athlete's
    (wrong colours, collapsed) and are left empty, flagged as such."""
    video, gt = scene(frames=24, jump=(14, 1000))
    assert not gt[14:].any()
    data = label_video(video, parts(tmp_path, [("v/1", 100, first_box(gt[0]), 1)]))
    assert np.mean([rle.iou(data.union(i), rle.encode(gt[i])) for i in range(14)]) > 0.85
    assert data.quality["empty"][16:].all()


def test_frames_before_the_first_prompt_are_labelled_backwards_from_it(tmp_path):
    video, gt = scene(frames=20)
    data = label_video(video, parts(tmp_path, [("v/1", 110, first_box(gt[10]), 1)]))
    before = [rle.iou(data.union(i), rle.encode(gt[i])) for i in range(10)]
    assert np.mean(before) > 0.85 and j_mean(data, gt) > 0.85
    assert "anchor" not in data.provenance[0]  # prompts were given: no detector scan


def test_without_prompts_the_scan_anchors_on_the_athlete_and_labels_both_ways():
    video, gt = scene(frames=24)
    data = label_video(video, parts(detector=Stage("motion"), scan_step=3))
    anchor = data.provenance[0]["anchor"]
    position = video.frame_numbers.index(anchor["frame"])
    assert position % 3 == 0 and anchor["frame"] > video.frame_numbers[0]
    assert boxes.iou(np.array(anchor["boxes"][0]), np.array(first_box(gt[position]))) > 0.5
    assert j_mean(data, gt) > 0.8 and data.provenance[0]["parameters"]["scan_step"] == 3
    first_frame_start = label_video(video, parts(detector=Stage("motion"), scan_step=0))
    assert "anchor" not in first_frame_start.provenance[0]


@pytest.mark.parametrize("kind", ["grabcut-prompts", "grabcut-detector", "tiny-sam"])
def test_overlapped_run_gives_the_masks_of_the_serial_one(tmp_path, kind, torch_one_thread):
    """Prefetching (frames, encoder, motion cue ahead; RLE and commits behind) changes no byte of
    the store, across videos, a failed one among them, and both labelling directions."""
    videos = [
        scene("v/0", frames=14, athletes=2)[0],
        scene("v/1", frames=9, seed=3, bad_frame=106)[0],
        scene("v/2", frames=12, seed=5, jump=(6, 40))[0],
    ]
    gt0 = scene("v/0", frames=14, athletes=2)[1]
    gt2 = scene("v/2", frames=12, seed=5, jump=(6, 40))[1]
    rows = [("v/0", 104, first_box(gt0[4]), 1), ("v/2", 100, first_box(gt2[0]), 1)]
    options = {"detector": Stage("motion"), "batch_size": 4, "device": "cpu"}
    if kind == "tiny-sam":
        ckpt = save_tiny_sam(tmp_path / "tiny.pth")
        tiny = {"model": "tiny", "checkpoint": str(ckpt), "model_config": TINY_CONFIG}
        options["segmenter"] = Stage("sam", tiny)
    stores = []
    for prefetch in (0, 2):
        out = tmp_path / f"{kind}-{prefetch}.h5"
        p = parts(tmp_path, rows if kind != "grabcut-detector" else (), prefetch=prefetch, **options)
        report = run(videos, out, p)
        assert report.labelled == ["v/0", "v/2"] and [f[0] for f in report.failed] == ["v/1"]
        assert report.timings.frames == 26
        stores.append(out)
    with MaskStore.open(stores[0]) as a, MaskStore.open(stores[1]) as b:
        for vid in ("v/0", "v/2"):
            x, y = a.read(vid, "pseudo"), b.read(vid, "pseudo")
            assert x.masks == y.masks and any(m["counts"] for objs in x.masks for m in objs)
            np.testing.assert_array_equal(x.scores, y.scores)
            for flag in x.quality:
                np.testing.assert_array_equal(x.quality[flag], y.quality[flag])


def test_the_pipelines_target_rules_reach_the_labeller_and_the_provenance():
    from hm_annotate.pseudo.pipeline import _VideoLabeller

    video, _ = scene(frames=3)
    rules = TargetRules(max_jump=2.0, established=3)
    assert _VideoLabeller(video, parts(targets=rules), Timings()).targets.rules is rules
    data = label_video(video, parts(detector=Stage("motion"), targets=rules))
    assert data.provenance[0]["parameters"]["targets"] == {
        "moving": 25.0, "min_moving": 0.05, "max_jump": 2.0, "max_size_change": 3.0, "established": 3,
    }  # fmt: skip


def test_the_scans_motion_cues_are_dropped_once_labelled_even_if_never_used():
    """A segmenter may want the motion cue on few frames (pose: only on its fallback's): the cues
    the detector scan kept for it must still go as the labelling passes them, not pile up."""
    import dataclasses

    from hm_annotate.pseudo.pipeline import _VideoLabeller
    from hm_annotate.pseudo.segmenters.grabcut import GrabCutSegmenter

    class SeldomMotion(GrabCutSegmenter):
        def needs_motion(self, image, boxes) -> bool:
            return False

    video, _ = scene(frames=24)
    base = parts(detector=Stage("motion"), scan_step=3, batch_size=2)
    labeller = _VideoLabeller(video, dataclasses.replace(base, segmenter=SeldomMotion()), Timings())
    kept: list[list[int]] = []
    scan = labeller._scan

    def scan_and_look():  # what the scan left for the segmenter
        anchor = scan()
        kept.append(sorted(labeller._diffs))
        return anchor

    labeller._scan = scan_and_look
    labeller.run(Reporter().bar(total=0, desc=video.id, unit="frame"))
    assert kept == [list(range(0, 24, 3))] and labeller.anchor.position > 0  # both passes ran
    assert labeller._diffs == {}
