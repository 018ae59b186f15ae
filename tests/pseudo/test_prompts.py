from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from hm_annotate.datasets import load_videos
from hm_annotate.datasets.base import Video
from hm_annotate.pseudo.prompts import PromptError, check_for, load_prompts
from tests.pseudo.scenes import scene


def video(vid: str = "ev/1", frames=range(100, 110), h: int = 40, w: int = 60) -> Video:
    return Video(vid, tuple(frames), lambda n: np.zeros((h, w, 3), np.uint8))


def size(v: Video):
    return v.read_frame(v.frame_numbers[0]).shape[:2]


def test_csv_with_header_objects_and_comments(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text(
        "video_id,frame,x0,y0,x1,y1,object_id\n# keyframes\n"
        "ev/1,100,1,2,30,40,1\nev/1,100,31,2,50,40,2\n\nev/1,105,2,3,31,41\n"
    )
    prompts = load_prompts(p)
    assert prompts.videos() == ["ev/1"]
    assert prompts.object_ids("ev/1") == {1, 2}
    boxes = prompts.for_video("ev/1")
    assert sorted(boxes) == [100, 105]
    assert boxes[100][2].tolist() == [31, 2, 50, 40] and boxes[105][1].tolist() == [2, 3, 31, 41]
    assert len(prompts.sha256) == 64 and str(p) in prompts.describe()
    prompts.check([video()], ["ev/1", "ev/2"], size)


def test_json_is_checked_against_the_schema(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(
        json.dumps({"prompts": [{"video_id": "ev/1", "frame": 101, "box": [1, 2, 3, 4], "object_id": 2}]})
    )
    assert load_prompts(p).for_video("ev/1")[101][2].tolist() == [1, 2, 3, 4]
    p.write_text(json.dumps({"prompts": [{"video_id": "ev/1", "frame": 101, "box": [1, 2, 3]}]}))
    with pytest.raises(PromptError, match=r"p.json: prompts/0/box: .*too short"):
        load_prompts(p)
    p.write_text(json.dumps({"prompts": [{"video": "ev/1", "frame": 1, "box": [1, 2, 3, 4]}]}))
    with pytest.raises(PromptError, match="p.json: prompts/0: "):
        load_prompts(p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ev/1,100,1,2,3\n", r"p.csv:1: expected video_id,frame,x0,y0,x1,y1\[,object_id\], got 5 fields"),
        ("ev/1,abc,1,2,3,4\n", r"p.csv:1: frame 'abc' is not an integer"),
        ("ev/1,100,1,2,3,4\nev/1,100,5,2,3,4\n", r"p.csv:2: box \[.*\] is empty"),
        (
            "ev/1,100,1,2,3,4\nev/1,100,1,2,3,5\n",
            r"p.csv:2: a second box for object 1 of video 'ev/1' frame 100 \(first at .*p.csv:1\)",
        ),
        ("ev/1,100,1,2,x,4\n", r"p.csv:1: box .* is not four numbers"),
        ("\n", "holds no prompt"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, text, message):
    p = tmp_path / "p.csv"
    p.write_text(text)
    with pytest.raises(PromptError, match=message):
        load_prompts(p)


def test_unknown_video_is_refused(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("ev/1,100,1,2,30,40\nev/9,100,1,2,30,40\n")
    with pytest.raises(PromptError, match=r"p.csv:2: video 'ev/9' is not in the dataset"):
        load_prompts(p).check([video()], ["ev/1", "ev/2"], size)


def test_missing_frame_is_refused(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("ev/1,99,1,2,30,40\n")
    with pytest.raises(PromptError, match=r"p.csv:1: video 'ev/1' has no frame 99 \(frames 100..109\)"):
        load_prompts(p).check([video()], ["ev/1"], size)


def test_box_outside_the_frame_is_refused_and_a_box_across_its_edge_is_fine(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("ev/1,100,-10,-5,20,20\n")
    load_prompts(p).check([video()], ["ev/1"], size)
    p.write_text("ev/1,100,-10,-5,20,20\nev/1,101,70,5,90,30\n")
    with pytest.raises(
        PromptError,
        match=r"p.csv:2: box \[70.0, 5.0, 90.0, 30.0\] of video 'ev/1' frame 101 lies outside the 60x40",
    ):
        load_prompts(p).check([video()], ["ev/1"], size)
    # an unreadable video is left to the pipeline, which reports it
    load_prompts(p).check([video()], ["ev/1"], lambda v: None)


def test_unreadable_file(tmp_path):
    with pytest.raises(PromptError, match="cannot read the prompts file"):
        load_prompts(tmp_path / "none.csv")
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PromptError, match="not UTF-8"):
        load_prompts(bad)


def test_first_frame_prompts_from_a_store_read_back(tmp_path):
    from hm_annotate.pseudo.prompts import write_box_prompts
    from tests.mask_stores import ellipses, layer, write_store

    left, right = ellipses(4, cx0=20), ellipses(4, cx0=55)
    left[0] = right[0] = 0  # nothing on the first frame: the box comes from the second
    store = write_store(
        tmp_path / "gt.h5",
        {
            "a/0": {"corrected": layer([10, 11, 12, 13], left, right)},
            "b/0": {"corrected": layer([5, 6], np.zeros_like(left[:2]))},
        },
    )
    out = tmp_path / "prompts.csv"
    assert write_box_prompts(store, out) == 2
    prompts = load_prompts(out)
    assert prompts.videos() == ["a/0"]
    boxes = prompts.for_video("a/0")[11]
    ys, xs = np.nonzero(left[1])
    assert boxes[1].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert boxes[2][0] > boxes[1][2]


def test_box_prompts_on_every_frame_follow_the_masks(tmp_path):
    from hm_annotate.pseudo.prompts import write_box_prompts
    from tests.mask_stores import ellipses, layer, write_store

    left, right = ellipses(4, cx0=20), ellipses(4, cx0=55)
    left[0] = right[0] = 0
    right[2] = 0  # the second athlete is missing on one frame: no box for it there
    store = write_store(tmp_path / "gt.h5", {"a/0": {"corrected": layer([10, 11, 12, 13], left, right)}})
    out = tmp_path / "prompts.csv"
    assert write_box_prompts(store, out, every_frame=True) == 5
    prompts = load_prompts(out).for_video("a/0")
    assert sorted(prompts) == [11, 12, 13]
    assert sorted(prompts[12]) == [1]
    for n, i in ((11, 1), (13, 3)):
        ys, xs = np.nonzero(left[i])
        assert prompts[n][1].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_check_for_takes_prompts_for_any_video_of_the_dataset_and_checks_the_chosen_ones(tmp_path):
    """Prompts may name videos outside the part being labelled (another shard, another split),
    never videos the dataset lacks; the boxes of the chosen videos must lie on their frames."""
    root = tmp_path / "data"
    for k in range(2):
        video, _ = scene(f"clip{k}", frames=3, seed=k)
        (root / f"clip{k}").mkdir(parents=True)
        for n in video.frame_numbers:
            cv2.imwrite(str(root / f"clip{k}" / f"{n:05d}.png"), video.read_frame(n)[..., ::-1])
    chosen = load_videos("videos", root, split="all", videos=["clip0"])
    p = tmp_path / "p.csv"
    p.write_text("clip0,100,1,2,30,40\nclip1,101,1,2,30,40\n")
    prompts = check_for(p, chosen, dataset_format="videos", data_root=root)
    assert prompts.videos() == ["clip0", "clip1"] and prompts.source == str(p)
    p.write_text("clip0,100,1,2,30,40\nclip9,100,1,2,30,40\n")
    with pytest.raises(PromptError, match=r"p.csv:2: video 'clip9' is not in the dataset"):
        check_for(p, chosen, dataset_format="videos", data_root=root)
    p.write_text("clip0,100,900,2,930,40\n")
    with pytest.raises(PromptError, match=r"p.csv:1: box .* of video 'clip0' frame 100 lies outside"):
        check_for(p, chosen, dataset_format="videos", data_root=root, dataset=chosen)
