import cv2
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.synth.plan import plan_dataset
from hm_annotate.synth.render import Clip, frame_size, render_video


def _clip(sync: bool, blur: bool) -> Clip:
    for plan in plan_dataset(16, 31, sync_fraction=0.5, frames=40):
        if plan.sync == sync:
            clip = Clip(plan, 96)
            if (clip.blur > 0) == blur:
                return clip
    raise AssertionError("no such clip in the plan")


def test_frame_size_is_16_by_9_with_an_even_width():
    assert frame_size(256) == (256, 456)
    assert frame_size(128) == (128, 228)


@pytest.mark.parametrize("sync", [False, True])
def test_masks_are_exactly_the_pixels_the_athletes_changed(sync):
    clip = _clip(sync, blur=False)
    kernel = np.ones((3, 3), np.uint8)
    seen = 0
    for i in range(0, clip.plan.n_frames, 3):
        c = clip.compose(i)
        changed = np.abs(c.frame - clip.backdrop(i)).max(-1)
        union = c.visible.any(0).astype(np.uint8)
        # outside the masks (and their one-pixel anti-aliased rim) nothing but the splash and
        # the graphics differs from the empty venue
        rim = cv2.dilate(union, kernel).astype(bool)
        assert changed[~rim & (c.cover == 0)].max(initial=0) == 0
        # inside, the athlete's own colours replaced the venue
        core = cv2.erode(union, kernel).astype(bool)
        if core.sum() > 20:
            assert (changed[core] > 1).mean() > 0.95
            seen += 1
        assert not (c.visible[0] & c.visible[-1]).any() or len(c.visible) == 1
    assert seen >= 5


def test_synchronised_pairs_are_two_objects_in_most_frames():
    clip = _clip(sync=True, blur=False)
    both = [clip.compose(i).visible.reshape(2, -1).any(1).all() for i in range(clip.plan.n_frames)]
    assert np.mean(both) > 0.6


def test_motion_blur_keeps_masks_where_the_blurred_athlete_is_half_opaque():
    clip = _clip(sync=False, blur=True)
    areas = [clip.compose(i).visible.sum() for i in range(clip.plan.n_frames)]
    assert np.mean(np.array(areas) > 0) > 0.7


def test_render_writes_frames_and_gray_masks_that_threshold_back(tmp_path):
    plan = plan_dataset(3, 4, sync_fraction=0.0, frames=30)[0]
    out = render_video(plan, tmp_path / "f", tmp_path / "m", 96)
    names = [f"{n:05d}.jpg" for n in plan.frame_numbers]
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == names
    assert out.frames.tolist() == plan.frame_numbers.tolist()
    for name, objs in zip(names, out.masks, strict=True):
        img = cv2.imread(str(tmp_path / "f" / name))
        assert img.shape == (96, 170, 3)
        gray = cv2.imread(str(tmp_path / "m" / name), cv2.IMREAD_UNCHANGED)
        assert gray.ndim == 2
        expect = rle.decode(rle.union(objs, (96, 170)))
        assert np.array_equal(gray >= 128, expect.astype(bool))
    assert np.mean([len(m) == 1 for m in out.masks]) > 0.7
