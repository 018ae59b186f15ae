"""``hm-annotate render``: a playable mp4 from a FineDiving-layout frames folder."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from hm_annotate.cli import main
from tests.mask_stores import H, W, ellipses, layer, write_store

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]
VID = "FINADivingWorldCup2021_Men3m_final_r1/8"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_render")
    (root / "frames" / VID).mkdir(parents=True)
    for n in range(489, 497):
        cv2.imwrite(str(root / "frames" / VID / f"{n:05d}.jpg"), np.full((H, W, 3), 80, np.uint8))
    store = write_store(root / "s.h5", {VID: {"pseudo": layer(range(489, 497), ellipses(8))}})
    return store, root / "frames"


def count_frames(path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_mp4_via_the_console_script(data, tmp_path):
    store, frames = data
    out = tmp_path / "v.mp4"
    done = subprocess.run([*MAIN, "render", str(store), "--video", VID, "--frames-root", str(frames),
                           "--out", str(out)], capture_output=True, text=True, check=True)  # fmt: skip
    assert "wrote 8 frames" in done.stderr
    assert count_frames(out) == 8


def test_compare_layers_gif(data, tmp_path, capsys):
    store, frames = data
    main(["render", str(store), "--video", VID, "--frames-root", str(frames),
          "--out", str(tmp_path / "v.gif"), "--compare-layers", "--fps", "10"])  # fmt: skip
    from PIL import Image

    with Image.open(tmp_path / "v.gif") as gif:
        assert gif.n_frames == 8 and gif.size == (2 * W, H)


def test_bad_input_is_one_line(data, tmp_path, capsys):
    store, frames = data
    base = ["render", str(store), "--out", str(tmp_path / "v.mp4")]
    for args, message in [
        (["--video", "x/1", "--frames-root", str(frames)], f"error: {store}: no video 'x/1' in the store"),
        (["--video", VID, "--frames-root", str(tmp_path)], f"error: no frames folder {tmp_path / VID}"),
        (["--video", VID, "--frames-root", str(frames), "--layer", "corrected"],
         f"error: {store}: video '{VID}' has no 'corrected' layer"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main([*base, *args])
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "v.mp4").exists() and not list(tmp_path.glob(".v.part*"))


def test_frames_through_the_finediving_adapter(tmp_path, capsys):
    from hm_annotate.datasets import load_videos
    from hm_annotate.synth import generate

    out = tmp_path / "synth"
    generate(out, videos=2, seed=2, height=64, frames=24)
    video = load_videos("finediving", out)[0]
    main(["render", str(out / "gt_masks.h5"), "--video", video.id, "--dataset-format", "finediving",
          "--data-root", str(out), "--out", str(tmp_path / "v.mp4")])  # fmt: skip
    assert count_frames(tmp_path / "v.mp4") == len(video.frame_numbers)
