"""The statistics plots."""

from __future__ import annotations

import cv2

from hm_annotate.stats import collect_tables
from hm_annotate.stats.plots import write_plots


def test_plots_are_written_and_readable(store, tmp_path):
    files = write_plots(collect_tables(store), "action_type", tmp_path / "plots")
    names = ["masks_per_action_type.png", "area_fraction.png", "coverage_per_video.png", "temporal_iou.png"]
    assert [f.name for f in files] == names
    for f in files:
        img = cv2.imread(str(f))
        assert img is not None and img.shape[0] > 200 and img.std() > 5
