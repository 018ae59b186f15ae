"""What each synthetic video shows and what its annotations say, decided before any pixel is drawn.

The plan fixes, from the seed alone, the events and instances, each clip's absolute frame range
in an imaginary broadcast, the dive, the athletes' execution (the visible quality factors the
renderer draws: entry angle, splash, tightness of the position, smoothness of the rotation, and
for synchronised pairs their timing), the judges' awards that follow from that execution, the
steps and the train/test split. Annotations are written from the plan, so they never depend on
rendering or on how many worker processes rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.synth import dives, scoring

COMPETITIONS = (
    "FINADivingWorldCup2021",
    "FINADivingWorldCup2018",
    "FINADivingWorldChampionships2019",
    "FINADivingWorldChampionships2017",
    "EuropeanAquaticsChampionships2021",
    "FINADivingWorldSeries2019Beijing",
)
STAGES = ("final", "semifinal", "preliminary")
MIN_FRAMES = 24
TEST_FRACTION = 0.25


class PlanError(HMError, ValueError):
    """Generator parameters that cannot make a dataset."""


@dataclass(frozen=True)
class Execution:
    """How well one athlete performs the dive: the factors the renderer makes visible.

    ``entry_error`` is the body's angle off vertical at entry (radians, + over-rotated),
    ``tightness`` (0-1) how closed the tuck or pike is, ``wobble`` (0-0.3) how unevenly the
    body rotates, ``splash`` (about 0.15-1.3) the size of the entry splash; ``merit`` is the
    execution award a judge without noise would give.
    """

    entry_error: float
    tightness: float
    wobble: float
    splash: float
    launch: tuple[float, float]  # take-off velocity (m/s): away from the board, upwards
    merit: float


@dataclass(frozen=True)
class VideoPlan:
    """One clip: identity, frame range, dive, athletes, scores and steps (frame indices relative
    to the first frame of the clip)."""

    event: str
    instance: int
    platform: bool
    gender: str
    code: str
    difficulty: float
    start_frame: int
    n_frames: int
    takeoff_end: int  # last take-off frame
    flight_end: int  # last frame before the entry
    twist_frames: tuple[int, int] | None  # first and last frame of the twisting step
    athletes: tuple[Execution, ...]
    sync_offset: float  # frames diver B lags diver A (synchronised events)
    judge_scores: tuple[float, ...]
    dive_score: float
    split: str
    seed: int  # the renderer's seed for this clip

    @property
    def video_id(self) -> str:
        return f"{self.event}/{self.instance}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.event, self.instance)

    @property
    def sync(self) -> bool:
        return len(self.athletes) == 2

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.n_frames - 1

    @property
    def frame_numbers(self) -> np.ndarray:
        return np.arange(self.start_frame, self.end_frame + 1, dtype=np.int64)

    def step_names(self) -> list[str]:
        return dives.steps(dives.parse(self.code))

    def step_bounds(self) -> list[tuple[int, int]]:
        """First and last relative frame of each step, in the order of ``step_names``."""
        t1, t2, n = self.takeoff_end, self.flight_end, self.n_frames
        flight = [(t1 + 1, t2)]
        if self.twist_frames is not None:
            a, b = self.twist_frames
            flight = [(a, b), (b + 1, t2)] if a == t1 + 1 else [(t1 + 1, a - 1), (a, b)]
        return [(0, t1), *flight, (t2 + 1, n - 1)]

    def frames_labels(self) -> np.ndarray:
        """Sub-action label of every frame (int64, length end - start + 1)."""
        labels = np.empty(self.n_frames, dtype=np.int64)
        for name, (a, b) in zip(self.step_names(), self.step_bounds(), strict=True):
            labels[a : b + 1] = dives.SUB_ACTION_IDS[name]
        return labels

    def steps_transit_frames(self) -> np.ndarray:
        """FineDiving's step transitions: last take-off frame and last frame before the entry,
        relative to the start frame (int64)."""
        return np.array([self.takeoff_end, self.flight_end], dtype=np.int64)

    def metadata(self) -> dict[str, Any]:
        """The per-video metadata carried in the mask store (absolute step transitions)."""
        return {
            "action_type": self.code,
            "score": self.dive_score,
            "difficulty": self.difficulty,
            "judge_scores": list(self.judge_scores),
            "split": self.split,
            "step_transitions": [int(self.start_frame + t) for t in self.steps_transit_frames()],
            "event": self.event,
            "sport": "diving",
            "athletes": len(self.athletes),
            "start_frame": int(self.start_frame),
            "end_frame": int(self.end_frame),
            "dataset_format": "finediving",
        }


def _execution(rng: np.random.Generator, skill: float, platform: bool) -> Execution:
    size = (1 - skill) * rng.uniform(0.05, 0.45) + abs(rng.normal(0, 0.03))
    error = float(rng.choice([-1.0, 1.0]) * size)
    tightness = float(np.clip(0.5 + 0.5 * skill + rng.normal(0, 0.08), 0.3, 1.0))
    wobble = float(np.clip((1 - skill) * rng.uniform(0.0, 0.3), 0.0, 0.3))
    splash = float(np.clip(0.15 + 1.3 * abs(error) + (1 - skill) * rng.uniform(0.0, 0.5), 0.15, 1.3))
    vy = rng.uniform(3.0, 3.6) if platform else rng.uniform(5.0, 5.6)
    launch = (float(rng.uniform(0.8, 1.3)), float(vy))
    merit = 10.0 - 6.0 * abs(error) - 2.5 * (splash - 0.15) - 2.5 * (1.0 - tightness) - 6.0 * wobble
    return Execution(error, tightness, wobble, splash, launch, float(np.clip(merit, 0.5, 10.0)))


Event = tuple[str, bool, str, bool, int]


def _events(rng: np.random.Generator, n_individual: int, n_sync: int) -> list[Event]:
    """(name, platform, gender, sync, size) per event, sizes summing to the video counts."""
    used: set[str] = set()
    out = []
    for sync, total in ((False, n_individual), (True, n_sync)):
        left = total
        while left > 0:
            size = int(min(left, rng.integers(2, 7) if sync else rng.integers(3, 9)))
            for _ in range(1000):
                comp, stage = rng.choice(COMPETITIONS), rng.choice(STAGES)
                gender, platform = str(rng.choice(["Men", "Women"])), bool(rng.random() < 0.5)
                height = "10m" if platform else "3m"
                name = (
                    f"{comp}_{gender}{height}_synchronised_{stage}"
                    if sync
                    else f"{comp}_{gender}{height}_{stage}_r{rng.integers(1, 7)}"
                )
                if name not in used:
                    break
            else:  # pragma: no cover - more events than names
                raise PlanError("ran out of distinct event names; ask for fewer videos")
            used.add(name)
            out.append((name, platform, gender, sync, size))
            left -= size
    return out


def _code(rng: np.random.Generator, platform: bool, counts: dict[str, int]) -> str:
    """A dive code for the apparatus, preferring codes used once or twice so types come in small
    groups (exemplars of the same action type are what contrastive AQA models compare against)."""
    table = dives.PLATFORM_DD if platform else dives.SPRINGBOARD_DD
    codes = sorted(table)
    weights = np.array([(1.0, 5.0, 2.0, 1.0)[min(counts.get(c, 0), 3)] for c in codes])
    return str(codes[int(rng.choice(len(codes), p=weights / weights.sum()))])


def _timing(rng: np.random.Generator, n: int, platform: bool, dive: dives.Dive):
    entry = max(3, round(n * rng.uniform(0.14, 0.19)))
    flight = max(6, round(n * (rng.uniform(0.46, 0.52) if platform else rng.uniform(0.40, 0.46))))
    t1 = n - entry - flight - 1
    t2 = t1 + flight
    twist = None
    if dive.half_twists:
        span = max(2, round(flight * (0.5 if dive.twists_first else 0.45)))
        twist = (t1 + 1, t1 + span) if dive.twists_first else (t2 - span + 1, t2)
    return t1, t2, twist


def _splits(rng: np.random.Generator, codes: list[str]) -> list[str]:
    """About a quarter of each action type to test; a type seen once stays in train, so every
    test video has training exemplars of its type."""
    split = ["train"] * len(codes)
    for code in sorted(set(codes)):
        idx = [i for i, c in enumerate(codes) if c == code]
        if len(idx) < 2:
            continue
        n_test = min(len(idx) - 1, int(np.floor(TEST_FRACTION * len(idx) + rng.random())))
        for i in rng.permutation(idx)[:n_test]:
            split[int(i)] = "test"
    if "test" not in split and len(codes) >= 2:
        common = max(sorted(set(codes)), key=codes.count)
        if codes.count(common) >= 2:
            split[codes.index(common)] = "test"
    return split


def plan_dataset(videos: int, seed: int, sync_fraction: float = 0.2, frames: int = 104) -> list[VideoPlan]:
    """Plan ``videos`` clips of about ``frames`` frames; deterministic for a seed."""
    if videos < 1:
        raise PlanError(f"need at least one video, got {videos}")
    if frames < MIN_FRAMES:
        raise PlanError(f"clips need at least {MIN_FRAMES} frames, got {frames}")
    if not 0.0 <= sync_fraction <= 1.0:
        raise PlanError(f"sync fraction must be within 0-1, got {sync_fraction}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E1F]))
    n_sync = int(round(videos * sync_fraction))
    counts: dict[str, int] = {}
    drafts: list[dict[str, Any]] = []
    for name, platform, gender, sync, size in _events(rng, videos - n_sync, n_sync):
        cursor = int(rng.integers(200, 2500))
        for instance in range(size):
            code = _code(rng, platform, counts)
            counts[code] = counts.get(code, 0) + 1
            dive = dives.parse(code)
            n = max(MIN_FRAMES, int(round(frames * rng.uniform(0.93, 1.07))))
            start = cursor + int(rng.integers(150, 1500))
            cursor = start + n
            t1, t2, twist = _timing(rng, n, platform, dive)
            skill = float(rng.uniform(0.0, 1.0))
            athletes = [_execution(rng, skill, platform)]
            offset = 0.0
            if sync:
                athletes.append(_execution(rng, float(np.clip(skill + rng.normal(0, 0.1), 0, 1)), platform))
                offset = float(rng.normal(0.0, 0.3 + 1.5 * (1 - skill)))
            dd = dives.difficulty(code, platform)
            if sync:
                apart = abs(athletes[0].entry_error - athletes[1].entry_error)
                together = 10.0 - 1.6 * abs(offset) - 4.0 * apart
                awards = (
                    scoring.awards(rng, athletes[0].merit, 3)
                    + scoring.awards(rng, athletes[1].merit, 3)
                    + scoring.awards(rng, float(np.clip(together, 0.5, 10.0)), 5)
                )
            else:
                awards = scoring.awards(rng, athletes[0].merit, scoring.INDIVIDUAL_JUDGES)
            drafts.append(
                dict(
                    event=name, instance=instance, platform=platform, gender=gender, code=code,
                    difficulty=dd, start_frame=start, n_frames=n, takeoff_end=t1, flight_end=t2,
                    twist_frames=twist, athletes=tuple(athletes), sync_offset=offset,
                    judge_scores=tuple(awards), dive_score=scoring.dive_score(awards, dd),
                    seed=int(rng.integers(0, 2**31 - 1)),
                )
            )  # fmt: skip
    splits = _splits(rng, [d["code"] for d in drafts])
    return [VideoPlan(split=s, **d) for d, s in zip(drafts, splits, strict=True)]
