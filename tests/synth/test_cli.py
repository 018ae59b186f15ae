import json
import pickle
import subprocess
import sys

from hm_annotate.cli import COMMANDS

RUN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


def test_synth_is_registered():
    assert COMMANDS["synth"][0] == "synth"


def test_console_script_makes_a_dataset_and_reports_it(tmp_path):
    out = tmp_path / "ds"
    args = ["synth", str(out), "--videos", "2", "--seed", "5", "--frames", "24", "--height", "64", "--json"]
    done = subprocess.run(
        [*RUN, *args, "--hm-jpg", "--sync-fraction", "0.5"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (
        summary["videos"] == 2
        and summary["sync_videos"] == 1
        and (summary["height"], summary["width"]) == (64, 114)
    )
    with open(out / "Annotations" / "train_split.pkl", "rb") as f:
        train = pickle.load(f)
    with open(out / "Annotations" / "test_split.pkl", "rb") as f:
        test = pickle.load(f)
    assert len(train) + len(test) == 2
    assert (out / "gt_masks.h5").is_file() and (out / "diving_mask_annotation_gray").is_dir()
    # the same folder with other options is refused, not mixed
    again = subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=300)
    assert (
        again.returncode == 1
        and again.stderr.startswith("error:")
        and "hm_jpg=True (now False)" in again.stderr
    )


def test_errors_are_one_line(tmp_path):
    (tmp_path / "x.txt").write_text("not a dataset")
    done = subprocess.run(
        [*RUN, "synth", str(tmp_path), "--videos", "1", "--seed", "1"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error:") and "not empty" in done.stderr
    bad = subprocess.run(
        [*RUN, "synth", str(tmp_path / "n"), "--videos", "0", "--seed", "1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--videos" in bad.stderr
