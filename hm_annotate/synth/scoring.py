"""Judges and dive scores, computed the way FINA diving panels compute them.

Individual events: 7 judges; the 2 highest and 2 lowest awards are dropped and the remaining 3
are summed and multiplied by the degree of difficulty.

Synchronised events: 11 judges, as at the competitions FineDiving draws from. Awards 0-2 judge
the execution of diver A, 3-5 the execution of diver B, 6-10 the synchronisation. The highest
and lowest execution award of each diver and the highest and lowest synchronisation award are
dropped; the remaining 5 are summed, multiplied by 0.6 (to match a 3-judge sum) and by the
degree of difficulty. This generator stores all 11 awards in ``judge_scores`` for synchronised
dives, in that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hm_annotate.errors import HMError

INDIVIDUAL_JUDGES = 7
SYNC_JUDGES = 11


class ScoreError(HMError, ValueError):
    """Judge awards that no panel gives."""


def _middle(awards: Sequence[float], drop: int) -> list[float]:
    s = sorted(float(a) for a in awards)
    return s[drop : len(s) - drop]


def individual_score(awards: Sequence[float], dd: float) -> float:
    """Score of an individual dive from 7 awards."""
    if len(awards) != INDIVIDUAL_JUDGES:
        raise ScoreError(f"an individual dive has {INDIVIDUAL_JUDGES} awards, got {len(awards)}")
    return round(sum(_middle(awards, 2)) * dd, 2)


def sync_score(awards: Sequence[float], dd: float) -> float:
    """Score of a synchronised dive from 11 awards (3 + 3 execution, 5 synchronisation)."""
    if len(awards) != SYNC_JUDGES:
        raise ScoreError(f"a synchronised dive has {SYNC_JUDGES} awards, got {len(awards)}")
    kept = _middle(awards[0:3], 1) + _middle(awards[3:6], 1) + _middle(awards[6:11], 1)
    return round(sum(kept) * 0.6 * dd, 2)


def dive_score(awards: Sequence[float], dd: float) -> float:
    """Score of a dive from its awards: 7 for individual, 11 for synchronised events."""
    return sync_score(awards, dd) if len(awards) == SYNC_JUDGES else individual_score(awards, dd)


def awards(rng: np.random.Generator, merit: float, n: int, spread: float = 0.35) -> list[float]:
    """``n`` judges' awards around a merit: each judge's view with noise, in half points, 0-10."""
    raw = merit + rng.normal(0.0, spread, n)
    return [float(a) for a in np.clip(np.round(raw * 2.0) / 2.0, 0.0, 10.0)]
