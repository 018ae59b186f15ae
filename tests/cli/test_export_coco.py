"""hm-annotate export-coco: whole layers, selected videos, review-queue frames, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hm_annotate.cli import main
from tests.console import run
from tests.masks import make_store

VIDEOS = {"FINADivingWorldCup2021_Men3m_final_r1/8": 6, "Ev_synchro/2": 4}


def test_review_queue_frames_through_the_console_script(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    store, out, queue = tmp_path / "m.h5", tmp_path / "review.json", tmp_path / "queue.csv"
    make_store(store, VIDEOS)
    queue.write_text(
        "video_id,frame,score,reason\n"
        "FINADivingWorldCup2021_Men3m_final_r1/8,103,0.2,area_jump\n"
        "Ev_synchro/2,100,0.4,empty\n"
        "FINADivingWorldCup2021_Men3m_final_r1/8,101,0.3,iou_prev\n"
    )
    r = run("export-coco", str(store), "--out", str(out), "--frames-from", str(queue))
    assert r.returncode == 0, r.stderr
    assert "wrote 3 images and 3 masks" in r.stdout
    coco = COCO(str(out))
    names = [img["file_name"] for img in coco.loadImgs(coco.getImgIds())]
    assert sorted(names) == [
        "Ev_synchro/2/00100.jpg",
        "FINADivingWorldCup2021_Men3m_final_r1/8/00101.jpg",
        "FINADivingWorldCup2021_Men3m_final_r1/8/00103.jpg",
    ]


def test_layers_videos_and_patterns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store, out = tmp_path / "m.h5", tmp_path / "o.json"
    make_store(store, VIDEOS)
    main(
        [
            "export-coco",
            str(store),
            "--out",
            str(out),
            "--layer",
            "pseudo",
            "--videos",
            "Ev_synchro/2",
            "--file-name-pattern",
            "{video_id}/img_{frame:05d}.png",
        ]
    )
    data = json.loads(out.read_text())
    assert [i["file_name"] for i in data["images"]] == [
        f"Ev_synchro/2/img_{f:05d}.png" for f in range(100, 104)
    ]
    assert data["info"]["hm_annotate"]["file_names"] == "{video_id}/img_{frame:05d}.png"
    assert "wrote 4 images and 4 masks" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layer", "corrected"], "video 'Ev_synchro/2' has no 'corrected' masks"),
        (["--videos", "nope/1"], "no video 'nope/1'"),
        (["--frames-from", "QUEUE"], "missing column(s) ['frame']"),
    ],
)
def test_errors_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    store, out, queue = tmp_path / "m.h5", tmp_path / "o.json", tmp_path / "q.csv"
    make_store(store, {"Ev_synchro/2": 3})
    queue.write_text("video_id,frames\nEv_synchro/2,100\n")
    args = [str(queue) if a == "QUEUE" else a for a in args]
    if "corrected" in args:
        args += ["--videos", "Ev_synchro/2"]
    with pytest.raises(SystemExit) as exit_:
        main(["export-coco", str(store), "--out", str(out), *args])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_results_file_loads_in_cocoeval_with_ap_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    store, gt_file, res_file = tmp_path / "m.h5", tmp_path / "gt.json", tmp_path / "res.json"
    make_store(store, VIDEOS)
    main(["export-coco", str(store), "--out", str(gt_file)])
    main(["export-coco", str(store), "--out", str(res_file), "--results", "--videos", "Ev_synchro/2"])
    assert "wrote 4 results of 4 images" in capsys.readouterr().out
    results = json.loads(res_file.read_text())
    assert {"image_id", "category_id", "segmentation", "score"} <= set(results[0])
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        ev = COCOeval(gt, gt.loadRes(str(res_file)), "segm")
        ev.params.imgIds = sorted({r["image_id"] for r in results})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
