"""A store written before the store became a package (commit 8235e47, schema 1) is read the same,
and today's writer puts the same bytes on disk for the same content (timestamps aside)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hm_annotate.store import MaskStore, validate
from tests.store.golden_store import READS, STORE, build, layout, reads

GOLDEN = Path(__file__).parent / "golden"


def test_an_old_store_reads_as_it_did(tmp_path: Path) -> None:
    store = shutil.copy(GOLDEN / STORE, tmp_path / STORE)  # a reader may leave its lock file beside it
    # compared as text: NaN scores (a layer without scores) are equal there
    assert json.dumps(reads(Path(store)), indent=1, sort_keys=True) + "\n" == (GOLDEN / READS).read_text()
    assert validate(store) == []


def test_todays_writer_puts_the_same_bytes(tmp_path: Path) -> None:
    assert layout(build(tmp_path / STORE)) == layout(GOLDEN / STORE)
    with MaskStore.open(tmp_path / STORE) as st:
        assert st.videos() == ["ev%2", "ev/1"]
