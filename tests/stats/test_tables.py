"""The statistics report as text, CSV and markdown."""

from __future__ import annotations

import csv
import io
import json

from hm_annotate.stats import compute_stats
from hm_annotate.stats.tables import format_report


def test_text_formats(store):
    r = compute_stats(store)
    rows = list(csv.reader(io.StringIO(format_report(r, "csv"))))
    assert rows[0][:5] == ["action_type", "videos", "videos_with_masks", "frames", "masks"]
    assert [row[0] for row in rows[1:]] == ["107b", "5253b", "405b", "all"]
    assert rows[-1][4] == "36"
    md = format_report(r, "markdown")
    assert "## Masks per action type" in md and "| 107b | 2 | 2 | 22 | 22 | 1 | 22 | 0 |" in md
    table = format_report(r, "table")
    assert "masks (annotated frames)" in table and "5253b" in table
    json.dumps(r)  # the whole report is JSON-able
