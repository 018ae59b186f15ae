"""How an athlete moves through a dive, frame by frame: poses, somersault angle, flight path.

Take-off is key-framed (arm swing and crouch on a platform, a hurdle and board press on a
springboard, a held handstand for armstand dives) with the feet or hands pinned to the edge.
Flight is ballistic: the take-off velocity and the frames the plan gives the flight fix the
time step, so a clip of any length keeps real physics. The somersault turns faster while the
body is closed (tuck, pike), by exactly the dive's half somersaults plus the athlete's entry
error; twisting dives turn about the long axis during their twisting step. The athlete's
execution (plan.Execution) is what shows: how closed the position is, how evenly the body
turns, how far from vertical it enters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hm_annotate.synth import dives
from hm_annotate.synth.body import Look, Placement, Pose, world_joints
from hm_annotate.synth.plan import VideoPlan

G = 9.81
EDGE_X = 0.0  # the water side edge of the platform or board; the pool is at x > 0
PLATFORM_Y, BOARD_Y = 10.0, 3.0
PARTNER_SHIFT = np.array([-1.0, 0.12])  # where diver B of a synchronised pair appears
ENTRY_REACH = 1.15  # hip height above the water when the hands touch it, body vertical


@dataclass(frozen=True)
class Track:
    """One athlete over the clip: pose and placement per frame, the board's deflection per
    frame, and when and where the hands reach the water."""

    poses: list[Pose]
    places: list[Placement]
    board_dip: np.ndarray
    entry_frame: float
    entry_x: float
    dt: float


def ease(x: np.ndarray | float, xs: list[float], ys: list[float]) -> np.ndarray:
    """Smooth (smoothstep) interpolation through key frames ``(xs, ys)``; flat outside."""
    xa, ya = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    x = np.clip(np.asarray(x, dtype=np.float64), xa[0], xa[-1])
    i = np.clip(np.searchsorted(xa, x, side="right") - 1, 0, len(xa) - 2)
    s = (x - xa[i]) / np.maximum(xa[i + 1] - xa[i], 1e-9)
    return ya[i] + (ya[i + 1] - ya[i]) * (s * s * (3.0 - 2.0 * s))


def _takeoff(u: np.ndarray, dive: dives.Dive, platform: bool, r: float) -> dict[str, np.ndarray]:
    """Pose channels, lean and support details over the take-off (u = 0..1)."""
    if dive.armstand:
        return {
            "shoulder": np.full_like(u, np.pi), "elbow": np.zeros_like(u), "abduct": np.full_like(u, 0.1),
            "hip": ease(u, [0, 0.8, 0.95, 1], [0, 0, 0.45, 0.25]), "knee": np.zeros_like(u),
            "foot": np.ones_like(u),
            "angle": np.pi + r * (0.03 * np.sin(9 * u) + ease(u, [0.85, 1], [0, 0.25])),
            "lift": np.zeros_like(u), "back": np.zeros_like(u), "dip": np.zeros_like(u),
        }  # fmt: skip
    keys = [0, 0.2, 0.4, 0.58, 0.75, 0.9, 1.0]
    out = {
        "shoulder": ease(u, keys, [0.1, 1.6, 3.0, 3.0, -0.5, 1.2, 2.9]),
        "elbow": ease(u, keys, [0.15, 0.1, 0.05, 0.05, 0.2, 0.15, 0.05]),
        "abduct": np.full_like(u, 0.08),
        "hip": ease(u, keys, [0, 0, 0, 0, 0.75, 0.55, 0.05]),
        "knee": ease(u, keys, [0, 0, 0, 0, 1.3, 1.0, 0.05]),
        "foot": ease(u, keys, [0, 0, 0, 0, 0, 0.3, 0.9]) + (0.0 if dive.faces_water else 0.35),
        "angle": r * ease(u, keys, [0, 0, 0, 0, 0.05, 0.1, 0.3]),
        "lift": np.zeros_like(u),
        "back": np.zeros_like(u),
        "dip": np.zeros_like(u),
    }
    if not platform:
        if dive.faces_water:  # hurdle: a hop forward onto the end of the board, then press it
            hop = (u > 0.25) & (u < 0.55)
            out["lift"] = np.where(hop, 0.5 * np.sin(np.pi * (u - 0.25) / 0.3), 0.0)
            out["hip"] = out["hip"] + np.where(hop, 0.9 * np.sin(np.pi * (u - 0.25) / 0.3), 0.0)
            out["knee"] = out["knee"] + np.where(hop, 1.2 * np.sin(np.pi * (u - 0.25) / 0.3), 0.0)
            out["back"] = ease(u, [0, 0.25, 0.55, 1], [0.7, 0.7, 0.0, 0.0])
            out["dip"] = ease(u, [0.55, 0.68, 0.82, 0.95, 1.0], [0, 0.28, 0.32, 0.05, 0])
        else:
            out["dip"] = ease(u, [0.6, 0.75, 0.9, 1.0], [0, 0.2, 0.25, 0])
    return out


def _flight_keys(plan: VideoPlan, dive: dives.Dive, tight: float) -> dict[str, tuple[list, list]]:
    """Key frames over the flight (v = 0..1) for position, arms and twist."""
    t1, te = plan.takeoff_end, plan.flight_end + 1
    span = te - t1

    def v(frame: float) -> float:
        return float(np.clip((frame - t1) / span, 0.0, 1.0))

    if plan.twist_frames is None:
        tw = None
        soms = (0.0, 1.0)
    else:
        a, b = plan.twist_frames
        tw = (v(a - 0.5), v(b + 0.5))
        soms = (tw[1], 1.0) if dive.twists_first else (0.0, tw[0])
    closed = dive.position in "bc"
    s0, s1 = soms
    out_at = s1 - (0.2 - 0.06 * tight) * (s1 - s0) - (0.06 if s1 >= 1.0 else 0.0)
    if closed:
        pos = ([0, s0 + 0.03, s0 + 0.13, out_at, min(out_at + 0.1, 1.0), 1.0], [0, 0, 1, 1, 0, 0])
    else:
        pos = ([0, 1], [0, 0])
    # arms: overhead from the take-off, then the position's hold (or at the sides when straight),
    # folded to the chest while twisting, overhead again for the entry
    hold_sh, hold_el, hold_ab = (1.2, 0.6, 0.08) if closed else (0.05, 0.1, 0.02)
    ks, sh, el, ab = [0.0], [2.9], [0.05], [0.08]
    if tw is not None:
        order = [("twist", tw), ("soms", soms)] if dive.twists_first else [("soms", soms), ("twist", tw)]
    else:
        order = [("soms", soms)]
    for kind, (a, b) in order:
        if kind == "twist":
            ks += [a + 0.04 * (b - a), b - 0.08 * (b - a)]
            sh += [0.5, 0.5]
            el += [2.3, 2.3]
            ab += [-0.45, -0.45]
        else:
            end = out_at if closed else b - 0.1 * (b - a)
            ks += [a + 0.1 * (b - a), end]
            sh += [hold_sh, hold_sh]
            el += [hold_el, hold_el]
            ab += [hold_ab, hold_ab]
    come_out = (out_at + 0.1) if closed else ks[-1] + 0.08
    ks += [min(max(come_out, ks[-1] + 0.02), 0.97), 1.0]
    sh += [np.pi, np.pi]
    el += [0.0, 0.0]
    ab += [-0.04, -0.04]
    keys = {"position": pos, "shoulder": (ks, sh), "elbow": (ks, el), "abduct": (ks, ab)}
    if tw is not None:
        keys["twist"] = ([0, tw[0], tw[1], 1], [0, 0, dive.half_twists * np.pi, dive.half_twists * np.pi])
    return keys


def _rotation_profile(v: np.ndarray, closed: np.ndarray, wobble: float, phase: float) -> np.ndarray:
    """Fraction of the flight's rotation done at v: faster while closed, uneven with wobble."""
    grid = np.linspace(0.0, 1.0, 401)
    rate = 0.55 + 1.6 * np.interp(grid, v, closed)
    rate *= 1.0 + 2.0 * wobble * np.sin(2 * np.pi * 2.3 * grid + phase)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2)])
    return np.interp(v, grid, cum / cum[-1])


def grip_point(j: dict[str, np.ndarray], armstand: bool, scale: float) -> np.ndarray:
    """The point that rests on the edge: the hands in a handstand, else the balls of the feet."""
    if armstand:
        return (j["hand_l"] + j["hand_r"]) / 2 + np.array([0.0, -0.025 * scale])
    balls = [j[f"ankle_{s}"] + 0.75 * (j[f"toe_{s}"] - j[f"ankle_{s}"]) for s in "lr"]
    return (balls[0] + balls[1]) / 2 + np.array([0.0, -0.03 * scale])


def track(
    plan: VideoPlan, athlete: int, look: Look, rng: np.random.Generator, dt: float | None = None
) -> Track:
    """Poses and placements of one athlete (0 = A, 1 = B of a synchronised pair) per frame.

    ``dt`` (seconds per frame) is derived from the flight unless given: diver B of a pair shares
    diver A's clock.
    """
    dive = dives.parse(plan.code)
    ex = plan.athletes[athlete]
    lead = plan.athletes[0]  # a synchronised pair leaves with the same velocity
    facing = 1 if dive.faces_water else -1
    r = -(1.0 if dive.rotates_forward else -1.0) * facing
    support = PLATFORM_Y if plan.platform else BOARD_Y
    shift = PARTNER_SHIFT if athlete == 1 else np.zeros(2)
    lag = plan.sync_offset if athlete == 1 else 0.0
    t1, te = plan.takeoff_end, plan.flight_end + 1
    tau = np.arange(plan.n_frames, dtype=np.float64) - lag
    tight = ex.tightness

    # -- take-off: pin the balls of the feet (or the hands) to the edge ---------------------
    u = np.clip(tau / t1, 0.0, 1.0)
    to = _takeoff(u, dive, plan.platform, r)
    anchor_x = EDGE_X - (0.25 if dive.armstand else 0.07) - to["back"]

    # -- flight ---------------------------------------------------------------------------
    v = np.clip((tau - t1) / (te - t1), 0.0, 1.0)
    keys = _flight_keys(plan, dive, tight)
    closed = ease(v, *keys["position"])
    flight_arm = {k: ease(v, *keys[k]) for k in ("shoulder", "elbow", "abduct")}
    twist = ease(v, *keys["twist"]) if "twist" in keys else np.zeros_like(v)
    if dive.position == "c":
        hip_c, knee_c, spread_c = 2.55 + 0.25 * tight, 2.55 + 0.3 * tight, 0.14 * (1 - tight)
        curl_c = 0.5 + 0.4 * tight
    else:
        hip_c, knee_c, spread_c = 2.2 + 0.45 * tight, 0.4 * (1 - tight), 0.06 * (1 - tight)
        curl_c = 0.3 + 0.35 * tight
    loose = 0.25 * (1 - tight)  # soft knees when opening out of a loose dive

    # the take-off's last instant (u = 1), where the flight starts
    end = {k: float(x[0]) for k, x in _takeoff(np.array([1.0]), dive, plan.platform, r).items()}
    start_angle = np.pi if dive.armstand else 0.0
    angle1 = end["angle"]
    angle_end = start_angle + r * (dive.half_soms * np.pi + ex.entry_error)
    turned = _rotation_profile(v, closed, ex.wobble, float(rng.uniform(0, 2 * np.pi)))

    poses: list[Pose] = []
    angles = np.empty(plan.n_frames)
    for i in range(plan.n_frames):
        if tau[i] <= t1:
            poses.append(
                Pose(
                    hip=to["hip"][i], knee=to["knee"][i], foot=to["foot"][i], shoulder=to["shoulder"][i],
                    elbow=to["elbow"][i], abduct=to["abduct"][i],
                )
            )  # fmt: skip
            angles[i] = to["angle"][i]
            continue
        c = closed[i]
        after = tau[i] >= te
        poses.append(
            Pose(
                hip=c * hip_c + (1 - c) * loose * 0.4,
                knee=c * knee_c + (1 - c) * loose,
                knee_spread=c * spread_c,
                foot=1.0,
                shoulder=np.pi if after else flight_arm["shoulder"][i],
                elbow=0.0 if after else flight_arm["elbow"][i],
                abduct=-0.04 if after else flight_arm["abduct"][i],
                grab=c,
                curl=c * curl_c,
                twist=twist[i],
            )
        )
        angles[i] = angle1 + (angle_end - angle1) * turned[i]
        if after:  # keeps turning a little under its own momentum
            angles[i] = angle_end + np.sign(ex.entry_error) * 0.02 * (tau[i] - te)

    # -- where the body is: pinned to the edge on the take-off, ballistic after it ------------
    def root_at(pose: Pose, angle: float, x: float, dip: float) -> np.ndarray:
        joints = world_joints(pose, look, Placement((0.0, 0.0), angle, facing))
        grip = grip_point(joints, dive.armstand, look.scale)
        return np.array([x, support - dip]) - grip + shift

    roots = np.empty((plan.n_frames, 2))
    for i in np.flatnonzero(tau <= t1):
        roots[i] = root_at(poses[i], float(angles[i]), float(anchor_x[i]), float(to["dip"][i]))
        roots[i, 1] += to["lift"][i]
    pose1 = Pose(
        hip=end["hip"], knee=end["knee"], foot=end["foot"], shoulder=end["shoulder"], elbow=end["elbow"],
        abduct=end["abduct"],
    )  # fmt: skip
    root1 = root_at(pose1, angle1, EDGE_X - (0.25 if dive.armstand else 0.07), 0.0)
    vx, vy = lead.launch
    drop = root1[1] - shift[1] - ENTRY_REACH * look.scale * abs(np.cos(ex.entry_error))
    flight_time = (vy + np.sqrt(vy * vy + 2 * G * drop)) / G
    dt = flight_time / (te - t1) if dt is None else dt
    t = np.maximum(tau - t1, 0.0) * dt
    fly = tau > t1
    roots[fly, 0] = root1[0] + vx * t[fly]
    roots[fly, 1] = root1[1] + vy * t[fly] - 0.5 * G * t[fly] ** 2

    places = [
        Placement((float(x), float(y)), float(a), facing) for (x, y), a in zip(roots, angles, strict=True)
    ]
    # the board (springboard) rings down after the take-off
    ring = np.where(fly, 0.12 * np.exp(-3.0 * t) * np.sin(2 * np.pi * 2.2 * t), 0.0)
    dip = np.where(fly, -ring, to["dip"]) if not plan.platform else np.zeros(plan.n_frames)
    entry_x = float(root1[0] + vx * flight_time)
    return Track(poses, places, dip, float(t1 + lag + flight_time / dt), entry_x, float(dt))
