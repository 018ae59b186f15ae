from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.pseudo import anchors


def det(*rows: tuple[float, float, float, float, float]) -> np.ndarray:
    return np.array(rows, np.float64).reshape(-1, 5)


def dive(first: int = 30, last: int = 60, step: int = 3) -> dict[int, np.ndarray]:
    """Scanned detections of a dive: an official walks on the deck all along (weak, the only
    mover while the athlete stands), the athlete flies from ``first`` to ``last`` (strong,
    falling and turning, so the box changes a little), then a splash (big, jumpy sizes)."""
    found = {}
    for p in range(0, 90, step):
        rows = [(10 + p, 200, 30 + p, 240, 5.0)]  # the walker
        if first <= p <= last:
            y = 40 + 2 * (p - first)
            w = 30 if (p // step) % 2 else 36
            rows.append((150, y, 150 + w, y + 50, 50.0))
        elif p > last:
            size = 40 if (p // step) % 2 else 90
            rows.append((150, 150, 150 + size, 150 + size, 60.0))
        found[p] = det(*sorted(rows, key=lambda r: -r[4]))
    return found


def test_link_follows_each_mover_and_puts_the_strongest_first():
    tracks = anchors.link(dive(), 3)
    athlete = tracks[0]
    assert athlete.positions[0] == 30 and all(b[0] == 150 for b in athlete.boxes)
    walker = next(t for t in tracks if t.positions[0] == 0)
    assert len(walker.positions) == 30 and walker.total < athlete.total
    assert walker.strength[12] == pytest.approx(5 / (50 * (1 + anchors.CLUTTER)))  # next to the athlete


def test_the_only_mover_of_a_quiet_frame_is_weak_if_weak_for_the_video():
    """A logo that is all that moves while the athlete stands still is not the video's strong mover."""
    found = {p: det((400, 0, 440, 30, 2.0)) for p in range(0, 30, 3)}
    found.update({p: det((150, 40 + p, 180, 90 + p, 50.0), (400, 0, 440, 30, 2.0)) for p in range(30, 63, 3)})
    tracks = anchors.link(found, 3)
    logo = next(t for t in tracks if t.boxes[0][0] == 400)
    assert logo.strength[0] == pytest.approx(2 / (anchors.TYPICAL * 50))
    assert tracks[0].boxes[0][0] == 150
    assert anchors.choose(found, 3, 1).boxes[0][0] == 150


def test_a_box_among_many_movers_is_weaker_than_a_lone_one():
    lone = anchors.link({0: det((0, 0, 10, 10, 1.0))}, 3)[0]
    others = [(50 + 20 * k, 0, 60 + 20 * k, 10, 0.5) for k in range(9)]
    crowded = anchors.link({0: det((0, 0, 10, 10, 1.0), *others)}, 3)
    assert lone.strength == [1.0] and crowded[0].strength == [pytest.approx(1 / (1 + 9 * anchors.CLUTTER))]


def test_link_does_not_join_boxes_far_apart_or_of_very_different_size():
    found = {0: det((0, 0, 10, 10, 1)), 3: det((100, 100, 110, 110, 1)), 6: det((0, 0, 40, 40, 1))}
    assert [t.positions for t in anchors.link(found, 3)] == [[0], [3], [6]]


def test_link_bridges_a_missed_frame_but_not_a_long_gap():
    box = (50, 50, 70, 90, 1.0)
    found = {0: det(box), 3: det(), 6: det(box), 9: det(), 12: det(), 15: det(), 18: det(box)}
    assert [t.positions for t in anchors.link(found, 3)] == [[0, 6], [18]]


def test_anchor_is_the_athlete_early_in_flight_not_the_walker_or_the_splash():
    anchor = anchors.choose(dive(), 3, 1)
    assert anchor.position == 33  # 30 starts the track: its size there is not yet known steady
    assert anchor.boxes[0][0] == 150 and anchor.boxes[0][1] == 40 + 2 * (anchor.position - 30)


def test_two_athletes_anchor_on_a_frame_where_both_are_seen():
    found = {}
    for p in range(0, 30, 3):
        rows = []
        if p >= 6:
            rows.append((20, 10 + p, 50, 60 + p, 40.0))
        if p <= 21:
            rows.append((120, 10 + p, 150, 60 + p, 30.0))
        found[p] = det(*rows)
    anchor = anchors.choose(found, 3, 2)
    assert 6 <= anchor.position <= 21 and {b[0] for b in anchor.boxes} == {20, 120}


def test_no_anchor_unless_every_athlete_is_seen_on_one_frame():
    one = {0: det((20, 10, 50, 60, 1.0)), 3: det((22, 12, 52, 62, 1.0))}
    assert len(anchors.choose(one, 3, 1).boxes) == 1
    assert anchors.choose(one, 3, 2) is None
    apart = {0: det((20, 10, 50, 60, 1.0)), 3: det(), 6: det(), 9: det(), 12: det((120, 10, 150, 60, 1.0))}
    assert anchors.choose(apart, 3, 2) is None


def test_nothing_found_gives_no_anchor():
    assert anchors.choose({0: det(), 3: det()}, 3, 1) is None
    assert anchors.choose({}, 3, 2) is None
