"""``hm-annotate list-videos`` over tiny datasets in the real formats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hm_annotate.cli import cli, main
from tests.datasets.fixtures import make_aqa7, make_finediving

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]
MEN3M = "FINADivingWorldCup2021_Men3m_final_r1/8"


def test_console_script_json_with_a_bad_video_warns_on_stderr(tmp_path):
    clips = make_finediving(tmp_path)
    shutil.rmtree(tmp_path / "FINADiving_MTL_256s" / "FINADivingWorldCup2021_Women10m_semifinal_r3")
    (tmp_path / "FINADiving_MTL_256s" / MEN3M / "00495.jpg").unlink()
    args = [*MAIN, "list-videos", "--dataset-format", "finediving", "--data-root", str(tmp_path), "--json"]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: video ") for w in warnings)
    missing = "Women10m_semifinal_r3/12: frame folder"
    assert any(missing in w and w.endswith("is missing; skipped") for w in warnings)
    assert any(MEN3M in w and "holds 11 of its 12 frames" in w for w in warnings)
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {MEN3M, "FINADivingWorldCup2021_Men10mSynchro_final_r2/4"}
    men3m = rows[MEN3M]
    clip = next(c for c in clips if c.id == MEN3M)
    assert {k: men3m[k] for k in ("split", "action_type", "score", "difficulty", "num_frames", "first_frame",
                                  "last_frame", "step_transitions", "athletes")} == {
        "split": "train", "action_type": "207c", "score": 75.6, "difficulty": 3.6, "num_frames": 11,
        "first_frame": 489, "last_frame": 500, "step_transitions": [492, 496], "athletes": 1}
    assert men3m["judge_scores"] == clip.judge_scores
    assert rows["FINADivingWorldCup2021_Men10mSynchro_final_r2/4"]["athletes"] == 2

    strict = subprocess.run([*args, "--strict"], capture_output=True, text=True)
    assert strict.returncode == 1 and strict.stdout == ""
    assert strict.stderr.startswith("error: video ") and strict.stderr.count("\n") == 1
    assert "skipped" not in strict.stderr and "listing" not in strict.stderr


def test_table_and_split(tmp_path):
    make_aqa7(tmp_path)
    args = ["list-videos", "--dataset-format", "aqa7", "--data-root", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = ["ID", "SPLIT", "ACTION", "SCORE", "DD", "ATHL", "FRAMES", "FIRST", "LAST", "STEPS"]
    assert lines[0].split() == header
    assert lines[1].split() == ["diving/001", "train", "diving", "81", "-", "1", "5", "1", "5", "-"]
    assert lines[-1] == "4 videos (1 test, 3 train)"
    test_only = CliRunner().invoke(cli, [*args, "--split", "test"]).stdout.splitlines()
    assert test_only[1].split()[:3] == ["sync_diving_3m/002", "test", "sync_diving_3m"]
    assert test_only[-1] == "1 video (1 test)"


def test_videos_format_with_metadata_csv(tmp_path):
    make_aqa7(tmp_path / "data")
    csv = tmp_path / "meta.csv"
    csv.write_text("video_id,split,score,athletes,judge\nSeven/diving-out/001,train,81.5,1,nan\n")
    args = ["list-videos", "--dataset-format", "videos", "--data-root", str(tmp_path / "data"),
            "--metadata", str(csv), "--split", "train", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["id"] == "Seven/diving-out/001" and row["score"] == 81.5 and row["num_frames"] == 5
    assert row["judge"] is None  # NaN from the CSV becomes JSON null
    assert row["difficulty"] is None and row["step_transitions"] is None


def test_errors_are_one_line(tmp_path, capsys):
    make_finediving(tmp_path)
    (tmp_path / "Annotations" / "FineDiving_coarse_annotation.pkl").unlink()
    for fmt, extra, expected in [
        ("finediving", [], "FineDiving_coarse_annotation.pkl: annotation file not found"),
        ("nope", [], "unknown dataset format 'nope'"),
        ("finediving", ["--metadata", str(tmp_path / "Annotations" / "train_split.pkl")],
         "has no parameter 'metadata_csv'"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main(["list-videos", "--dataset-format", fmt, "--data-root", str(tmp_path), *extra])
        err = capsys.readouterr().err
        assert exited.value.code == 1
        assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
