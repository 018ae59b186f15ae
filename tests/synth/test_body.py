import numpy as np

from hm_annotate.synth.body import Look, Placement, Pose, parts, world_joints

LOOK = Look(1.0, (220, 170, 140), (200, 30, 40), (30, 25, 20), 0.1)


def _extent(pose: Pose, angle: float = 0.0) -> np.ndarray:
    pts = np.concatenate([p.points for p in parts(pose, LOOK, Placement((0.0, 0.0), angle, 1))])
    return pts.max(0) - pts.min(0)


def test_standing_athlete_is_about_175_cm_tall_and_narrow_from_the_side():
    w, h = _extent(Pose())
    assert 1.6 < h < 1.8 and w < 0.5
    tall = Look(1.1, LOOK.skin, LOOK.suit, LOOK.hair, LOOK.suit_top)
    pts = np.concatenate([p.points for p in parts(Pose(), tall, Placement((0.0, 0.0), 0.0, 1))])
    assert abs((pts[:, 1].max() - pts[:, 1].min()) / h - 1.1) < 0.01


def test_tuck_and_pike_are_compact_and_somersault_angle_turns_the_body():
    assert _extent(Pose(hip=2.75, knee=2.8, curl=0.8, grab=1, foot=1))[1] < 1.1
    assert _extent(Pose(), angle=np.pi / 2)[0] > 1.6  # lying horizontal
    # arms overhead reach well above the head
    assert _extent(Pose(shoulder=np.pi, elbow=0.0))[1] - _extent(Pose())[1] > 0.3


def test_twist_shows_the_shoulders_and_turns_the_face():
    side = parts(Pose(), LOOK, Placement((0.0, 0.0), 0.0, 1))
    front = parts(Pose(twist=np.pi / 2), LOOK, Placement((0.0, 0.0), 0.0, 1))

    def trunk_width(ps):
        trunk = [p for p in ps if p.depth == 0.0][0]
        return np.ptp(trunk.points[:, 0])

    assert trunk_width(front) > 1.25 * trunk_width(side)


def test_parts_are_painted_far_first_and_far_parts_are_darker():
    ps = parts(Pose(shoulder=0.5), LOOK, Placement((0.0, 0.0), 0.0, 1))
    depths = [p.depth for p in ps]
    assert depths == sorted(depths, reverse=True)
    far, near = ps[0], ps[-1]
    assert sum(far.color) < sum(near.color)


def test_grab_puts_the_hands_on_the_shins():
    j = world_joints(Pose(hip=2.7, knee=2.7, grab=1.0), LOOK, Placement((0.0, 0.0), 0.0, 1))
    shin_mid = (j["knee_l"] + j["ankle_l"]) / 2
    assert np.linalg.norm(j["wrist_l"] - shin_mid) < 0.12
