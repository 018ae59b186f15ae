"""The read half of a store handle: the index of its files (main file, then journal parts, the
latest copy of a video winning), and reads of layers, single frames, decoded masks and per-frame
arrays. Opening reads only the group names (and object types) of each file; a video's group is
checked when first touched, and every group before the videos are listed. Each layer's group is
checked once and its datasets and index arrays opened once per handle, so a random single-frame
read costs one slice of the counts; a write or a fold that replaces a video's file drops what was
kept of it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import h5py
import numpy as np

from hm_annotate import rle
from hm_annotate.rle import RLE
from hm_annotate.store.checks import (
    frame_index_problems,
    frame_of,
    id_of_name,
    index_problems,
    structure_problems,
    video_problems,
)
from hm_annotate.store.codec import (
    deflate_chunk,
    open_h5,
    open_member,
    read_all,
    read_array,
    read_layer,
    read_range,
    require_regular,
)
from hm_annotate.store.journal import journal_parts
from hm_annotate.store.layer import LAYERS, LayerData, StoreError, check_layer, curated_view, empty_counts


@dataclass
class _StoredLayer:
    """A stored layer opened once per handle: its group, counts dataset and checked index arrays
    (frame numbers, object offsets, counts offsets), so a single-frame read costs one slice."""

    video_id: str
    layer: str
    group: h5py.Group
    counts: h5py.h5d.DatasetID
    chunk: int | None  # deflate_chunk of counts
    frames: np.ndarray
    offsets: np.ndarray
    coff: np.ndarray
    size: tuple[int, int]


def _is_group(parent: h5py.Group, name: str) -> bool:
    """Whether ``name`` leads to a group (links followed), from its object header alone."""
    try:
        return h5py.h5g.get_objinfo(parent.id, name.encode()).type == h5py.h5g.GROUP
    except (KeyError, RuntimeError, OSError, ValueError):
        return False


class StoreReader:
    """What every store handle reads; ``MaskStore`` adds opening, locking and writing."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        require_regular(self.path)
        self.journal = self.path.with_name(self.path.name + ".journal")
        self._files: list[h5py.File] = []
        # video id -> (file, group name) of its latest copy; its group is checked on first touch
        self._index: dict[str, tuple[h5py.File, str]] = {}
        # video id -> its checked stored layers; and every (file, group name) not yet checked
        self._layers: dict[str, tuple[h5py.Group, list[str]]] = {}
        self._unchecked: dict[tuple[h5py.File, str], str] = {}
        # (video id, layer) -> its checked group, and its opened datasets and index arrays
        self._groups: dict[tuple[str, str], h5py.Group] = {}
        self._stored: dict[tuple[str, str], _StoredLayer] = {}

    def _parts(self) -> list[Path]:
        return journal_parts(self.journal)

    def _load_index(self) -> None:
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        for _ in range(3):
            self._close_files()
            self._index = {}
            try:
                for src in [self.path, *self._parts()]:
                    self._index_file(src)
                return
            except StoreError:
                # a writer may have folded the parts we listed into a new main file: look again
                if all(p.exists() for p in [self.path, *self._parts()]):
                    raise
        raise StoreError(f"{self.path}: the store kept changing while being opened; try again")

    def _index_file(self, src: Path) -> None:
        """Add a store file's videos to the index; later files win, video by video.

        Only the names and object types are read here, so opening a store opens no video group:
        a name that is not a quoted safe video id (an id such as ``../x`` would let an export write
        outside its folder) or that leads to no group (a dataset, a dangling or looping link)
        makes the whole file unreadable at once, with the reason. Each group's ``video_id``
        attribute is checked when its video is first touched, and every group of every file before
        the store's videos are listed (``videos``); ``validate`` lists every such finding.
        """
        f = open_h5(src)
        self._files.append(f)
        videos = f["videos"]
        for name in videos:
            video_id = id_of_name(name)
            if video_id is None or not _is_group(videos, name):
                self._check_group(f, name)  # raises, with the reason the full check gives
            video_id = unquote(name) if video_id is None else video_id
            self._index[video_id] = (f, name)
            self._unchecked[(f, name)] = video_id
            # this file's copy of the video replaces what was opened
            self._layers.pop(video_id, None)
            for layer in LAYERS:
                self._groups.pop((video_id, layer), None)
                self._stored.pop((video_id, layer), None)

    @staticmethod
    def _check_group(f: h5py.File, name: str) -> tuple[h5py.Group, list[str]]:
        """A video group and its stored layers, after ``video_problems`` found nothing wrong."""
        gid = open_member(f.id, f"videos/{name}")
        g = h5py.Group(gid) if isinstance(gid, h5py.h5g.GroupID) else None
        problems = video_problems(name, g)
        if problems:
            raise StoreError(f"{f.filename}: {problems[0]}")
        return g, [layer for layer in LAYERS if gid.links.exists(layer.encode())]

    def _check_all(self) -> None:
        """Check every group of every file not checked yet, in file order (as an eager open did)."""
        for (f, name), video_id in list(self._unchecked.items()):
            checked = self._check_group(f, name)
            if self._index[video_id] == (f, name):
                self._layers[video_id] = checked
            del self._unchecked[(f, name)]

    def _close_files(self) -> None:
        self._groups.clear()
        self._stored.clear()
        self._layers.clear()
        self._unchecked.clear()
        for f in self._files:
            f.close()
        self._files = []

    def videos(self) -> list[str]:
        """All video ids, sorted (every video group checked first)."""
        self._check_all()
        return sorted(self._index)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._index

    def _entry(self, video_id: str) -> tuple[h5py.File, str]:
        try:
            return self._index[video_id]
        except KeyError:
            raise StoreError(f"{self.path}: no video {video_id!r}") from None

    def _video(self, video_id: str) -> tuple[h5py.Group, list[str]]:
        """A video's group and stored layers, checked on first touch."""
        if video_id not in self._layers:
            f, name = self._entry(video_id)
            self._layers[video_id] = self._check_group(f, name)
            self._unchecked.pop((f, name), None)
        return self._layers[video_id]

    def layers(self, video_id: str) -> list[str]:
        """Stored layers of a video (``pseudo`` and/or ``corrected``)."""
        return list(self._video(video_id)[1])

    def has(self, video_id: str, layer: str) -> bool:
        """Whether a video has masks in a layer (``curated``: in either stored layer)."""
        if video_id not in self._index:
            return False
        if layer == "curated":
            return bool(self.layers(video_id))
        return layer in self._video(video_id)[1]

    def metadata(self, video_id: str) -> dict[str, Any]:
        """The video's metadata (action type, score, split, ...)."""
        g = self._video(video_id)[0]
        try:
            meta = json.loads(g.attrs["metadata"])
        except (KeyError, TypeError, ValueError, RecursionError):
            meta = None
        if not isinstance(meta, dict):
            raise StoreError(
                f"{g.file.filename}: video {video_id}: attribute 'metadata' is missing or not a JSON object"
            )
        return meta

    def _member(self, video_id: str, layer: str) -> tuple[str, object]:
        """The file name and the (unchecked) group of a stored layer."""
        video, layers = self._video(video_id)
        if layer not in layers:
            raise StoreError(f"{self.path}: video {video_id!r} has no {layer!r} layer")
        gid = open_member(video.id, layer)
        return video.file.filename, h5py.Group(gid) if isinstance(gid, h5py.h5g.GroupID) else gid

    def _group(self, video_id: str, layer: str) -> h5py.Group:
        """A stored layer's group, its structure checked once per handle (dtypes, shapes, size)."""
        key = (video_id, layer)
        if key not in self._groups:
            filename, g = self._member(video_id, layer)
            problems = structure_problems(g)
            if problems:
                raise StoreError(f"{filename}: video {video_id} layer {layer}: {problems[0]}")
            self._groups[key] = g
        return self._groups[key]

    def _layer(self, video_id: str, layer: str) -> _StoredLayer:
        """A stored layer's index arrays, checked to index what they should, and its counts
        dataset, opened once per handle. Only what a single-frame read uses is checked here;
        whole-layer reads check the group's full structure first (``_group``)."""
        key = (video_id, layer)
        if key not in self._stored:
            filename, g = self._member(video_id, layer)
            problems, size, ds = frame_index_problems(g)
            if not problems:
                frames, offsets, coff = (read_all(ds[k]) for k in ("frames", "offsets", "counts_offsets"))
                problems = index_problems(frames, offsets, coff, ds["counts"].shape[0])
            if problems:
                raise StoreError(f"{filename}: video {video_id} layer {layer}: {problems[0]}")
            self._stored[key] = _StoredLayer(
                video_id, layer, g, ds["counts"], deflate_chunk(ds["counts"]), frames, offsets, coff, size
            )
        return self._stored[key]

    @contextlib.contextmanager
    def _runs_of(self, stored: _StoredLayer, first_entry: int = 0) -> Iterator[None]:
        """Turn an RLEError of the block (its entry counted from ``first_entry``) into a StoreError
        naming the file, video, layer, frame and object."""
        try:
            yield
        except rle.RLEError as exc:
            entry = None if exc.entry is None else exc.entry + first_entry
            where = frame_of(stored.offsets, stored.frames, entry)
            raise StoreError(
                f"{stored.group.file.filename}: video {stored.video_id} layer {stored.layer} {where}: "
                f"bad stored RLE ({exc}); run hm-annotate validate"
            ) from None

    def size(self, video_id: str) -> tuple[int, int]:
        """(height, width) of the video's frames."""
        layers = self.layers(video_id)
        if not layers:
            meta = self.metadata(video_id)
            if "height" in meta and "width" in meta:
                return int(meta["height"]), int(meta["width"])
            raise StoreError(f"{self.path}: video {video_id!r} has no masks, so no known size")
        g = self._group(video_id, layers[0])
        return int(g.attrs["height"]), int(g.attrs["width"])

    def _stored_layers(self, video_id: str) -> list[str]:
        """The stored layers a ``curated`` view combines (pseudo first, corrected wins)."""
        stored = self.layers(video_id)
        if not stored:
            raise StoreError(f"{self.path}: video {video_id!r} has no masks")
        return stored

    def read(self, video_id: str, layer: str) -> LayerData:
        """A video's layer: ``pseudo``, ``corrected``, or ``curated`` (corrected over pseudo)."""
        check_layer(layer)
        if layer == "curated":
            stored = {k: self.read(video_id, k) for k in self._stored_layers(video_id)}
            return cast(LayerData, curated_view(stored, layer))  # not None: _stored_layers raised
        self._group(video_id, layer)
        s = self._layer(video_id, layer)
        blob = read_all(s.counts)
        with self._runs_of(s):
            rle.check_packed(blob, s.coff, s.size)
        return read_layer(s.group, s.frames.copy(), s.offsets, s.coff, blob)

    def frame(self, video_id: str, layer: str, frame_number: int) -> list[RLE]:
        """The objects of one frame (empty masks dropped); StoreError when the layer has no such frame."""
        if layer == "curated":
            if self.has(video_id, "corrected"):
                try:
                    return self.frame(video_id, "corrected", frame_number)
                except StoreError:
                    pass
            return self.frame(video_id, "pseudo", frame_number)
        s = self._layer(video_id, layer)
        i = int(np.searchsorted(s.frames, frame_number))
        if i >= len(s.frames) or s.frames[i] != frame_number:
            raise StoreError(f"{self.path}: video {video_id!r} has no frame {frame_number} in {layer!r}")
        a, b = s.offsets[i], s.offsets[i + 1]
        first, bounds = s.coff[a], s.coff[a : b + 1] - s.coff[a]
        blob = read_range(s.counts, int(first), int(s.coff[b]), chunk=s.chunk)
        with self._runs_of(s, int(a)):
            rle.check_packed(blob, bounds, s.size)
        text = blob.tobytes()
        objs = [
            {"size": list(s.size), "counts": text[p:q].decode("ascii")}
            for p, q in zip(bounds[:-1], bounds[1:])
        ]
        return [m for m in objs if m["counts"] != empty_counts(*s.size)]  # no empty objects, as LayerData

    def masks(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame numbers and decoded union masks (F x H x W uint8 0/1) of a video's layer."""
        if layer == "curated":
            parts = [self.masks(video_id, k) for k in self._stored_layers(video_id)]
            frames = np.unique(np.concatenate([f for f, _ in parts]))
            out = np.zeros((len(frames), *parts[0][1].shape[1:]), np.uint8)
            for f, m in parts:
                out[np.searchsorted(frames, f)] = m
            return frames, out
        self._group(video_id, layer)
        s = self._layer(video_id, layer)
        with self._runs_of(s):
            entries = rle.decode_packed(read_all(s.counts), s.coff, s.size)
        frames, n_obj = s.frames.copy(), np.diff(s.offsets)
        if len(frames) == len(entries) and np.all(n_obj == 1):
            return frames, entries
        out = np.zeros((len(frames), *s.size), np.uint8)
        for k in range(int(n_obj.max(initial=0))):
            has = np.flatnonzero(n_obj > k)
            out[has] |= entries[s.offsets[has] + k]
        return frames, out

    def area_bbox(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame numbers, union areas and union boxes (xywh) without decoding a mask."""
        if layer == "curated" and len(self.layers(video_id)) == 2:
            d = self.read(video_id, "curated")
            return d.frames, d.area, d.bbox
        if layer == "curated":
            layer = self.layers(video_id)[0] if self.layers(video_id) else "pseudo"
        g = self._group(video_id, layer)
        return read_array(g, "frames"), read_array(g, "area"), read_array(g, "bbox")

    def object_counts(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame numbers and objects per frame of a stored layer, without reading any RLE.

        A frame of area 0 counts no object (stores written before the athlete-free convention
        may hold empty masks there)."""
        g = self._group(video_id, layer)
        return read_array(g, "frames"), np.where(
            read_array(g, "area") > 0, np.diff(read_array(g, "offsets")), 0
        )

    def journal_parts(self) -> int:
        """Committed writes not yet folded into the main file (a writer was killed, or is running)."""
        return len(self._parts())

    def stored_bytes(self) -> int:
        """Bytes on disk of the main file and the journal."""
        return self.path.stat().st_size + sum(p.stat().st_size for p in self._parts())
