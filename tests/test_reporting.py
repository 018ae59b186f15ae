"""The reporter keeps warnings and failures, echoes them when asked, and routes chosen warnings."""

from __future__ import annotations

import warnings

import pytest

from hm_annotate.datasets import DatasetWarning
from hm_annotate.reporting import Reporter


def test_quiet_reporter_keeps_what_it_was_told(capsys: pytest.CaptureFixture[str]) -> None:
    rep = Reporter()
    assert list(rep.bar(range(3), desc="x", unit="item")) == [0, 1, 2]
    rep.warn("video a: 2 frames missing")
    rep.failed("b", "video b: frame 7 unreadable")
    assert rep.warnings == ["video a: 2 frames missing"]
    assert rep.failures == [("b", "video b: frame 7 unreadable")]
    assert capsys.readouterr().err == ""


def test_echo_writes_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    rep = Reporter(echo=True)
    rep.warn("w1")
    rep.failed("v", "f1")
    assert capsys.readouterr().err.splitlines() == ["warning: w1", "skipped: f1"]


def test_capture_routes_only_the_named_category() -> None:
    rep = Reporter()
    with pytest.warns(RuntimeWarning, match="other"):
        with rep.capture(DatasetWarning):
            warnings.warn("bad video x; skipped", DatasetWarning, stacklevel=2)
            warnings.warn("other", RuntimeWarning, stacklevel=2)
    assert rep.warnings == ["bad video x; skipped"]
