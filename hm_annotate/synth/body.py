"""An articulated athlete: joint angles -> 3-D joints -> filled polygons in world metres.

The body is posed in its own frame (x lateral, y up along the spine, z to the front), twisted
about its long axis, seen from the side (the broadcast view of a dive: the somersault plane is
the image plane), rotated by its somersault angle and placed at its root (the hip centre).
Limbs are tapered capsules, the trunk a polygon whose width follows the twist (a side view
shows the chest's depth, a twisted body its shoulder width), the head an ellipse with hair.
Every part keeps its depth so the renderer paints far parts first and shades them darker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# lengths and radii in metres for a 1.75 m athlete (scaled per athlete by Look.scale)
SHOULDER_Y, NECK_Y, HEAD_Y = 0.48, 0.53, 0.65
SHOULDER_X, HIP_X = 0.17, 0.085
UPPER_ARM, FOREARM, HAND = 0.29, 0.25, 0.09
THIGH, SHIN, FOOT = 0.44, 0.42, 0.2
HEAD_DEPTH, HEAD_WIDTH, HEAD_HEIGHT = 0.1, 0.078, 0.112
# trunk cross-sections: height, lateral half-width, depth half-width, centre offset to the front
TRUNK = np.array(
    [
        [-0.07, 0.15, 0.105, -0.015],
        [0.10, 0.145, 0.10, -0.01],
        [0.24, 0.13, 0.092, 0.0],
        [0.38, 0.17, 0.115, 0.02],
        [0.5, 0.16, 0.085, 0.0],
        [0.555, 0.1, 0.06, 0.0],
    ]
)
WAIST_Y = 0.12  # the spine bends (curls) above this height
# (joint a, joint b, radius at a, radius at b) per side; "{s}" is l or r
LIMBS = (
    ("hip_{s}", "knee_{s}", 0.075, 0.052),
    ("knee_{s}", "ankle_{s}", 0.05, 0.033),
    ("ankle_{s}", "toe_{s}", 0.03, 0.02),
    ("shoulder_{s}", "elbow_{s}", 0.046, 0.037),
    ("elbow_{s}", "wrist_{s}", 0.036, 0.027),
    ("wrist_{s}", "hand_{s}", 0.03, 0.022),
)
_CAP = np.linspace(-np.pi / 2, np.pi / 2, 7)
_ROUND = np.linspace(0.0, 2 * np.pi, 24, endpoint=False)


@dataclass(frozen=True)
class Pose:
    """Joint angles of one frame (radians; metres for the knee spread).

    ``hip``/``knee`` flex the legs (0 = straight, hip pi/2 = thighs forward); ``foot`` is 0 flat,
    1 pointed; ``shoulder`` swings the arms forward and up (0 = at the sides, pi = overhead),
    ``elbow`` bends them, ``abduct`` spreads them sideways (negative: hands to the midline);
    ``grab`` (0-1) moves the hands onto the shins, as in tuck and pike; ``curl`` bends the spine
    forward (the rounded back of a tight tuck or pike); ``twist`` turns the body about its long
    axis; ``stride`` and ``swing`` move the left and right leg and arm in opposite directions
    (walking people on deck).
    """

    hip: float = 0.0
    knee: float = 0.0
    knee_spread: float = 0.0
    foot: float = 0.0
    shoulder: float = 0.0
    elbow: float = 0.1
    abduct: float = 0.08
    grab: float = 0.0
    curl: float = 0.0
    twist: float = 0.0
    stride: float = 0.0
    swing: float = 0.0


@dataclass(frozen=True)
class Look:
    """How an athlete looks: body scale and RGB colours; ``suit_top`` is the trunk height the
    swimsuit reaches (trunks for men, a one-piece for women)."""

    scale: float
    skin: tuple[int, int, int]
    suit: tuple[int, int, int]
    hair: tuple[int, int, int]
    suit_top: float


@dataclass(frozen=True)
class Placement:
    """Where a body is: root (hip centre, world metres), somersault angle (counter-clockwise),
    and which way the front faces in the image (+1 right, -1 left)."""

    root: tuple[float, float]
    angle: float
    facing: int


@dataclass(frozen=True)
class Part:
    """A filled polygon in world metres, its depth (larger = farther) and RGB colour."""

    points: np.ndarray
    depth: float
    color: tuple[float, float, float]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _limb(flex: float, side: float, spread: float) -> np.ndarray:
    """Direction of a limb flexed forward by ``flex`` from hanging down, spread sideways."""
    return _unit(np.array([side * spread, -np.cos(flex), np.sin(flex)]))


def _two_bone(root: np.ndarray, target: np.ndarray, a: float, b: float, pole: np.ndarray) -> np.ndarray:
    """Middle joint of a two-bone chain from ``root`` reaching ``target``, bent towards ``pole``."""
    span = target - root
    d = float(np.clip(np.linalg.norm(span), 1e-6, a + b - 1e-6))
    axis = _unit(span)
    along = (a * a - b * b + d * d) / (2 * d)
    off = np.sqrt(max(a * a - along * along, 0.0))
    perp = pole - axis * float(pole @ axis)
    return root + axis * along + _unit(perp) * off


def _curl(p: np.ndarray, angle: float) -> np.ndarray:
    """Rotate an upper-body point forward about the waist (spine flexion)."""
    y, z = p[1] - WAIST_Y, p[2]
    c, s = np.cos(angle), np.sin(angle)
    return np.array([p[0], WAIST_Y + y * c - z * s, z * c + y * s])


def joints3d(pose: Pose) -> dict[str, np.ndarray]:
    """3-D joints in the body frame (before twist, unit scale); sides ``l`` (+x) and ``r``."""
    j: dict[str, np.ndarray] = {
        "pelvis": np.zeros(3),
        "neck": _curl(np.array([0.0, NECK_Y, 0.0]), pose.curl),
        "head": _curl(np.array([0.0, HEAD_Y, 0.012]), pose.curl),
    }
    shin_flex = pose.hip - pose.knee
    foot_flex = shin_flex + (np.pi / 2) * (1.0 - min(max(pose.foot, 0.0), 1.0))
    for s, side in (("l", 1.0), ("r", -1.0)):
        stride, swing = side * pose.stride, -side * pose.swing
        hip = np.array([side * HIP_X, 0.0, 0.0])
        knee = hip + THIGH * _limb(pose.hip + stride, side, pose.knee_spread / THIGH)
        ankle = knee + SHIN * _limb(shin_flex + stride, side, 0.0)
        toe = ankle + FOOT * _limb(foot_flex + stride, side, 0.0)
        shoulder = np.array([side * SHOULDER_X, SHOULDER_Y, 0.0])
        spread = np.tan(pose.abduct)
        elbow = shoulder + UPPER_ARM * _limb(pose.shoulder + swing, side, spread)
        wrist = elbow + FOREARM * _limb(pose.shoulder + swing + pose.elbow, side, spread)
        shoulder, elbow, wrist = (_curl(p, pose.curl) for p in (shoulder, elbow, wrist))
        if pose.grab > 1e-3:
            grip = knee + 0.45 * (ankle - knee) + np.array([side * 0.06, 0.0, 0.0])
            target = wrist + pose.grab * (grip - wrist)
            pole = np.array([side * 1.0, -0.6, 0.2])
            elbow = _two_bone(shoulder, target, UPPER_ARM, FOREARM, pole)
            wrist = target
        hand = wrist + HAND * _unit(wrist - elbow)
        j.update(
            {
                f"hip_{s}": hip, f"knee_{s}": knee, f"ankle_{s}": ankle, f"toe_{s}": toe,
                f"shoulder_{s}": shoulder, f"elbow_{s}": elbow, f"wrist_{s}": wrist, f"hand_{s}": hand,
            }
        )  # fmt: skip
    return j


class _Frame:
    """Maps body-plane coordinates (front, up) and twisted 3-D joints into the world."""

    def __init__(self, pose: Pose, look: Look, where: Placement) -> None:
        self.cos_t, self.sin_t = np.cos(pose.twist), np.sin(pose.twist)
        ca, sa = np.cos(where.angle), np.sin(where.angle)
        f, k = float(where.facing), look.scale
        # world = root + R(angle) @ (facing * front, up) * scale
        self.m = np.array([[ca * f, -sa], [sa * f, ca]]) * k
        self.root = np.asarray(where.root, dtype=np.float64)
        self.facing = f

    def plane(self, front: np.ndarray, up: np.ndarray) -> np.ndarray:
        """Body-plane points (N,) + (N,) -> world (N, 2)."""
        return np.stack([front, up], axis=1) @ self.m.T + self.root

    def joints(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """3-D body-frame joints (N, 3) -> world points (N, 2) and depths (N,)."""
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        lateral = x * self.cos_t + z * self.sin_t
        front = -x * self.sin_t + z * self.cos_t
        return self.plane(front, y), lateral * self.facing


def world_joints(pose: Pose, look: Look, where: Placement) -> dict[str, np.ndarray]:
    """Joints in world metres (no depth), for anchoring, camera work and splash placement."""
    j3 = joints3d(pose)
    world, _ = _Frame(pose, look, where).joints(np.array(list(j3.values())))
    return dict(zip(j3, world, strict=True))


def _capsules(a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Tapered capsules from a (M, 2) to b (M, 2) with end radii (M,): polygons (M, 14, 2)."""
    d = b - a
    phi = np.arctan2(d[:, 1], d[:, 0])[:, None] + _CAP[None, :]
    cap_b = b[:, None, :] + rb[:, None, None] * np.stack([np.cos(phi), np.sin(phi)], -1)
    cap_a = a[:, None, :] - ra[:, None, None] * np.stack([np.cos(phi), np.sin(phi)], -1)
    return np.concatenate([cap_b, cap_a], 1)


def _shade(color: tuple[int, int, int], depth: float) -> tuple[float, float, float]:
    """Far parts darker, near parts a little brighter: the depth cue that shows a twist."""
    k = 1.0 - 0.24 * min(max(depth / 0.1, -0.3), 1.0)
    return tuple(float(min(255.0, c * k)) for c in color)  # type: ignore[return-value]


def _trunk(fr: _Frame, top: float, curl: float) -> np.ndarray:
    """The trunk outline up to height ``top``: its width follows the twist, its spine the curl."""
    rows = TRUNK[TRUNK[:, 0] < top]
    if top < TRUNK[-1, 0]:
        last = np.array([np.interp(top, TRUNK[:, 0], TRUNK[:, i]) for i in range(4)])
        rows = np.vstack([rows, last])
    y, lat, dep, off = rows.T
    half = np.sqrt((dep * fr.cos_t) ** 2 + (lat * fr.sin_t) ** 2)
    # sections above the waist turn with the spine, progressively up to the chest
    bend = curl * np.clip((y - WAIST_Y) / (0.38 - WAIST_Y), 0.0, 1.0)
    rise = np.maximum(y - WAIST_Y, 0.0)
    c_up = np.minimum(y, WAIST_Y) + rise * np.cos(bend)
    c_front = off * fr.cos_t + rise * np.sin(bend) * fr.cos_t
    ux, uy = -np.sin(bend) * fr.cos_t, np.cos(bend)  # section direction (front, up) across the body
    fx, fy = uy, -ux
    front = np.concatenate([c_front + half * fx, (c_front - half * fx)[::-1]])
    up = np.concatenate([c_up + half * fy, (c_up - half * fy)[::-1]])
    return fr.plane(front, up)


def _head(fr: _Frame, centre_up: float, centre_front: float, look: Look) -> list[Part]:
    a = np.sqrt((HEAD_DEPTH * fr.cos_t) ** 2 + (HEAD_WIDTH * fr.sin_t) ** 2)
    t = _ROUND
    head = fr.plane(centre_front + a * np.cos(t), centre_up + HEAD_HEIGHT * np.sin(t))
    # hair covers the top and the back of the head; the back turns with the twist
    if fr.cos_t > 0.3:
        lo, hi = np.deg2rad(35), np.deg2rad(215)
    elif fr.cos_t < -0.3:
        lo, hi = np.deg2rad(-35), np.deg2rad(145)
    else:
        lo, hi = np.deg2rad(15), np.deg2rad(165)
    th = np.linspace(lo, hi, 12)
    hair = fr.plane(centre_front + 1.04 * a * np.cos(th), centre_up + 1.04 * HEAD_HEIGHT * np.sin(th))
    skin, hair_color = tuple(map(float, look.skin)), tuple(map(float, look.hair))
    return [Part(head, -0.001, skin), Part(hair, -0.002, hair_color)]


def parts(pose: Pose, look: Look, where: Placement) -> list[Part]:
    """The athlete as polygons, far parts first (paint in this order)."""
    fr = _Frame(pose, look, where)
    j3 = joints3d(pose)
    index = {name: i for i, name in enumerate(j3)}
    world, depth = fr.joints(np.array(list(j3.values())))
    k = look.scale
    # limbs of both sides, then the swimsuit over the top of each thigh
    ends = [(index[a.format(s=s)], index[b.format(s=s)], ra, rb) for s in "lr" for a, b, ra, rb in LIMBS]
    ia, ib, ra, rb = (np.array(c) for c in zip(*ends, strict=True))
    limbs = _capsules(world[ia], world[ib], ra * k, rb * k)
    limb_depth = (depth[ia] + depth[ib]) / 2
    hips, knees = np.array([index["hip_l"], index["hip_r"]]), np.array([index["knee_l"], index["knee_r"]])
    suit_legs = _capsules(world[hips], world[hips] + 0.2 * (world[knees] - world[hips]),
                          np.full(2, 0.079 * k), np.full(2, 0.07 * k))  # fmt: skip
    suit_depth = (depth[hips] + depth[knees]) / 2 - 1e-4
    out = [Part(p, float(d), _shade(look.skin, float(d))) for p, d in zip(limbs, limb_depth, strict=True)]
    out += [
        Part(p, float(d), _shade(look.suit, float(d))) for p, d in zip(suit_legs, suit_depth, strict=True)
    ]
    out.append(Part(_trunk(fr, TRUNK[-1, 0], pose.curl), 0.0, tuple(map(float, look.skin))))
    out.append(Part(_trunk(fr, look.suit_top, pose.curl), -0.0005, tuple(map(float, look.suit))))
    neck = np.array([_curl(np.array([0.0, y, 0.0]), pose.curl) for y in (0.46, 0.6)])
    neck_w = fr.plane(neck[:, 2] * fr.cos_t, neck[:, 1])
    neck_poly = _capsules(neck_w[:1], neck_w[1:], np.array([0.05 * k]), np.array([0.048 * k]))[0]
    out.append(Part(neck_poly, 0.0002, _shade(look.skin, 0.02)))
    out.extend(_head(fr, float(j3["head"][1]), float(j3["head"][2]) * fr.cos_t, look))
    # far first; the trunk's own pieces keep their order among themselves (stable sort)
    return sorted(out, key=lambda part: -part.depth)
