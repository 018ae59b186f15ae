"""The HDF5 mask store: every mask of a dataset, as COCO RLE, in one file.

Layout and guarantees are specified in ``schemas/mask-store.md``. In short: ``/videos/<quoted id>``
holds a video's metadata and one group per layer (``pseudo``, ``corrected``) with plain arrays
(frames, area, bbox, score, offsets) and the RLE counts of all its masks as one compressed uint8
array. Writers never touch the live file in place: each commit is a complete small store file
renamed into ``<store>.journal/``; closing the writer folds the journal into a copy of the store
and ``os.replace``-s it into place. Readers see the store plus any journal parts, so a killed
writer loses only the put in flight.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import h5py
import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.errors import HMError
from hm_annotate.rle import RLE
from hm_annotate.safe_paths import UnsafePathError, check_video_id

FORMAT = "hm-annotate-masks"
SCHEMA_VERSION = 1
LAYERS = ("pseudo", "corrected")
VIEWS = (*LAYERS, "curated")
# parts in the journal before a writer folds them into the main file while still open
FOLD_EVERY = 256
_COUNTS_CHUNK = 1 << 16
# largest JSON attribute (a video's metadata, a layer's provenance) written
MAX_ATTRIBUTE_BYTES = 1 << 20


class StoreError(HMError):
    """A store that cannot be read or written as asked (not ours, newer, damaged, misused)."""


class StoreLockedError(StoreError):
    """Another process is writing the store."""


@functools.lru_cache(maxsize=8)
def _empty_counts(height: int, width: int) -> str | None:
    """The counts text of an all-background mask of this size."""
    return rle.empty((height, width))["counts"] if height * width else None


@dataclass
class LayerData:
    """One layer of one video: per frame, the RLE of each object plus cheap per-frame arrays.

    ``masks[i]`` lists the objects of frame ``frames[i]`` (an empty list means the frame was
    annotated and holds no athlete). ``area``/``bbox`` describe the union of the objects and are
    computed from the RLEs when not given. An object whose mask has no foreground is dropped (one
    convention for athlete-free frames: no objects, whoever wrote them; see schemas/mask-store.md).
    """

    frames: np.ndarray
    masks: list[list[RLE]]
    height: int
    width: int
    object_ids: list[list[int]] | None = None
    scores: np.ndarray | None = None
    quality: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    provenance_index: np.ndarray | None = None
    area: np.ndarray | None = None
    bbox: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        n = len(self.frames)
        if len(self.masks) != n:
            raise StoreError(f"{n} frames but {len(self.masks)} mask lists")
        if self.object_ids is None:
            self.object_ids = [list(range(1, len(objs) + 1)) for objs in self.masks]
        self._drop_empty_objects()
        if self.scores is None:
            self.scores = np.full(n, np.nan, np.float32)
        if self.provenance_index is None:
            self.provenance_index = np.zeros(n, np.int16)
        if not self.provenance:
            self.provenance = [{}]
        if self.area is None or self.bbox is None:
            unions = [self.union(i) for i in range(n)]
            self.area = rle.area(unions)
            self.bbox = rle.bbox(unions).astype(np.float32)

    def _drop_empty_objects(self) -> None:
        """Remove objects without foreground (by their counts text: no decoding, no pycocotools on
        unchecked input; every encoder writes an empty mask as the one run ``h * w``)."""
        blank = _empty_counts(self.height, self.width)
        drop = [i for i, objs in enumerate(self.masks) if any(m["counts"] == blank for m in objs)]
        if drop:
            self.masks, self.object_ids = list(self.masks), list(self.object_ids)
        for i in drop:
            keep = [k for k, m in enumerate(self.masks[i]) if m["counts"] != blank]
            self.masks[i] = [self.masks[i][k] for k in keep]
            self.object_ids[i] = [self.object_ids[i][k] for k in keep]

    def __len__(self) -> int:
        return len(self.frames)

    def union(self, i: int) -> RLE:
        """The human-centric foreground of the i-th frame: the union of its objects."""
        return rle.union(self.masks[i], (self.height, self.width))

    def index(self, frame_number: int) -> int:
        """Position of a frame number in this layer; KeyError when the layer lacks it."""
        i = int(np.searchsorted(self.frames, frame_number))
        if i >= len(self.frames) or self.frames[i] != frame_number:
            raise KeyError(frame_number)
        return i

    def subset(self, positions: Sequence[int] | np.ndarray) -> LayerData:
        """The frames at the given positions, with their provenance records."""
        pos = np.asarray(positions, dtype=np.int64)
        return LayerData(
            frames=self.frames[pos],
            masks=[self.masks[i] for i in pos],
            height=self.height,
            width=self.width,
            object_ids=[self.object_ids[i] for i in pos],
            scores=self.scores[pos],
            quality={k: np.asarray(v)[pos] for k, v in self.quality.items()},
            provenance=self.provenance,
            provenance_index=self.provenance_index[pos],
            area=self.area[pos],
            bbox=self.bbox[pos],
        )


def overlay(base: LayerData, top: LayerData) -> LayerData:
    """Frames of ``top`` replace or add to those of ``base`` (for merges and the curated view)."""
    if (base.height, base.width) != (top.height, top.width):
        raise StoreError(
            f"cannot combine masks of size {base.height}x{base.width} and {top.height}x{top.width}"
        )
    frames = np.union1d(base.frames, top.frames)
    in_top = np.isin(frames, top.frames)
    src_pos = np.where(in_top, np.searchsorted(top.frames, frames), np.searchsorted(base.frames, frames))
    off = len(base.provenance)
    keys = sorted(set(base.quality) | set(top.quality))

    def pick(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty((len(frames), *a.shape[1:]), dtype=np.result_type(a, b))
        out[~in_top] = a[src_pos[~in_top]]
        out[in_top] = b[src_pos[in_top]]
        return out

    def qual(d: LayerData, k: str) -> np.ndarray:
        return np.asarray(d.quality[k], np.float32) if k in d.quality else np.full(len(d), np.nan, np.float32)

    return LayerData(
        frames=frames,
        masks=[(top if t else base).masks[p] for t, p in zip(in_top, src_pos)],
        height=base.height,
        width=base.width,
        object_ids=[(top if t else base).object_ids[p] for t, p in zip(in_top, src_pos)],
        scores=pick(base.scores, top.scores),
        quality={k: pick(qual(base, k), qual(top, k)) for k in keys},
        provenance=base.provenance + top.provenance,
        provenance_index=pick(
            base.provenance_index.astype(np.int64), top.provenance_index.astype(np.int64) + off
        ),
        area=pick(base.area, top.area),
        bbox=pick(base.bbox, top.bbox),
    )


def group_name(video_id: str) -> str:
    """The HDF5 group name of a video id (ids contain '/', group names cannot)."""
    return quote(video_id, safe="")


# ----------------------------------------------------------------------------- file level


def require_regular(path: Path) -> None:
    """Refuse a store path that exists and is not a regular file (a FIFO would block the open)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise StoreError(f"{path}: not a regular file")


def _member(group: h5py.Group, name: str) -> Any:
    """``group[name]``, or None when absent or unreachable (a dangling or looping link)."""
    try:
        return group[name]
    except (KeyError, RuntimeError, OSError, ValueError):
        return None


def _open_h5(path: Path) -> h5py.File:
    """Open a store file read-only, checking it is ours and not from a newer version."""
    require_regular(path)
    try:
        f = h5py.File(path, "r", locking=False)
    except FileNotFoundError:
        raise StoreError(f"{path}: no such store") from None
    except OSError as exc:
        raise StoreError(f"{path}: not a readable HDF5 file (truncated or damaged?): {exc}") from None
    try:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode(errors="replace")
        if fmt != FORMAT:
            raise StoreError(f"{path}: not an hm-annotate mask store (format attribute {fmt!r})")
        version = f.attrs.get("schema_version")
        if not isinstance(version, (int, np.integer)) or isinstance(version, bool) or version < 1:
            raise StoreError(f"{path}: schema_version {version!r} is not a positive integer")
        if int(version) > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: schema_version {version} is newer than this hm-annotate supports "
                f"({SCHEMA_VERSION}); upgrade hm-annotate"
            )
        if not isinstance(_member(f, "videos"), h5py.Group):
            raise StoreError(f"{path}: missing group /videos")
    except BaseException:
        f.close()
        raise
    return f


def _new_file(path: Path) -> h5py.File:
    f = h5py.File(path, "w", libver=("v110", "latest"), locking=False)
    f.attrs["format"] = FORMAT
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    f.attrs["tool_version"] = __version__
    f.create_group("videos")
    return f


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compact_provenance(records: list[dict[str, Any]], index: np.ndarray) -> tuple[list[dict], np.ndarray]:
    """The provenance records frames refer to, each distinct record once, and the index remapped.

    Every import appends a record, so without this a layer imported into 32,768 times overflowed
    the int16 ``provenance_index``; kept records are bounded by the frames of the layer.
    """
    index = np.asarray(index, np.int64)
    if len(index) and (index.min() < 0 or index.max() >= len(records)):
        raise StoreError("provenance_index points outside the provenance records")
    used = np.unique(index) if len(index) else np.zeros(1, np.int64)
    keys: dict[str, int] = {}
    remap = np.zeros(max(len(records), 1), np.int64)
    kept: list[dict[str, Any]] = []
    for i in used.tolist():
        key = json.dumps(records[i], sort_keys=True, default=_json_default) if records else "{}"
        if key not in keys:
            keys[key] = len(kept)
            kept.append(records[i] if records else {})
        remap[i] = keys[key]
    if len(kept) > np.iinfo(np.int16).max + 1:
        raise StoreError(f"{len(kept)} distinct provenance records in one layer (at most 32768)")
    return kept, remap[index].astype(np.int16)


def _json_attr(value: Any, what: str) -> str:
    """A JSON attribute, refused over MAX_ATTRIBUTE_BYTES (a 50 MB contributor was stored as is)."""
    text = json.dumps(value, default=_json_default)
    if len(text) > MAX_ATTRIBUTE_BYTES:
        raise StoreError(f"{what} is {len(text):,} bytes of JSON (at most {MAX_ATTRIBUTE_BYTES:,})")
    return text


def _write_layer(group: h5py.Group, data: LayerData) -> None:
    counts = [c["counts"].encode("ascii") for objs in data.masks for c in objs]
    for objs in data.masks:
        for c in objs:
            if list(c["size"]) != [data.height, data.width]:
                raise StoreError(f"mask of size {c['size']} in a {data.height}x{data.width} video")
    sizes = np.fromiter((len(c) for c in counts), dtype=np.int64, count=len(counts))
    blob = np.frombuffer(b"".join(counts), dtype=np.uint8)
    n_obj = np.fromiter((len(o) for o in data.masks), dtype=np.int64, count=len(data.masks))
    group.attrs["height"] = int(data.height)
    group.attrs["width"] = int(data.width)
    provenance, provenance_index = compact_provenance(data.provenance, data.provenance_index)
    group.attrs["provenance"] = _json_attr(provenance, f"{group.name}: provenance")
    group.create_dataset("frames", data=data.frames)
    group.create_dataset("offsets", data=np.concatenate([[0], np.cumsum(n_obj)]).astype(np.int64))
    group.create_dataset(
        "object_ids", data=np.fromiter((i for ids in data.object_ids for i in ids), np.int16, len(counts))
    )
    group.create_dataset("counts_offsets", data=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
    if len(blob):
        group.create_dataset(
            "counts",
            data=blob,
            chunks=(min(len(blob), _COUNTS_CHUNK),),
            compression="gzip",
            compression_opts=6,
            shuffle=False,
        )
    else:  # a layer of frames without objects (h5py refuses chunks larger than an empty array)
        group.create_dataset("counts", data=blob)
    group.create_dataset("area", data=np.asarray(data.area, np.int64))
    group.create_dataset("bbox", data=np.asarray(data.bbox, np.float32).reshape(-1, 4))
    group.create_dataset("score", data=np.asarray(data.scores, np.float32))
    group.create_dataset("provenance_index", data=provenance_index)
    if data.quality:
        q = group.create_group("quality")
        for k, v in data.quality.items():
            q.create_dataset(k, data=np.asarray(v, np.float32))


def _array(group: h5py.Group, name: str) -> np.ndarray:
    """A whole dataset through h5py's low-level API: half the cost of ``group[name][()]``,
    which matters when statistics read thousands of small arrays."""
    d = h5py.h5d.open(group.id, name.encode())
    out = np.empty(d.shape, dtype=d.dtype)
    if out.size:
        d.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def _read_layer(
    group: h5py.Group, frames: np.ndarray, offsets: np.ndarray, coff: np.ndarray, counts: np.ndarray
) -> LayerData:
    """A layer from its group and its index and counts arrays (read and checked by the caller)."""
    h, w = int(group.attrs["height"]), int(group.attrs["width"])
    blob = counts.tobytes()
    ids = _array(group, "object_ids").tolist()
    size = [h, w]
    objs = [{"size": size, "counts": blob[a:b].decode("ascii")} for a, b in zip(coff[:-1], coff[1:])]
    masks = [objs[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    object_ids = [ids[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    quality = {k: v[()] for k, v in group["quality"].items()} if "quality" in group else {}
    return LayerData(
        frames=frames,
        masks=masks,
        height=h,
        width=w,
        object_ids=object_ids,
        scores=_array(group, "score"),
        quality=quality,
        provenance=json.loads(group.attrs["provenance"]),
        provenance_index=_array(group, "provenance_index"),
        area=_array(group, "area"),
        bbox=_array(group, "bbox"),
    )


def _write_video(videos: h5py.Group, video_id: str, metadata: dict[str, Any], layers: dict[str, LayerData]):
    name = group_name(video_id)
    if name in videos:
        del videos[name]
    g = videos.create_group(name)
    g.attrs["video_id"] = video_id
    g.attrs["metadata"] = _json_attr(metadata, f"video {video_id}: metadata")
    sizes = {(d.height, d.width) for d in layers.values()}
    if len(sizes) > 1:
        raise StoreError(f"video {video_id}: layers disagree on the frame size {sorted(sizes)}")
    for layer, data in layers.items():
        _write_layer(g.create_group(layer), data)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


# ----------------------------------------------------------------------------- the store


class MaskStore:
    """A mask store opened for reading (default) or writing (``mode="a"``, exclusive).

    Use as a context manager; ``close()`` of a writer folds its journal into the main file.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r") -> None:
        if mode not in ("r", "a"):
            raise StoreError(f"mode must be 'r' or 'a', not {mode!r}")
        self.path = Path(path)
        require_regular(self.path)
        self.mode = mode
        self.journal = self.path.with_name(self.path.name + ".journal")
        self._lock_fd: int | None = None
        self._files: list[h5py.File] = []
        # video id -> {"meta": (file, group), layer: (file, group)} (latest source wins)
        self._index: dict[str, dict[str, tuple[h5py.File, str]]] = {}
        self._txn: h5py.File | None = None
        self._txn_tmp: Path | None = None
        self._txn_videos: dict[str, dict[str, Any]] = {}
        self._frame_cache: dict[tuple[str, str], tuple] = {}
        self._checked: set[tuple[int, str, str]] = set()
        if mode == "a":
            self._acquire_lock()
        try:
            if mode == "a":
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

    # -- locking -----------------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock")
        if not self.path.parent.exists():
            raise StoreError(f"{self.path}: folder {self.path.parent} does not exist")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreLockedError(
                f"{self.path}: another process (pid {holder}) is writing this store; "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- reading -----------------------------------------------------------------------------

    def _parts(self) -> list[Path]:
        if not self.journal.is_dir():
            return []
        return sorted(p for p in self.journal.iterdir() if p.suffix == ".h5" and not p.name.startswith("."))

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

        A video whose group or id is unsafe (an id such as ``../x`` would let an export write
        outside its folder) makes the whole file unreadable, with the reason; ``validate`` lists
        every such finding.
        """
        f = _open_h5(src)
        self._files.append(f)
        self._frame_cache.clear()
        self._checked.clear()
        for name in f["videos"]:
            g = _member(f["videos"], name)
            problems = _video_problems(name, g)
            if problems:
                raise StoreError(f"{src}: {problems[0]}")
            entry = {"meta": (f, name)}
            entry.update({layer: (f, name) for layer in g if layer in LAYERS})
            self._index[g.attrs["video_id"]] = entry

    def _close_files(self) -> None:
        for f in self._files:
            f.close()
        self._files = []

    def videos(self) -> list[str]:
        """All video ids, sorted."""
        return sorted(self._index)

    def __contains__(self, video_id: str) -> bool:
        return video_id in self._index

    def _entry(self, video_id: str) -> dict[str, tuple[h5py.File, str]]:
        try:
            return self._index[video_id]
        except KeyError:
            raise StoreError(f"{self.path}: no video {video_id!r}") from None

    def layers(self, video_id: str) -> list[str]:
        """Stored layers of a video (``pseudo`` and/or ``corrected``)."""
        return [k for k in LAYERS if k in self._entry(video_id)]

    def has(self, video_id: str, layer: str) -> bool:
        """Whether a video has masks in a layer (``curated``: in either stored layer)."""
        if video_id not in self._index:
            return False
        if layer == "curated":
            return bool(self.layers(video_id))
        return layer in self._index[video_id]

    def metadata(self, video_id: str) -> dict[str, Any]:
        """The video's metadata (action type, score, split, ...)."""
        f, name = self._entry(video_id)["meta"]
        try:
            meta = json.loads(f["videos"][name].attrs["metadata"])
        except (KeyError, TypeError, ValueError, RecursionError):
            meta = None
        if not isinstance(meta, dict):
            raise StoreError(
                f"{f.filename}: video {video_id}: attribute 'metadata' is missing or not a JSON object"
            )
        return meta

    def _group(self, video_id: str, layer: str) -> h5py.Group:
        """A stored layer's group, its structure checked once (dtypes, shapes, size)."""
        entry = self._entry(video_id)
        if layer not in entry:
            raise StoreError(f"{self.path}: video {video_id!r} has no {layer!r} layer")
        f, name = entry[layer]
        g = _member(f["videos"][name], layer)
        key = (f.id.id, name, layer)
        if key not in self._checked:
            problems = _structure_problems(g)
            if problems:
                raise StoreError(f"{f.filename}: video {video_id} layer {layer}: {problems[0]}")
            self._checked.add(key)
        return g

    def _indexes(self, video_id: str, layer: str, g: h5py.Group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frames, offsets and counts offsets of a layer, checked to index what they should."""
        frames, offsets, coff = _array(g, "frames"), _array(g, "offsets"), _array(g, "counts_offsets")
        problems = _index_problems(frames, offsets, coff, len(g["counts"]))
        if problems:
            raise StoreError(f"{g.file.filename}: video {video_id} layer {layer}: {problems[0]}")
        return frames, offsets, coff

    def _bad_rle(
        self, exc: rle.RLEError, g: h5py.Group, video_id: str, layer: str, frames, offsets
    ) -> StoreError:
        where = _frame_of(offsets, frames, exc.entry)
        return StoreError(
            f"{g.file.filename}: video {video_id} layer {layer} {where}: bad stored RLE ({exc}); "
            "run hm-annotate validate"
        )

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

    def read(self, video_id: str, layer: str) -> LayerData:
        """A video's layer: ``pseudo``, ``corrected``, or ``curated`` (corrected over pseudo)."""
        if layer not in VIEWS:
            raise StoreError(f"unknown layer {layer!r}; known: {', '.join(VIEWS)}")
        if layer != "curated":
            g = self._group(video_id, layer)
            frames, offsets, coff = self._indexes(video_id, layer, g)
            size = (int(g.attrs["height"]), int(g.attrs["width"]))
            blob = _array(g, "counts")
            try:
                rle.check_packed(blob, coff, size)
            except rle.RLEError as exc:
                raise self._bad_rle(exc, g, video_id, layer, frames, offsets) from None
            return _read_layer(g, frames, offsets, coff, blob)
        stored = self.layers(video_id)
        if not stored:
            raise StoreError(f"{self.path}: video {video_id!r} has no masks")
        if len(stored) == 2:
            return overlay(self.read(video_id, "pseudo"), self.read(video_id, "corrected"))
        return self.read(video_id, stored[0])

    def frame(self, video_id: str, layer: str, frame_number: int) -> list[RLE]:
        """The objects of one frame (empty masks dropped); StoreError when the layer has no such frame."""
        if layer == "curated":
            if self.has(video_id, "corrected"):
                try:
                    return self.frame(video_id, "corrected", frame_number)
                except StoreError:
                    pass
            return self.frame(video_id, "pseudo", frame_number)
        g, frames, offsets, coff, size = self._frame_index(video_id, layer)
        i = int(np.searchsorted(frames, frame_number))
        if i >= len(frames) or frames[i] != frame_number:
            raise StoreError(f"{self.path}: video {video_id!r} has no frame {frame_number} in {layer!r}")
        a, b = offsets[i], offsets[i + 1]
        blob = g["counts"][coff[a] : coff[b]] if b > a else np.zeros(0, np.uint8)
        try:
            rle.check_packed(blob, coff[a : b + 1] - coff[a], size)
        except rle.RLEError as exc:
            exc.entry = None if exc.entry is None else exc.entry + int(a)
            raise self._bad_rle(exc, g, video_id, layer, frames, offsets) from None
        text = blob.tobytes()
        objs = [
            {"size": list(size), "counts": text[s - coff[a] : e - coff[a]].decode("ascii")}
            for s, e in zip(coff[a:b], coff[a + 1 : b + 1])
        ]
        return [m for m in objs if m["counts"] != _empty_counts(*size)]  # no empty objects, as LayerData

    def _frame_index(self, video_id: str, layer: str) -> tuple:
        """A layer's group and small index arrays, kept so single-frame reads cost one slice."""
        key = (video_id, layer)
        if key not in self._frame_cache:
            g = self._group(video_id, layer)
            size = (int(g.attrs["height"]), int(g.attrs["width"]))
            self._frame_cache[key] = (g, *self._indexes(video_id, layer, g), size)
        return self._frame_cache[key]

    def masks(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame numbers and decoded union masks (F x H x W uint8 0/1) of a video's layer."""
        if layer == "curated":
            stored = self.layers(video_id)
            if not stored:
                raise StoreError(f"{self.path}: video {video_id!r} has no masks")
            parts = [self.masks(video_id, k) for k in stored]  # pseudo first, corrected wins
            frames = np.unique(np.concatenate([f for f, _ in parts]))
            out = np.zeros((len(frames), *parts[0][1].shape[1:]), np.uint8)
            for f, m in parts:
                out[np.searchsorted(frames, f)] = m
            return frames, out
        g = self._group(video_id, layer)
        frames, offsets, coff = self._indexes(video_id, layer, g)
        size = (int(g.attrs["height"]), int(g.attrs["width"]))
        try:
            entries = rle.decode_packed(_array(g, "counts"), coff, size)
        except rle.RLEError as exc:
            raise self._bad_rle(exc, g, video_id, layer, frames, offsets) from None
        n_obj = np.diff(offsets)
        if len(frames) == len(entries) and np.all(n_obj == 1):
            return frames, entries
        out = np.zeros((len(frames), *size), np.uint8)
        for k in range(int(n_obj.max(initial=0))):
            has = np.flatnonzero(n_obj > k)
            out[has] |= entries[offsets[has] + k]
        return frames, out

    def area_bbox(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame numbers, union areas and union boxes (xywh) without decoding a mask."""
        if layer == "curated" and len(self.layers(video_id)) == 2:
            d = self.read(video_id, "curated")
            return d.frames, d.area, d.bbox
        if layer == "curated":
            layer = self.layers(video_id)[0] if self.layers(video_id) else "pseudo"
        g = self._group(video_id, layer)
        return _array(g, "frames"), _array(g, "area"), _array(g, "bbox")

    def object_counts(self, video_id: str, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """Frame numbers and objects per frame of a stored layer, without reading any RLE.

        A frame of area 0 counts no object (stores written before the athlete-free convention
        may hold empty masks there)."""
        g = self._group(video_id, layer)
        return _array(g, "frames"), np.where(_array(g, "area") > 0, np.diff(_array(g, "offsets")), 0)

    def journal_parts(self) -> int:
        """Committed writes not yet folded into the main file (a writer was killed, or is running)."""
        return len(self._parts())

    def stored_bytes(self) -> int:
        """Bytes on disk of the main file and the journal."""
        return self.path.stat().st_size + sum(p.stat().st_size for p in self._parts())

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
        self._txn = _new_file(self._txn_tmp)
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
        _fsync_path(tmp)
        part = self._next_part_path()
        os.replace(tmp, part)
        _fsync_path(self.journal)
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
            _write_video(self._txn["videos"], video_id, meta, layers)
            self._txn_videos[video_id] = {"meta": meta, "layers": layers}
            return
        with self.transaction():
            self._stage(video_id, meta, layers)

    def _fold_journal(self) -> None:
        """Fold committed journal parts into a fresh main file (after a clean close or a crash).

        The new file is built beside the old one from the latest copy of every video group and
        swapped in with ``os.replace``; a crash before the swap leaves the old file and the parts
        (and the half-built file, which the next writer removes once its pid is gone).
        """
        remove_stale_temps(self.path)
        if self.journal.is_dir():
            for stale in self.journal.glob(".txn-*.tmp"):
                stale.unlink()
        parts = self._parts()
        if self.path.exists() and not parts:
            return
        self._close_files()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        sources = [_open_h5(p) for p in ([self.path] if self.path.exists() else []) + parts]
        try:
            latest = {name: src for src in sources for name in src["videos"]}
            with _new_file(tmp) as out:
                if self.path.exists():
                    out.attrs["created"] = sources[0].attrs["created"]
                out.attrs["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                for name, src in latest.items():
                    src.copy(src["videos"][name], out["videos"], name=name)
            _fsync_path(tmp)
            os.replace(tmp, self.path)
            _fsync_path(self.path.parent)
        finally:
            for src in sources:
                src.close()
            tmp.unlink(missing_ok=True)
        for part in parts:
            part.unlink()

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


def _remove_build(tmp: Path) -> None:
    for fold in tmp.parent.glob(f".{tmp.name}.*.tmp"):
        fold.unlink(missing_ok=True)
    tmp.unlink(missing_ok=True)
    tmp.with_name(tmp.name + ".lock").unlink(missing_ok=True)
    shutil.rmtree(tmp.with_name(tmp.name + ".journal"), ignore_errors=True)


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
    _remove_build(tmp)
    st = MaskStore(tmp, "a")
    try:
        yield st
        st.close()
        _fsync_path(tmp)
        try:
            os.link(tmp, path)  # unlike a rename, never replaces a store made meanwhile
        except FileExistsError:
            raise StoreError(f"{path} was created by someone else meanwhile; nothing written") from None
        except OSError:  # a file system without hard links: rename, checking first
            if path.exists():
                raise StoreError(f"{path} was created by someone else meanwhile; nothing written") from None
            os.replace(tmp, path)
        _fsync_path(path.parent)
    finally:
        st._close_files()
        st._release_lock()
        _remove_build(tmp)


def writer(path: str | os.PathLike) -> contextlib.AbstractContextManager[MaskStore]:
    """A writer on ``path``: the store itself when it exists, else a ``new_store`` (so a command
    that fails or is killed while creating a store leaves nothing behind)."""
    return MaskStore.open(path, "a") if Path(path).exists() else new_store(path)


def summarise(store: MaskStore) -> dict[str, Any]:
    """Counts per layer (videos, frames, masks, empty frames) and bytes, without decoding masks."""
    layers = {k: {"videos": 0, "frames": 0, "masks": 0, "empty_frames": 0} for k in VIEWS}
    for vid in store.videos():
        counts = {k: store.object_counts(vid, k) for k in store.layers(vid)}
        if counts:
            frames = np.unique(np.concatenate([f for f, _ in counts.values()]))
            n_obj = np.zeros(len(frames), np.int64)
            for k in LAYERS:  # corrected after pseudo: it wins where it has the frame
                if k in counts:
                    n_obj[np.searchsorted(frames, counts[k][0])] = counts[k][1]
            counts["curated"] = (frames, n_obj)
        for k, (frames, n_obj) in counts.items():
            layers[k]["videos"] += 1
            layers[k]["frames"] += len(frames)
            layers[k]["masks"] += int(n_obj.sum())
            layers[k]["empty_frames"] += int((n_obj == 0).sum())
    return {
        "path": str(store.path),
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "bytes": store.stored_bytes(),
        "journal_parts": store.journal_parts(),
        "videos": len(store.videos()),
        "layers": layers,
    }


# ----------------------------------------------------------------------------- validation

_LAYER_DATASETS = {
    "frames": ("i", 1),
    "offsets": ("i", 1),
    "object_ids": ("i", 1),
    "counts_offsets": ("i", 1),
    "counts": ("u", 1),
    "area": ("i", 1),
    "bbox": ("f", 2),
    "score": ("f", 1),
    "provenance_index": ("i", 1),
}


def validate(path: str | os.PathLike) -> list[str]:
    """Check a store (main file and journal) against ``schemas/mask-store.md``.

    Returns one line per finding, naming the file, video, layer and frame; empty when valid.
    """
    from hm_annotate.schema import attribute_validator

    path = Path(path)
    journal = path.with_name(path.name + ".journal")
    files = [path] + (sorted(journal.glob("[0-9]*.h5")) if journal.is_dir() else [])
    check_attrs = attribute_validator()
    findings: list[str] = []
    for src in files:
        try:
            f = _open_h5(src)
        except StoreError as exc:
            findings.append(str(exc))
            continue
        with f:
            findings += [f"{src}: {m}" for m in check_attrs("root", dict(f.attrs))]
            for name in f["videos"]:
                g = _member(f["videos"], name)
                findings += [f"{src}: {m}" for m in _validate_video(name, g, check_attrs)]
    return findings


def _video_problems(name: str, g: object) -> list[str]:
    """What is wrong with a video group's id and shape, before its layers are looked at."""
    if not isinstance(g, h5py.Group):
        return [f"video group {name!r} is not an HDF5 group (or an unreachable link)"]
    vid = g.attrs.get("video_id")
    if not isinstance(vid, str):
        return [f"video group {name!r} has no video_id string attribute"]
    try:
        check_video_id(vid)
    except UnsafePathError as exc:
        return [str(exc)]
    if group_name(vid) != name:
        return [f"video {vid}: group name {name!r} does not match its video_id"]
    return []


def _validate_video(name: str, g: object, check_attrs) -> list[str]:
    problems = _video_problems(name, g)
    if problems and not isinstance(g, h5py.Group):
        return problems
    vid = g.attrs.get("video_id", unquote(name))
    out = problems + [f"video {vid}: {m}" for m in check_attrs("video", dict(g.attrs))]
    for layer in g:
        where = f"video {vid} layer {layer}"
        if layer not in LAYERS:
            out.append(f"{where}: unknown layer (expected one of {', '.join(LAYERS)})")
            continue
        out += [f"{where}: {m}" for m in _validate_layer(_member(g, layer), check_attrs)]
    return out


def _structure_problems(g: object) -> list[str]:
    """What keeps a layer group from being read safely, from its attributes and dataset shapes
    alone (no array is read): missing or mistyped datasets (a vlen or int64 ``counts`` would
    crash the decoder), a bad size, row counts that disagree."""
    if not isinstance(g, h5py.Group):
        return ["not an HDF5 group"]
    out = []
    for key in ("height", "width"):
        if not isinstance(g.attrs.get(key), (int, np.integer)):
            out.append(f"attribute {key!r} is missing or not an integer")
    if not out:
        try:
            rle.check_size([g.attrs["height"], g.attrs["width"]])
        except rle.RLEError as exc:
            out.append(str(exc))
    ds = {}
    for key, (kind, ndim) in _LAYER_DATASETS.items():
        d = _member(g, key)
        if not isinstance(d, h5py.Dataset):
            out.append(f"missing dataset {key!r}")
        elif d.dtype.kind != kind or d.ndim != ndim or (key == "counts" and d.dtype.itemsize != 1):
            out.append(f"dataset {key!r} has dtype {d.dtype} and {d.ndim} dims")
        else:
            ds[key] = d
    if out:
        return out
    n, n_obj = len(ds["frames"]), len(ds["object_ids"])
    if len(ds["offsets"]) != n + 1:
        out.append(f"dataset 'offsets' has {len(ds['offsets'])} rows for {n} frames (expected {n + 1})")
    if len(ds["counts_offsets"]) != n_obj + 1:
        out.append(f"dataset 'counts_offsets' has {len(ds['counts_offsets'])} rows for {n_obj} objects")
    for key in ("area", "score", "provenance_index"):
        if len(ds[key]) != n:
            out.append(f"dataset {key!r} has {len(ds[key])} rows for {n} frames")
    if ds["bbox"].shape != (n, 4):
        out.append(f"dataset 'bbox' has shape {ds['bbox'].shape}, expected ({n}, 4)")
    quality = _member(g, "quality") if "quality" in g else {}
    if not isinstance(quality, (h5py.Group, dict)):
        out.append("'quality' is not a group")
    else:
        for key in quality:
            d = _member(quality, key)
            if not isinstance(d, h5py.Dataset) or d.shape != (n,) or d.dtype.kind not in "fiu":
                out.append(f"quality {key!r} is not a number per frame ({n},)")
    try:
        records = json.loads(g.attrs["provenance"])
        if not isinstance(records, list):
            out.append("attribute 'provenance' is not a JSON list")
    except (KeyError, TypeError, ValueError, RecursionError):
        out.append("attribute 'provenance' is missing or not JSON")
    return out


def _index_problems(frames: np.ndarray, offsets: np.ndarray, coff: np.ndarray, n_bytes: int) -> list[str]:
    """Whether the index arrays of a layer (shapes already checked) point where they should."""
    out = []
    if len(frames) > 1 and not np.all(np.diff(frames) > 0):
        bad = int(frames[1:][np.diff(frames) <= 0][0])
        out.append(f"frame {bad}: frame numbers are not strictly increasing")
    if offsets[0] != 0 or offsets[-1] != len(coff) - 1 or np.any(np.diff(offsets) < 0):
        out.append("offsets do not index the object entries")
    if coff[0] != 0 or coff[-1] != n_bytes or np.any(np.diff(coff) < 0):
        out.append("counts_offsets do not index the counts bytes")
    return out


def _frame_of(offsets: np.ndarray, frames: np.ndarray, entry: int | None) -> str:
    """``frame N object K`` for an object entry of a layer (for error messages)."""
    if entry is None:
        return "a frame"
    i = int(np.searchsorted(offsets, entry, side="right") - 1)
    return f"frame {int(frames[i])} object {entry - int(offsets[i]) + 1}"


def _validate_layer(g: object, check_attrs) -> list[str]:
    out = _structure_problems(g)
    if out:
        return out
    out = list(check_attrs("layer", dict(g.attrs)))
    if out:
        return out
    h, w = int(g.attrs["height"]), int(g.attrs["width"])
    frames, offsets, coff = _array(g, "frames"), _array(g, "offsets"), _array(g, "counts_offsets")
    out += _index_problems(frames, offsets, coff, len(g["counts"]))
    n_prov = len(json.loads(g.attrs["provenance"]))
    pidx = _array(g, "provenance_index")
    if len(pidx) and (pidx.min() < 0 or pidx.max() >= n_prov):
        out.append("provenance_index points outside the provenance records")
    if out:
        return out
    blob = _array(g, "counts").tobytes()
    area, bbox = _array(g, "area"), _array(g, "bbox")
    for i, fr in enumerate(frames):
        objs = []
        for e in range(offsets[i], offsets[i + 1]):
            try:
                text = blob[coff[e] : coff[e + 1]].decode("ascii")
                objs.append(rle.check({"size": [h, w], "counts": text}))
            except (rle.RLEError, UnicodeDecodeError) as exc:
                out.append(f"frame {fr}: malformed RLE for object {e - offsets[i] + 1}: {exc}")
        if len(objs) != offsets[i + 1] - offsets[i]:
            continue
        u = rle.union(objs, (h, w))
        a, b = int(rle.area([u])[0]), rle.bbox([u])[0]
        if a != int(area[i]):
            out.append(f"frame {fr}: stored area {int(area[i])} but the RLE covers {a} pixels")
        if not np.allclose(b, bbox[i], atol=0.5):
            out.append(f"frame {fr}: stored bbox {bbox[i].tolist()} but the RLE spans {b.tolist()}")
    return out
