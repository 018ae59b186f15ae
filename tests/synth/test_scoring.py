import numpy as np
import pytest

from hm_annotate.synth import scoring


def test_individual_drops_two_highest_and_two_lowest_of_seven():
    # kept: 8.0, 8.0, 8.5 -> 24.5 x 3.3
    assert scoring.individual_score([8.0, 8.5, 9.0, 7.5, 8.0, 9.5, 7.0], 3.3) == 80.85
    assert scoring.dive_score([10.0] * 7, 3.8) == 114.0


def test_synchronised_drops_extremes_per_diver_and_of_synchronisation():
    awards = [7.0, 7.5, 8.0] + [6.5, 7.0, 6.0] + [8.0, 8.5, 9.0, 7.5, 8.0]
    # kept 7.5 + 6.5 + (8.0 + 8.0 + 8.5) = 38.5 -> x 0.6 x 3.2
    assert scoring.sync_score(awards, 3.2) == 73.92
    assert scoring.dive_score(awards, 3.2) == 73.92


@pytest.mark.parametrize("n", [0, 5, 6, 8, 10, 12])
def test_wrong_number_of_awards_is_refused(n):
    with pytest.raises(scoring.ScoreError):
        scoring.dive_score([7.0] * n, 3.0)


def test_awards_are_half_points_within_0_and_10():
    rng = np.random.default_rng(0)
    for merit in (0.2, 5.3, 9.9):
        a = np.array(scoring.awards(rng, merit, 200))
        assert a.min() >= 0 and a.max() <= 10
        assert np.all(a * 2 == np.round(a * 2))
        assert abs(a.mean() - merit) < 0.3
