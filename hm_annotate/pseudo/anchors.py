"""Where to start labelling a video that has no prompt: its athletes, picked from the whole video.

A detector run frame by frame from the first frame has to choose at once, and the first frames of
a dive are the hardest: the athlete stands still on the board (nothing to see in a motion
difference) while an official walks on the deck or an arm swings. Over the whole clip, though,
the athlete is the one thing that moves strongly for a long time. So the detector is run on every
few frames, its boxes are linked into tracks (near in place, similar in size), the tracks that
were the strongest mover most often are the athletes, and labelling starts from the scanned frame
where they stood out most, going forwards and backwards from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hm_annotate.pseudo import boxes

TOP = 6  # detections per scanned frame that may join a track
MAX_JUMP = 1.5  # centre move between linked boxes, in box diagonals per scanned step
MAX_GROWTH = 4.0  # area ratio beyond which two boxes are not the same thing
MAX_GAP = 2  # scanned frames a track may miss and still go on
CLUTTER = 0.1  # how much each other box in a frame weakens a box's strength
TYPICAL = 0.5  # a frame's best counts as strong only from this share of the video's usual best
SMOOTH = 0.5  # log area change around a box, before plus after, under which the track is steady


@dataclass
class Track:
    """Detections of one moving thing on scanned frames; ``strength`` is each detection's score
    over the best score of its frame (1 = the strongest mover there)."""

    positions: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    strength: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        """How long and how clearly this was the strongest mover."""
        return float(sum(self.strength))

    def add(self, position: int, box: np.ndarray, strength: float) -> None:
        self.positions.append(position)
        self.boxes.append(box)
        self.strength.append(strength)


@dataclass(frozen=True)
class Anchor:
    """The scanned frame to start from and the box of each athlete on it (best track first)."""

    position: int
    boxes: list[np.ndarray]


def link(found: Mapping[int, np.ndarray], step: int) -> list[Track]:
    """Tracks from detections (``x0, y0, x1, y1, score`` rows, best first) at scanned positions
    ``step`` apart, strongest first. Each detection joins at most one track: the nearest recent
    track it fits (a skipped frame counts as one diagonal), nearest pairs first."""
    tracks: list[Track] = []
    tops = [float(np.max(d[:, 4])) for d in (np.asarray(v, np.float64) for v in found.values()) if len(d)]
    typical = float(np.median(tops)) if tops else 0.0
    for position in sorted(found):
        everything = np.asarray(found[position], np.float64)
        dets = everything[:TOP]
        if len(dets) == 0:
            continue
        # a box stands out less among many movers (a splash, a crowd waving) than alone, and
        # less where the strongest mover is weak for this video (a logo while the athlete stands)
        top = max(float(dets[:, 4].max()), TYPICAL * typical, 1e-12)
        best = top * (1 + CLUTTER * (len(everything) - 1))
        recent = [t for t in tracks if position - t.positions[-1] <= (MAX_GAP + 1) * step]
        pairs = []
        for ti, track in enumerate(recent):
            last = track.boxes[-1]
            steps = max(1, (position - track.positions[-1]) // step)
            for di, d in enumerate(dets):
                ratio = boxes.area(d[:4]) / max(boxes.area(last), 1.0)
                if not 1 / MAX_GROWTH <= ratio <= MAX_GROWTH:
                    continue
                diag = max(boxes.diagonal(last), boxes.diagonal(d[:4]), 1.0)
                jump = float(np.hypot(*(boxes.center(d[:4]) - boxes.center(last)))) / diag
                if jump <= MAX_JUMP * steps:
                    pairs.append((jump + (steps - 1), ti, di))  # a track that saw it last is nearer
        used_t: set[int] = set()
        used_d: set[int] = set()
        for _, ti, di in sorted(pairs):
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            recent[ti].add(position, dets[di, :4], float(dets[di, 4]) / best)
        for di, d in enumerate(dets):
            if di not in used_d:
                track = Track()
                track.add(position, d[:4], float(d[4]) / best)
                tracks.append(track)
    return sorted(tracks, key=lambda t: -t.total)


def _rough(track: Track, position: int) -> float:
    """How much the box at ``position`` changes size against the track's boxes before and after
    it (log area ratios; a track's end counts as a doubling): small on a body in flight, large
    where the track took in a splash or the venue."""
    i = track.positions.index(position)
    areas = np.log([max(boxes.area(b), 1.0) for b in track.boxes])
    before = abs(areas[i] - areas[i - 1]) if i > 0 else np.log(2.0)
    after = abs(areas[i + 1] - areas[i]) if i + 1 < len(areas) else np.log(2.0)
    return float(before + after)


def choose(found: Mapping[int, np.ndarray], step: int, count: int) -> Anchor | None:
    """The ``count`` strongest tracks and the scanned frame where they all stand out most (ties:
    the earliest where every track is steady in size: a dive's tracks run on into the splash, so
    their first steady stretch is the athlete in flight); None when there are fewer tracks than
    athletes or the strongest are never seen on one frame (synchronised divers merged with each
    other or the venue): starting from a frame where only some are known goes wrong more often
    than starting from the first frame."""
    tracks = link(found, step)[: max(count, 1)]
    if len(tracks) < max(count, 1):
        return None
    shared = set(tracks[0].positions).intersection(*(t.positions for t in tracks[1:]))
    if not shared:
        return None

    def rank(position: int) -> tuple[float, float, int]:
        weakest = min(t.strength[t.positions.index(position)] for t in tracks)
        return (-round(weakest, 3), max(_rough(t, position) for t in tracks) > SMOOTH, position)

    position = min(shared, key=rank)
    return Anchor(position, [t.boxes[t.positions.index(position)] for t in tracks])
