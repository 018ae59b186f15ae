"""Dive codes: what a FINA dive number means, its degree of difficulty, and its FineDiving steps.

A dive number reads group, then (groups 1-4) flying flag or (5, 6) direction, then half
somersaults, then (four-digit codes) half twists; the letter is the position (a straight,
b pike, c tuck, d free). FineDiving stores codes in lowercase (``'207c'``).

The degrees of difficulty are those of the FINA 2017-2021 tables for the codes used here, as
they appear in competition results (3 m springboard and 10 m platform differ for the same
code). They are a fixed table for a synthetic dataset, not an authority on the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from hm_annotate.errors import HMError

PLATFORM_DD: dict[str, float] = {
    "107b": 3.3, "107c": 3.0, "109c": 3.7, "207b": 3.6, "207c": 3.3, "307c": 3.4,
    "407c": 3.2, "5253b": 3.2, "5255b": 3.6, "626c": 3.3,
}  # fmt: skip
SPRINGBOARD_DD: dict[str, float] = {
    "107b": 3.1, "109c": 3.8, "205b": 3.0, "207c": 3.4, "307c": 3.5, "405b": 3.0,
    "407c": 3.4, "5152b": 3.0, "5337d": 3.3,
}  # fmt: skip

DIRECTIONS = {1: "Forward", 2: "Back", 3: "Reverse", 4: "Inward"}
POSITIONS = {"a": "Straight", "b": "Pike", "c": "Tuck", "d": "Free"}


class DiveCodeError(HMError, ValueError):
    """A dive number this generator does not know."""


@dataclass(frozen=True)
class Dive:
    """A parsed dive number."""

    code: str
    direction: int  # 1 forward, 2 back, 3 reverse, 4 inward
    half_soms: int
    half_twists: int
    position: str  # a, b, c, d
    armstand: bool

    @property
    def faces_water(self) -> bool:
        """Forward and reverse dives start facing the water; back and inward with the back to it."""
        return self.direction in (1, 3)

    @property
    def rotates_forward(self) -> bool:
        """Forward and inward dives somersault forward; back and reverse backward."""
        return self.direction in (1, 4)

    @property
    def twists_first(self) -> bool:
        """Back and reverse twisters twist out of the take-off; forward and inward ones at the end."""
        return self.direction in (2, 3)


def parse(code: str) -> Dive:
    """Parse a dive number such as ``'5253b'`` or ``'626c'`` (case-insensitive)."""
    c = code.strip().lower()
    digits, letter = c[:-1], c[-1:]
    if letter not in POSITIONS or not digits.isdigit() or len(digits) not in (3, 4):
        raise DiveCodeError(f"not a dive number: {code!r}")
    d = [int(ch) for ch in digits]
    group = d[0]
    if group in (1, 2, 3, 4) and len(d) == 3:
        return Dive(c, group, d[2], 0, letter, False)
    if group == 5 and len(d) == 4 and d[1] in DIRECTIONS:
        return Dive(c, d[1], d[2], d[3], letter, False)
    if group == 6 and d[1] in DIRECTIONS:
        return Dive(c, d[1], d[2], d[3] if len(d) == 4 else 0, letter, True)
    raise DiveCodeError(f"not a dive number this generator knows: {code!r}")


def difficulty(code: str, platform: bool) -> float:
    """The degree of difficulty of a code on 10 m platform or 3 m springboard."""
    table = PLATFORM_DD if platform else SPRINGBOARD_DD
    try:
        return table[code.lower()]
    except KeyError:
        where = "10m platform" if platform else "3m springboard"
        raise DiveCodeError(f"no degree of difficulty for {code!r} on {where}") from None


def _count(halves: int, one: str, many: str) -> str:
    n = f"{halves // 2}" if halves % 2 == 0 else f"{halves / 2:.1f}"
    return f"{n} {one if halves <= 2 else many}"


def takeoff_name(dive: Dive) -> str:
    return ("Arm." if dive.armstand else "") + DIRECTIONS[dive.direction]


def somersault_name(dive: Dive) -> str:
    return f"{_count(dive.half_soms, 'Som', 'Soms')}.{POSITIONS[dive.position]}"


def twist_name(dive: Dive) -> str:
    return _count(dive.half_twists, "Twist", "Twists")


def steps(dive: Dive) -> list[str]:
    """The FineDiving sub-action steps of a dive, in order: take-off, flight part(s), entry."""
    flight = [somersault_name(dive)]
    if dive.half_twists:
        flight = [twist_name(dive), *flight] if dive.twists_first else [*flight, twist_name(dive)]
    return [takeoff_name(dive), *flight, "Entry"]


def _sub_action_names() -> list[str]:
    names: list[str] = []
    for code in sorted(set(PLATFORM_DD) | set(SPRINGBOARD_DD)):
        for step in steps(parse(code)):
            if step not in names:
                names.append(step)
    return names


# label id -> sub-action name; the same table for every dataset this generator writes
SUB_ACTION_TYPES: dict[int, str] = dict(enumerate(_sub_action_names()))
SUB_ACTION_IDS: dict[str, int] = {v: k for k, v in SUB_ACTION_TYPES.items()}
