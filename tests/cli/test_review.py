"""``hm-annotate review``: the queue CSV that export-coco --frames-from reads."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from hm_annotate.cli import main
from hm_annotate.io.coco import read_frame_list
from tests.mask_stores import ellipses, layer, write_store

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    m = ellipses(12)
    m[7] = ellipses(1, cx0=70, cy=10, rx=9, ry=9)[0]  # a mask on the wrong thing
    return write_store(tmp_path_factory.mktemp("cli_review") / "s.h5", {
        "E1/1": {"pseudo": layer(range(200, 212), m)},
        "E1/2": {"pseudo": layer(range(8), ellipses(8))},
    })  # fmt: skip


def test_queue_csv_via_the_console_script(store, tmp_path):
    out = tmp_path / "queue.csv"
    done = subprocess.run([*MAIN, "review", str(store), "--top", "4", "--out", str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "wrote 4 frames" in done.stderr
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0])[:4] == ["video_id", "frame", "priority", "reasons"]
    assert (rows[0]["video_id"], rows[0]["frame"]) == ("E1/1", "207")
    assert "IoU 0.00 with neighbours" in rows[0]["reasons"]
    # export-coco --frames-from reads the same file
    assert read_frame_list(out)["E1/1"][0] <= 207 and 207 in read_frame_list(out)["E1/1"]


def test_printed_queue_and_bad_input(store, capsys):
    main(["review", str(store), "--top", "1", "--no-components"])
    line = capsys.readouterr().out.strip()
    assert line.split()[1:3] == ["E1/1", "207"]
    for args, message in [
        (["--videos", "E9/9"], f"error: {store}: no video 'E9/9' in the store"),
        (["--layer", "corrected"], f"error: {store}: no video has a 'corrected' layer"),
    ]:
        with pytest.raises(SystemExit) as exc:
            main(["review", str(store), *args])
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.startswith(message) and err.count("\n") == 1


def test_nothing_left_to_review(tmp_path, capsys):
    m = ellipses(5)
    both = {"pseudo": layer(range(5), m), "corrected": layer(range(5), m)}
    store = write_store(tmp_path / "s.h5", {"E/1": both})
    main(["review", str(store), "--out", str(tmp_path / "q.csv")])
    assert "every pseudo frame has a corrected mask" in capsys.readouterr().err
    assert (tmp_path / "q.csv").read_text().splitlines()[0].startswith("video_id,frame,priority,reasons")
    main(["review", str(store), "--include-corrected", "--top", "2"])
    assert len(capsys.readouterr().out.splitlines()) == 2
