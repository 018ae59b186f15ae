"""What keeps a store whole while it is written: the writer's lock, folding the journal of
committed parts into a fresh main file, and removing what writers that died left behind."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from pathlib import Path

from hm_annotate.store.codec import fsync_path, new_file, open_h5
from hm_annotate.store.layer import StoreError, StoreLockedError


def acquire_lock(path: Path) -> int:
    """Take the exclusive writer lock of a store (``<store>.lock``, holding our pid); its fd."""
    lock = path.with_name(path.name + ".lock")
    if not path.parent.exists():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreLockedError(
            f"{path}: another process (pid {holder}) is writing this store; wait for it to finish or stop it"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def journal_parts(journal: Path) -> list[Path]:
    """Committed parts of a journal folder, in commit order."""
    if not journal.is_dir():
        return []
    return sorted(p for p in journal.iterdir() if p.suffix == ".h5" and not p.name.startswith("."))


def fold(path: Path, parts: list[Path]) -> None:
    """Fold committed journal parts into a fresh main file (after a clean close or a crash).

    The new file is built beside the old one from the latest copy of every video group and
    swapped in with ``os.replace``; a crash before the swap leaves the old file and the parts
    (and the half-built file, which the next writer removes once its pid is gone).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sources = [open_h5(p) for p in ([path] if path.exists() else []) + parts]
    try:
        latest = {name: src for src in sources for name in src["videos"]}
        with new_file(tmp) as out:
            if path.exists():
                out.attrs["created"] = sources[0].attrs["created"]
            out.attrs["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for name, src in latest.items():
                src.copy(src["videos"][name], out["videos"], name=name)
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        for src in sources:
            src.close()
        tmp.unlink(missing_ok=True)
    for part in parts:
        part.unlink()


def remove_dead_transactions(journal: Path) -> None:
    """Remove transaction files a killed writer left in the journal (we hold the lock)."""
    if journal.is_dir():
        for stale in journal.glob(".txn-*.tmp"):
            stale.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove what writers that died left beside ``path``: half-folded files
    ``.<name>.<pid>.tmp`` and stores being built ``.<name>.<pid>.new`` (with their lock and
    journal). Only files whose pid is no longer running are touched; returns what was removed."""
    # a build's own fold temp is ``..<name>.<pid>.new.<pid>.tmp``
    pattern = re.compile(rf"\.\.?{re.escape(path.name)}\.(\d+)\.(tmp|new)(\.lock|\.journal|\.\d+\.tmp)?")
    removed = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.iterdir():
        m = pattern.fullmatch(p.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def remove_build(tmp: Path) -> None:
    """Remove a store being built at ``tmp`` (see ``new_store``) with its fold temps, lock and journal."""
    for half in tmp.parent.glob(f".{tmp.name}.*.tmp"):
        half.unlink(missing_ok=True)
    tmp.unlink(missing_ok=True)
    tmp.with_name(tmp.name + ".lock").unlink(missing_ok=True)
    shutil.rmtree(tmp.with_name(tmp.name + ".journal"), ignore_errors=True)
