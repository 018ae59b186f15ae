"""Four videos with known contents (dives, a synchronised pair, a correction) for the statistics tests."""

from tests.mask_stores import ellipses, layer


def known_videos():
    """Two individual 107b dives, one synchronised 5253b pair, one 405b dive with a correction."""
    a = ellipses(10)
    a_lost = a.copy()
    a_lost[4] = 0  # empty frame
    big = ellipses(12, dx=0.5)
    big[6] = ellipses(1, cx0=40, rx=20, ry=20)[0]  # an area outlier
    p1, p2 = ellipses(8, cx0=15), ellipses(8, cx0=55)
    pseudo = ellipses(6, dx=2)
    corrected = pseudo[1:4].copy()
    corrected[1] = ellipses(1, cx0=40)[0]  # frame 2 moved by the annotator
    return {
        "E1/1": {"meta": {"action_type": "107b", "athletes": 1, "split": "train", "event": "E1"},
                 "pseudo": layer(range(100, 110), a_lost)},
        "E1/2": {"meta": {"action_type": "107b", "athletes": 1, "split": "test", "event": "E1"},
                 "pseudo": layer(range(50, 62), big)},
        "E2_Synchronised/1": {"meta": {"action_type": "5253b", "split": "train"},
                              "pseudo": layer(range(8), p1, p2)},
        "E3/1": {"meta": {"action_type": "405b", "athletes": 1, "split": "test", "event": "E3"},
                 "pseudo": layer(range(6), pseudo), "corrected": layer([1, 2, 3], corrected)},
    }  # fmt: skip
