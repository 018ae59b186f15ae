import numpy as np

from hm_annotate.synth.raster import Shape, full_alpha, motion_blur, rasterize


def test_coverage_of_a_square_and_a_disc_matches_their_area():
    square = Shape(np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 20.0], [10.0, 20.0]]), (255, 0, 0))
    layer = rasterize([square], 64, 48)
    # OpenCV also fills the pixels its edges pass through: a quarter pixel more on each side
    assert 200 <= layer.alpha.sum() <= 20.5 * 10.5 + 1
    assert np.allclose(layer.color[..., 0], 255 * layer.alpha, atol=1)
    disc = rasterize([Shape(np.array([[32.0, 24.0]]), (0, 0, 255), radius=8.0)], 64, 48)
    assert np.pi * 64 <= disc.alpha.sum() <= np.pi * 8.25**2 + 1


def test_later_shapes_cover_earlier_ones_and_outlines_stay_inside():
    a = Shape(np.array([[0.0, 0.0], [20.0, 0.0], [20.0, 20.0], [0.0, 20.0]]), (200, 0, 0), outline=True)
    b = Shape(np.array([[5.0, 5.0], [15.0, 5.0], [15.0, 15.0], [5.0, 15.0]]), (0, 200, 0))
    layer = rasterize([a, b], 40, 40)
    full = full_alpha(layer, 40, 40)
    assert full[30:, 30:].sum() == 0
    assert layer.color[10 - layer.y0, 10 - layer.x0].tolist() == [0, 200, 0]
    # premultiplied: nothing brighter than its coverage allows
    assert np.all(layer.color.max(-1) <= 200 * layer.alpha + 1e-3)


def test_shapes_are_clipped_to_the_frame():
    layer = rasterize(
        [Shape(np.array([[-50.0, -50.0], [10.0, -50.0], [10.0, 10.0], [-50.0, 10.0]]), (9, 9, 9))], 32, 32
    )
    assert layer.x0 == 0 and layer.y0 == 0 and 100 <= layer.alpha.sum() <= 10.5**2 + 1
    assert rasterize(
        [Shape(np.array([[100.0, 100.0], [120.0, 100.0], [110.0, 120.0]]), (1, 1, 1))], 32, 32
    ).empty


def test_motion_blur_smears_along_the_motion_and_keeps_the_coverage():
    layer = rasterize([Shape(np.array([[30.0, 30.0]]), (255, 255, 255), radius=4.0)], 80, 80)
    blurred = motion_blur(layer, 10.0, 0.0, 80, 80)
    before, after = full_alpha(layer, 80, 80), full_alpha(blurred, 80, 80)
    assert abs(before.sum() - after.sum()) < 0.5
    cols = np.flatnonzero(after.sum(0) > 0.05)
    rows = np.flatnonzero(after.sum(1) > 0.05)
    assert np.ptp(cols) > np.ptp(rows) + 6
