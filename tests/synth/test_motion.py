import numpy as np
import pytest

from hm_annotate.synth import dives
from hm_annotate.synth.body import Look, world_joints
from hm_annotate.synth.motion import BOARD_Y, PLATFORM_Y, ease, grip_point, track
from hm_annotate.synth.plan import plan_dataset

LOOK = Look(1.0, (220, 170, 140), (200, 30, 40), (30, 25, 20), 0.1)
PLANS = {}
for _p in plan_dataset(160, 21, sync_fraction=0.0, frames=60):
    PLANS.setdefault((_p.code, _p.platform), _p)


def _wrap(a: float) -> float:
    return (a + np.pi) % (2 * np.pi) - np.pi


def test_ease_passes_through_its_keys_and_stays_flat_outside():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
    y = ease(x, [0, 1, 2], [0.0, 10.0, 4.0])
    assert y.tolist() == [0.0, 0.0, 5.0, 10.0, 4.0, 4.0]


@pytest.mark.parametrize("key", sorted(PLANS), ids=lambda k: f"{k[0]}-{'10m' if k[1] else '3m'}")
def test_dive_turns_exactly_its_somersaults_and_enters_hands_first(key):
    plan = PLANS[key]
    dive, ex = dives.parse(plan.code), plan.athletes[0]
    tr = track(plan, 0, LOOK, np.random.default_rng(0))
    te = plan.flight_end + 1
    entry = tr.places[te]
    facing = 1 if dive.faces_water else -1
    r = -(1 if dive.rotates_forward else -1) * facing
    # head down, off vertical by exactly the athlete's entry error
    assert abs(_wrap(entry.angle - np.pi - r * ex.entry_error)) < 1e-9
    start = np.pi if dive.armstand else 0.0
    assert abs(abs(entry.angle - start) - (dive.half_soms * np.pi + ex.entry_error)) < 1e-9
    hands = world_joints(tr.poses[te], LOOK, entry)
    assert abs((hands["hand_l"][1] + hands["hand_r"][1]) / 2) < 0.35
    # the flight ends in the water, beyond the edge
    assert tr.places[-1].root[1] < 0.5 and tr.entry_x > 0.3
    if dive.half_twists:
        assert abs(max(p.twist for p in tr.poses) - dive.half_twists * np.pi) < 1e-9


@pytest.mark.parametrize("key", [k for k in sorted(PLANS) if k[1]], ids=lambda k: k[0])
def test_platform_take_off_keeps_feet_or_hands_on_the_edge(key):
    plan = PLANS[key]
    dive = dives.parse(plan.code)
    tr = track(plan, 0, LOOK, np.random.default_rng(0))
    for i in range(plan.takeoff_end + 1):
        grip = grip_point(world_joints(tr.poses[i], LOOK, tr.places[i]), dive.armstand, LOOK.scale)
        assert abs(grip[1] - PLATFORM_Y) < 1e-9 and -0.5 < grip[0] < 0.0


def test_springboard_is_pressed_before_the_take_off_and_rings_after():
    plan = next(p for (c, platform), p in sorted(PLANS.items()) if not platform)
    tr = track(plan, 0, LOOK, np.random.default_rng(0))
    assert tr.board_dip[: plan.takeoff_end + 1].max() > 0.15
    after = tr.board_dip[plan.takeoff_end + 1 :]
    assert after.min() < 0 < after.max() and np.abs(after).max() < 0.15
    assert BOARD_Y - 0.4 < tr.places[0].root[1] - 1.0 < BOARD_Y + 0.2


def test_synchronised_partner_shares_the_clock_and_lags_by_the_plan_offset():
    plan = next(p for p in plan_dataset(12, 3, sync_fraction=1.0, frames=60) if abs(p.sync_offset) > 0.3)
    a = track(plan, 0, LOOK, np.random.default_rng(0))
    b = track(plan, 1, LOOK, np.random.default_rng(0), dt=a.dt)
    assert b.dt == a.dt
    assert abs((b.entry_frame - a.entry_frame) - plan.sync_offset) < 0.5
