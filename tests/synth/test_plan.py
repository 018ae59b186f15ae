import numpy as np
import pytest
from scipy.stats import spearmanr

from hm_annotate.synth import dives, scoring
from hm_annotate.synth.plan import PlanError, plan_dataset


def test_same_seed_same_plan_other_seed_other_plan():
    assert plan_dataset(12, 3) == plan_dataset(12, 3)
    assert plan_dataset(12, 3) != plan_dataset(12, 4)


def test_synchronised_share_events_and_athletes():
    plans = plan_dataset(20, 1, sync_fraction=0.25)
    sync = [p for p in plans if p.sync]
    assert len(sync) == 5
    assert all("_synchronised_" in p.event and len(p.judge_scores) == 11 for p in sync)
    assert all("_synchronised_" not in p.event and len(p.judge_scores) == 7 for p in plans if not p.sync)
    assert len({p.video_id for p in plans}) == 20


def test_scores_follow_the_awards_and_the_apparatus_difficulty():
    for p in plan_dataset(30, 2, sync_fraction=0.3):
        platform = "10m" in p.event
        assert p.platform == platform
        assert p.difficulty == dives.difficulty(p.code, platform)
        assert p.dive_score == scoring.dive_score(p.judge_scores, p.difficulty)
        assert p.code == p.code.lower()


def test_splits_cover_every_video_once_and_test_types_have_train_exemplars():
    plans = plan_dataset(40, 5)
    train = [p for p in plans if p.split == "train"]
    test = [p for p in plans if p.split == "test"]
    assert len(train) + len(test) == 40 and test and train
    assert {p.code for p in test} <= {p.code for p in train}
    assert 0.1 <= len(test) / 40 <= 0.4


def test_frames_labels_and_transitions_agree():
    for p in plan_dataset(30, 6, sync_fraction=0.2, frames=60):
        labels = p.frames_labels()
        assert labels.dtype == np.int64 and len(labels) == p.end_frame - p.start_frame + 1
        changes = np.flatnonzero(np.diff(labels))  # last frame of each step but the last
        t = p.steps_transit_frames()
        assert t.dtype == np.int64 and t.tolist() == [p.takeoff_end, p.flight_end]
        assert changes[0] == t[0] and changes[-1] == t[1]
        assert len(changes) == len(p.step_names()) - 1
        names = [dives.SUB_ACTION_TYPES[int(labels[i])] for i in [0, *(changes + 1)]]
        assert names == p.step_names()


def test_clips_of_an_event_do_not_overlap_in_the_broadcast():
    plans = plan_dataset(30, 8)
    by_event: dict[str, list] = {}
    for p in plans:
        by_event.setdefault(p.event, []).append(p)
    for clips in by_event.values():
        clips.sort(key=lambda p: p.instance)
        assert [p.instance for p in clips] == list(range(len(clips)))
        for a, b in zip(clips, clips[1:]):
            assert b.start_frame > a.end_frame


def test_clip_length_follows_frames():
    lengths = [p.n_frames for p in plan_dataset(30, 9, frames=104)]
    assert 96 <= min(lengths) and max(lengths) <= 112


def test_awards_track_the_visible_execution():
    plans = plan_dataset(300, 11, sync_fraction=0.0)
    mean = [np.mean(p.judge_scores) for p in plans]
    ex = [p.athletes[0] for p in plans]
    assert spearmanr(mean, [abs(e.entry_error) for e in ex])[0] < -0.3
    assert spearmanr(mean, [e.splash for e in ex])[0] < -0.3
    assert spearmanr(mean, [e.tightness for e in ex])[0] > 0.3


@pytest.mark.parametrize(
    "kwargs",
    [dict(videos=0, seed=1), dict(videos=3, seed=1, frames=10), dict(videos=3, seed=1, sync_fraction=1.5)],
)
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(PlanError):
        plan_dataset(**kwargs)
