"""``hm-annotate export-boxes``: CSV and JSON of per-frame actor boxes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from hm_annotate.cli import main
from tests.mask_stores import ellipses, layer, write_store

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    m = ellipses(6, dx=2)
    m[2] = 0
    return write_store(tmp_path_factory.mktemp("cli_boxes") / "s.h5", {"E/1": {"pseudo": layer(range(6), m)}})


def test_csv_via_the_console_script(store, tmp_path):
    out = tmp_path / "boxes.csv"
    args = ["export-boxes", str(store), "--out", str(out), "--smooth", "3", "--pad", "1"]
    done = subprocess.run([*MAIN, *args], capture_output=True, text=True, check=True)
    assert "wrote 6 boxes" in done.stderr
    rows = list(csv.DictReader(open(out)))
    assert [r["empty"] for r in rows] == ["0", "0", "1", "0", "0", "0"]
    # box x0 = 14 + 2 * frame; the lost frame is interpolated; a median of 3 keeps the line inside
    # and averages the two frames at each end (the window shrinks); pad 1
    assert [float(r["x0"]) for r in rows] == [14.0, 15.0, 17.0, 19.0, 21.0, 22.0]


def test_json_and_bad_input(store, tmp_path, capsys):
    main(["export-boxes", str(store), "--out", str(tmp_path / "b.json"), "--smooth", "2",
          "--smooth-method", "mean"])  # fmt: skip
    assert "wrote 6 boxes" in capsys.readouterr().err
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["smooth"] == 2 and doc["smooth_method"] == "mean" and doc["videos"]["E/1"]["empty"][2] == 1
    for args, message in [
        (["--out", str(tmp_path / "b.csv"), "--videos", "Z/1"],
         f"error: {store}: no video 'Z/1' in the store"),
        (["--out", str(tmp_path / "b.csv"), "--layer", "corrected"],
         f"error: {store}: no video has a 'corrected' layer"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(["export-boxes", str(store), *args])
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "b.csv").exists()
