"""Writes that survive kills: the journal, building new stores, dead writers' temps."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hm_annotate.store import MaskStore, StoreError, validate
from tests.masks import ellipse_masks, layer_from_masks, make_store

REPO = Path(__file__).resolve().parents[2]


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from hm_annotate.store import MaskStore
    from tests.masks import ellipse_masks, layer_from_masks
    path, n = sys.argv[1], int(sys.argv[2])
    with MaskStore.open(path, "a") as st:
        for i in range(n):
            st.put(f"video/{i:04d}", "pseudo", layer_from_masks(ellipse_masks(20, seed=i)), metadata={"i": i})
            print(i, flush=True)
    """
)


def test_sigkill_during_commits_keeps_exactly_the_committed_videos(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"existing/1": 5})
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "400"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    done = []
    for line in proc.stdout:
        done.append(int(line))
        if len(done) == 40:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # puts that returned while this test was not reading (a loaded machine) printed too
    done += [int(line) for line in proc.stdout]
    with MaskStore.open(path) as st:
        ids = st.videos()
    committed = {f"video/{i:04d}" for i in range(len(ids) - 1)}
    # every video whose put returned is there; at most the one in flight beyond that
    assert {f"video/{i:04d}" for i in done} <= set(ids)
    assert set(ids) == {"existing/1"} | committed
    assert len(ids) - 1 <= len(done) + 1
    assert validate(path) == []
    with MaskStore.open(path, "a") as st:  # the next writer folds the journal in
        assert st.journal_parts() == 0
        assert st.videos() == ids
        st.put("after/1", "pseudo", layer_from_masks(ellipse_masks(3)))
    with MaskStore.open(path) as st:
        assert len(st.videos()) == len(ids) + 1
        last = sorted(committed)[-1]
        np.testing.assert_array_equal(st.masks(last, "pseudo")[1], ellipse_masks(20, seed=len(ids) - 2))
    assert not (tmp_path / "m.h5.journal").exists()


def test_store_never_written_in_place(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"v/1": 3})
    inode = path.stat().st_ino
    with MaskStore.open(path, "a") as st:
        st.put("v/2", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert path.stat().st_ino == inode  # live file untouched while writing
    assert path.stat().st_ino != inode  # replaced whole on close
    assert json.loads(json.dumps(validate(path))) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_store_appears_only_when_complete_and_leaves_nothing_on_failure(tmp_path):
    from hm_annotate.store import new_store

    path = tmp_path / "m.h5"
    with pytest.raises(RuntimeError), new_store(path) as st:
        st.put("ev/1", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert not path.exists()
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with new_store(path) as st:
        st.put("ev/1", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"] and validate(path) == []
    with pytest.raises(StoreError, match="exists"), new_store(path):
        pass


def test_temps_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"ev/1": 2})
    dead, alive = _dead_pid(), os.getppid()
    stale = [f".m.h5.{dead}.tmp", f".m.h5.{dead}.new", f".m.h5.{dead}.new.lock"]
    stale.append(f"..m.h5.{dead}.new.{dead}.tmp")
    for name in stale + [f".m.h5.{alive}.tmp"]:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / f".m.h5.{dead}.new.journal").mkdir()
    (tmp_path / f".m.h5.{dead}.new.journal" / "00000000.h5").write_bytes(b"x")
    with MaskStore.open(path, "a"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.h5", "m.h5.lock", f".m.h5.{alive}.tmp"])
