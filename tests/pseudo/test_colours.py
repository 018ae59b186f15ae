from __future__ import annotations

import numpy as np

from hm_annotate.pseudo import colours


def test_cells_and_histogram():
    px = np.array([[[0, 0, 0], [255, 255, 255]], [[8, 0, 0], [0, 0, 8]]], np.uint8)
    cell = colours.cells(px)
    assert cell.tolist() == [[0, colours.BINS**3 - 1], [colours.BINS**2, 1]]
    hist = colours.histogram(cell)
    assert hist.shape == (colours.BINS**3,) and np.isclose(hist.sum(), 1.0)
    assert hist[0] > hist[2] > 0 and hist[5] == 0  # smoothing shares evidence with nearby shades only
    assert hist[colours.BINS**3 // 2] == 0
    assert colours.histogram(cell[:0]) is None
    assert colours.of_mask(px, np.zeros((2, 2), bool)) is None


def test_blend_follows_slowly_and_keeps_what_it_has():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert np.allclose(colours.blend(a, b, 0.25), [0.75, 0.25])
    assert colours.blend(None, b, 0.25) is b and colours.blend(a, None, 0.25) is a


def test_posterior_tells_the_athlete_from_the_crowd_by_colour():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)  # a crowd of every colour
    image[10:30, 18:22] = (30, 90, 200)  # the athlete's costume
    athlete = np.zeros((40, 40), bool)
    athlete[10:30, 18:22] = True
    cell = colours.cells(image)
    fg, bg = colours.of_mask(image, athlete), colours.histogram(cell[~athlete])
    odds = colours.posterior(cell, fg, bg)
    assert odds.dtype == np.float32 and odds.shape == (40, 40)
    assert odds[12:28, 19:21].min() > 0.9
    assert np.median(odds[~athlete]) < 0.1
