"""``MaskStore``: a store opened to read or write (the writer's lock and
journal, put and get), ``new_store`` and ``writer`` for commands that may create one, and the
video selection features share.

Layout and guarantees are specified in ``schemas/mask-store.md``. In short: ``/videos/<quoted id>``
holds a video's metadata and one group per layer (``pseudo``, ``corrected``) with plain arrays
(frames, area, bbox, score, offsets) and the RLE counts of all its masks as one compressed uint8
array. Writers never touch the live file in place: each commit is a complete small store file
renamed into ``<store>.journal/``; closing the writer folds the journal into a copy of the store
and ``os.replace``-s it into place. Readers see the store plus any journal parts, so a killed
writer loses only the put in flight. A handle opens each layer's datasets once and keeps them
(with the checked index arrays) until a write or a fold replaces the file they live in.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hm_annotate.safe_paths import check_video_id
from hm_annotate.store.codec import fsync_path, new_file, require_regular, write_video
from hm_annotate.store.journal import (
    acquire_lock,
    fold,
    release_lock,
    remove_build,
    remove_dead_transactions,
    remove_stale_temps,
)
from hm_annotate.store.layer import LAYERS, LayerData, StoreError, check_layer, overlay
from hm_annotate.store.reader import StoreReader

# parts in the journal before a writer folds them into the main file while still open
FOLD_EVERY = 256


class MaskStore(StoreReader):
    """A mask store opened for reading (default) or writing (``mode="a"``, exclusive).

    Use as a context manager; ``close()`` of a writer folds its journal into the main file.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r") -> None:
        if mode not in ("r", "a"):
            raise StoreError(f"mode must be 'r' or 'a', not {mode!r}")
        super().__init__(path)
        self.mode = mode
        self._lock_fd: int | None = None
        self._txn: h5py.File | None = None
        self._txn_tmp: Path | None = None
        self._txn_videos: dict[str, dict[str, Any]] = {}
        if mode == "a":
            self._lock_fd = acquire_lock(self.path)
        try:
            if mode == "a":  # dead writers' leftovers are removed once, before the first fold
                remove_stale_temps(self.path)
                remove_dead_transactions(self.journal)
                self._fold_journal()
            self._load_index()
        except BaseException:
            self._close_files()
            self._release_lock()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "r") -> MaskStore:
        """Open a store: ``"r"`` to read, ``"a"`` to write (created when absent)."""
        return cls(path, mode)

    def __enter__(self) -> MaskStore:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            release_lock(self._lock_fd)
            self._lock_fd = None

    # -- writing -----------------------------------------------------------------------------

    def _require_writer(self) -> None:
        if self.mode != "a" or self._lock_fd is None:
            raise StoreError(f"{self.path}: opened read-only; open with mode='a' to write")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MaskStore]:
        """Group puts so they become visible together, or not at all if the block raises."""
        self._require_writer()
        if self._txn is not None:
            raise StoreError("transactions do not nest")
        self.journal.mkdir(exist_ok=True)
        self._txn_tmp = self.journal / f".txn-{os.getpid()}-{time.monotonic_ns()}.tmp"
        self._txn = new_file(self._txn_tmp)
        self._txn_videos = {}
        try:
            yield self
        except BaseException:
            self._txn.close()
            self._txn_tmp.unlink(missing_ok=True)
            self._txn = None
            raise
        f, tmp, committed = self._txn, self._txn_tmp, bool(self._txn_videos)
        self._txn = None
        f.flush()
        f.close()
        self._txn_videos = {}
        if not committed:
            tmp.unlink()
            return
        fsync_path(tmp)
        part = self._next_part_path()
        os.replace(tmp, part)
        fsync_path(self.journal)
        if len(self._parts()) >= FOLD_EVERY:
            self._fold_journal()
            self._load_index()
        else:
            self._index_file(part)

    def _next_part_path(self) -> Path:
        parts = self._parts()
        n = int(parts[-1].stem) + 1 if parts else 0
        return self.journal / f"{n:08d}.h5"

    def _current(self, video_id: str) -> tuple[dict[str, Any], dict[str, LayerData]]:
        """What a video holds now, counting puts earlier in the open transaction."""
        if video_id in self._txn_videos:
            v = self._txn_videos[video_id]
            return dict(v["meta"]), dict(v["layers"])
        if video_id not in self._index:
            return {}, {}
        return self.metadata(video_id), {k: self.read(video_id, k) for k in self.layers(video_id)}

    def put(
        self,
        video_id: str,
        layer: str,
        data: LayerData,
        *,
        metadata: dict[str, Any] | None = None,
        merge: bool = False,
    ) -> None:
        """Store a video's layer durably; ``merge=True`` keeps frames that ``data`` lacks."""
        self._require_writer()
        if layer not in LAYERS:
            raise StoreError(f"cannot write layer {layer!r}; writable layers: {', '.join(LAYERS)}")
        if len(data.frames) > 1 and not np.all(np.diff(data.frames) > 0):
            raise StoreError(f"video {video_id}: frame numbers must be strictly increasing")
        meta, layers = self._current(video_id)
        if metadata is not None:
            meta = dict(metadata)
        if merge and layer in layers:
            data = overlay(layers[layer], data)
        layers[layer] = data
        self._stage(video_id, meta, layers)

    def set_metadata(self, video_id: str, metadata: dict[str, Any]) -> None:
        """Replace a video's metadata (the video is created when new)."""
        self._require_writer()
        _, layers = self._current(video_id)
        self._stage(video_id, dict(metadata), layers)

    def delete(self, video_id: str, layer: str) -> None:
        """Remove one layer of a video (the video stays, with its metadata)."""
        self._require_writer()
        meta, layers = self._current(video_id)
        if layer not in layers:
            raise StoreError(f"{self.path}: video {video_id!r} has no {layer!r} layer")
        del layers[layer]
        self._stage(video_id, meta, layers)

    def _stage(self, video_id: str, meta: dict[str, Any], layers: dict[str, LayerData]) -> None:
        check_video_id(video_id)
        if self._txn is not None:
            write_video(self._txn["videos"], video_id, meta, layers)
            self._txn_videos[video_id] = {"meta": meta, "layers": layers}
            return
        with self.transaction():
            self._stage(video_id, meta, layers)

    def _fold_journal(self) -> None:
        """Fold committed journal parts into a fresh main file (``journal.fold``)."""
        parts = self._parts()
        if self.path.exists() and not parts:
            return
        self._close_files()
        fold(self.path, parts)

    def close(self) -> None:
        """Release files; a writer first folds its journal into the main file."""
        try:
            if self.mode == "a" and self._lock_fd is not None:
                self._fold_journal()
                with contextlib.suppress(OSError):
                    self.journal.rmdir()
        finally:
            self._close_files()
            self._release_lock()


@contextlib.contextmanager
def new_store(path: str | os.PathLike) -> Iterator[MaskStore]:
    """A writer on a store that does not exist yet, built beside ``path`` as
    ``.<name>.<pid>.new`` and moved into place only when the block completes: a failure or a
    kill leaves ``path`` absent (the next call removes a dead writer's build), never empty or
    half-written. Refused when ``path`` exists, before or at the move."""
    path = Path(path)
    require_regular(path)
    if path.exists():
        raise StoreError(f"{path} exists")
    if not path.parent.is_dir():
        raise StoreError(f"{path}: folder {path.parent} does not exist")
    remove_stale_temps(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    remove_build(tmp)
    st = MaskStore(tmp, "a")
    try:
        yield st
        st.close()
        fsync_path(tmp)
        try:
            os.link(tmp, path)  # unlike a rename, never replaces a store made meanwhile
        except FileExistsError:
            raise StoreError(f"{path} was created by someone else meanwhile; nothing written") from None
        except OSError:  # a file system without hard links: rename, checking first
            if path.exists():
                raise StoreError(f"{path} was created by someone else meanwhile; nothing written") from None
            os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        st._close_files()
        st._release_lock()
        remove_build(tmp)


def writer(path: str | os.PathLike) -> contextlib.AbstractContextManager[MaskStore]:
    """A writer on ``path``: the store itself when it exists, else a ``new_store`` (so a command
    that fails or is killed while creating a store leaves nothing behind)."""
    return MaskStore.open(path, "a") if Path(path).exists() else new_store(path)


def select_videos(st: MaskStore, layer: str, *, videos: Sequence[str] | None = None) -> list[str]:
    """The named videos (each must exist and have ``layer``), or every video having ``layer``."""
    check_layer(layer)
    if videos:
        for v in videos:
            if v not in st:
                raise StoreError(f"{st.path}: no video {v!r} in the store")
            if not st.has(v, layer):
                raise StoreError(f"{st.path}: video {v!r} has no {layer!r} layer")
        return list(videos)
    every = st.videos()
    if not every:
        raise StoreError(f"{st.path}: the store holds no videos")
    ids = [v for v in every if st.has(v, layer)]
    if not ids:
        raise StoreError(f"{st.path}: no video has a {layer!r} layer")
    return ids
