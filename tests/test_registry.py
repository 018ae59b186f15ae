from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.pseudo.detectors import DETECTORS
from hm_annotate.pseudo.segmenters import SEGMENTERS
from hm_annotate.pseudo.trackers import TRACKERS, Track, Tracker
from hm_annotate.registry import PluginError


def test_builtin_names():
    assert SEGMENTERS.names() == ["grabcut", "pose", "sam"]
    assert TRACKERS.names() == ["csrt", "kcf", "mask-flow", "mil"]
    assert DETECTORS.names() == ["hog", "motion", "pose"]


def test_unknown_name_lists_known_ones():
    with pytest.raises(PluginError, match=r"unknown tracker 'ostrack' \(known: csrt, kcf, mask-flow, mil\)"):
        TRACKERS.create("ostrack")


def test_unknown_parameter_is_named():
    with pytest.raises(PluginError, match=r"segmenter 'grabcut' has no parameter 'iters'.*iterations"):
        SEGMENTERS.create("grabcut", iters=3)
    assert SEGMENTERS.accepts("sam", "device") and not SEGMENTERS.accepts("grabcut", "device")


def test_entry_point_plugin_is_found(tmp_path, monkeypatch):
    """A tracker shipped by another package (like an OSTrack wrapper) is found through its entry point."""
    (tmp_path / "still_tracker.py").write_text(
        "import numpy as np\n"
        "from hm_annotate.pseudo.trackers import Track, Tracker\n"
        "class StillTracker(Tracker):\n"
        "    name = 'still'\n"
        "    def __init__(self, shrink=0.0):\n"
        "        self.shrink = shrink\n"
        "    def start(self, frame, box):\n"
        "        self.box = np.asarray(box, float)\n"
        "    def update(self, frame):\n"
        "        return Track(self.box + [self.shrink, self.shrink, -self.shrink, -self.shrink], 1.0)\n"
        "    def correct(self, frame, mask):\n"
        "        pass\n"
    )
    info = tmp_path / "still_tracker-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: still-tracker\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[hm_annotate.trackers]\nstill = still_tracker:StillTracker\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "still" in TRACKERS.names()
    tracker = TRACKERS.create("still", shrink=1.0)
    assert isinstance(tracker, Tracker)
    tracker.start(np.zeros((8, 8, 3), np.uint8), [1, 1, 5, 5])
    track = tracker.update(np.zeros((8, 8, 3), np.uint8))
    assert isinstance(track, Track) and track.box.tolist() == [2, 2, 4, 4]


def test_register_in_process():
    from hm_annotate.pseudo.trackers.opencv import KCFTracker

    TRACKERS.register("kcf-copy", KCFTracker)
    try:
        assert isinstance(TRACKERS.create("kcf-copy", reinit_iou=0.1), KCFTracker)
    finally:
        TRACKERS._registered.pop("kcf-copy")


def test_factory_without_signature_and_positional_arguments():
    """A factory inspect cannot read (a builtin) is called as is; positional arguments pass through
    (dataset adapters take the data root first)."""
    from hm_annotate.registry import Registry

    things = Registry("thing", "hm_annotate.test_things", {"ordered": "collections:OrderedDict"})
    things.register("plain", dict)
    assert things.create("plain", [("a", 1)], b=2) == {"a": 1, "b": 2}
    assert list(things.create("ordered", b=1, a=2)) == ["b", "a"] and "ordered" in things
    with pytest.raises(PluginError, match=r"unknown thing 'other' \(known: ordered, plain\)"):
        things.create("other")
