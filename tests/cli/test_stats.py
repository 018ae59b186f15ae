"""``hm-annotate stats`` on a small store written through the store API."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from hm_annotate.cli import main
from hm_annotate.store import MaskStore
from tests.mask_stores import ellipses, layer, write_store

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    a, b = ellipses(10), ellipses(10, cx0=55)
    return write_store(tmp_path_factory.mktemp("cli_stats") / "s.h5", {
        "E1/1": {"meta": {"action_type": "107b", "athletes": 1, "split": "train"},
                 "pseudo": layer(range(10), a)},
        "E1/2": {"meta": {"action_type": "107b", "athletes": 1, "split": "test"},
                 "pseudo": layer(range(6), a[:6])},
        "E2/1": {"meta": {"action_type": "5253b", "athletes": 2, "split": "train"},
                 "pseudo": layer(range(10), a, b), "corrected": layer([4], a[4:5], b[4:5])},
    })  # fmt: skip


def run(args, capsys, code=0):
    """main() returns on success and exits with ``code`` on failure."""
    if code == 0:
        main(args)
    else:
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == code
    return capsys.readouterr()


def test_json_via_the_console_script(store):
    out = subprocess.run([*MAIN, "stats", str(store), "--json"], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)
    assert (r["videos"], r["frames"], r["masks"]) == (3, 26, 26)
    assert r["by_action_type"] == {
        "107b": {**r["by_action_type"]["107b"], "videos": 2, "masks": 16, "individual": 16},
        "5253b": {**r["by_action_type"]["5253b"], "videos": 1, "masks": 10, "synchronised": 10},
    }
    assert r["correction"]["frames_corrected"] == 1


def test_table_csv_markdown_and_grouping(store, capsys):
    out = run(["stats", str(store)], capsys).out
    assert "masks (annotated frames)" in out and "107b" in out
    out = run(["stats", str(store), "--format", "csv", "--by", "split"], capsys).out
    rows = {r["split"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["train"]["masks"] == "20" and rows["test"]["masks"] == "6" and rows["all"]["videos"] == "3"
    out = run(["stats", str(store), "--format", "markdown", "--by", "athletes"], capsys).out
    assert "## Masks per athletes" in out and "| synchronised |" in out
    r = json.loads(run(["stats", str(store), "--layer", "corrected", "--json", "--no-temporal"], capsys).out)
    assert r["masks"] == 1 and r["temporal_iou"] is None


def test_plots(store, tmp_path, capsys):
    err = run(["stats", str(store), "--plots", str(tmp_path / "plots")], capsys).err
    assert "masks_per_action_type.png" in err
    names = ["area_fraction.png", "coverage_per_video.png", "masks_per_action_type.png", "temporal_iou.png"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == names


def test_bad_input_is_one_line(store, tmp_path, capsys):
    # option mistakes (--layer, --by, --dataset-format alone) exit 2: tests/cli/test_exit_codes.py
    empty = tmp_path / "empty.h5"
    MaskStore.open(empty, mode="a").close()
    err = run(["stats", str(empty)], capsys, code=1).err
    assert err == f"error: {empty}: the store holds no videos\n"
    err = run(["stats", str(tmp_path / "none.h5")], capsys, code=1).err
    assert err == f"error: {tmp_path / 'none.h5'}: no such store\n"


def test_counts_on_a_synthetic_finediving_dataset_match_its_annotation_pickles(tmp_path, capsys):
    """Masks per action type = sum of end_frame - start_frame + 1 over the coarse annotation."""
    import pickle
    from collections import Counter

    from hm_annotate.synth import generate

    out = tmp_path / "synth"
    generate(out, videos=6, seed=5, height=64, frames=24, sync_fraction=0.4)
    coarse = pickle.loads((out / "Annotations" / "FineDiving_coarse_annotation.pkl").read_bytes())
    masks, videos = Counter(), Counter()
    for a in coarse.values():
        masks[a["action_type"]] += a["end_frame"] - a["start_frame"] + 1
        videos[a["action_type"]] += 1
    main(["stats", str(out / "gt_masks.h5"), "--json", "--dataset-format", "finediving",
          "--data-root", str(out)])  # fmt: skip
    r = json.loads(capsys.readouterr().out)
    assert r["frames_counted_from"] == "dataset" and r["coverage"] == 1.0
    assert {k: v["masks"] for k, v in r["by_action_type"].items()} == dict(masks)
    assert {k: v["videos"] for k, v in r["by_action_type"].items()} == dict(videos)
    sync = sum(a["end_frame"] - a["start_frame"] + 1 for (event, _), a in coarse.items() if "ynchro" in event)
    assert r["athletes"]["synchronised"]["masks"] == sync > 0
