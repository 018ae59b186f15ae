"""The on-disk form of a mask store, as ``schemas/mask-store.md`` specifies it: opening and
creating store files, writing and reading one layer group (``checks`` says what may be read).
"""

from __future__ import annotations

import json
import os
import stat
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import h5py
import numpy as np

from hm_annotate import __version__
from hm_annotate.store.layer import LayerData, StoreError

FORMAT = "hm-annotate-masks"
SCHEMA_VERSION = 1
_COUNTS_CHUNK = 1 << 16
# largest JSON attribute (a video's metadata, a layer's provenance) written
MAX_ATTRIBUTE_BYTES = 1 << 20


def group_name(video_id: str) -> str:
    """The HDF5 group name of a video id (ids contain '/', group names cannot)."""
    return quote(video_id, safe="")


def require_regular(path: Path) -> None:
    """Refuse a store path that exists and is not a regular file (a FIFO would block the open)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise StoreError(f"{path}: not a regular file")


def member(group: h5py.Group, name: str) -> Any:
    """``group[name]``, or None when absent or unreachable (a dangling or looping link)."""
    try:
        return group[name]
    except (KeyError, RuntimeError, OSError, ValueError):
        return None


def open_member(parent: h5py.h5g.GroupID, path: str) -> Any:
    """The low-level id of the object at ``path`` under ``parent`` (a tenth of ``group[path]``'s
    cost), or None when absent or unreachable, as ``member``."""
    try:
        return h5py.h5o.open(parent, path.encode())
    except (KeyError, RuntimeError, OSError, ValueError):
        return None


def open_h5(path: Path) -> h5py.File:
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
        if not isinstance(member(f, "videos"), h5py.Group):
            raise StoreError(f"{path}: missing group /videos")
    except BaseException:
        f.close()
        raise
    return f


def new_file(path: Path) -> h5py.File:
    f = h5py.File(path, "w", libver=("v110", "latest"), locking=False)
    f.attrs["format"] = FORMAT
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    f.attrs["tool_version"] = __version__
    f.create_group("videos")
    return f


def fsync_path(path: Path) -> None:
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


def json_attr(value: Any, what: str) -> str:
    """A JSON attribute, refused over MAX_ATTRIBUTE_BYTES (a 50 MB contributor was stored as is)."""
    text = json.dumps(value, default=_json_default)
    if len(text) > MAX_ATTRIBUTE_BYTES:
        raise StoreError(f"{what} is {len(text):,} bytes of JSON (at most {MAX_ATTRIBUTE_BYTES:,})")
    return text


def write_layer(group: h5py.Group, data: LayerData) -> None:
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
    group.attrs["provenance"] = json_attr(provenance, f"{group.name}: provenance")
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


def read_array(group: h5py.Group, name: str) -> np.ndarray:
    """A whole dataset through h5py's low-level API: half the cost of ``group[name][()]``,
    which matters when statistics read thousands of small arrays."""
    return read_all(h5py.h5d.open(group.id, name.encode()))


def read_all(d: h5py.h5d.DatasetID) -> np.ndarray:
    """A whole dataset, by its low-level id."""
    out = np.empty(d.shape, dtype=d.dtype)
    if out.size:
        d.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
    return out


def deflate_chunk(d: h5py.h5d.DatasetID) -> int | None:
    """The chunk length of a 1-D byte dataset stored in deflate-compressed chunks and nothing else
    (as this package writes ``counts``), whose chunks ``read_range`` inflates itself; else None."""
    plist = d.get_create_plist()
    if plist.get_layout() != h5py.h5d.CHUNKED or d.dtype.itemsize != 1 or plist.get_nfilters() != 1:
        return None
    return int(plist.get_chunk()[0]) if plist.get_filter(0)[0] == h5py.h5z.FILTER_DEFLATE else None


def read_range(d: h5py.h5d.DatasetID, start: int, stop: int, *, chunk: int | None = None) -> np.ndarray:
    """Elements ``start:stop`` of a 1-D dataset. With ``chunk`` (``deflate_chunk``) the chunks are
    read raw and inflated here, a fifth of the cost of HDF5's filter pipeline on a chunk's first
    read (what a random single-frame read pays); a chunk that cannot be taken so is read by HDF5."""
    if stop <= start:
        return np.zeros(0, d.dtype)
    if chunk is not None:
        first = start // chunk
        try:
            parts = []
            for c in range(first, (stop - 1) // chunk + 1):
                skipped_filters, raw = d.read_direct_chunk((c * chunk,))
                if skipped_filters:
                    raise ValueError("chunk stored without its filter")
                parts.append(zlib.decompress(raw))
            data = np.frombuffer(b"".join(parts), d.dtype)
            return data[start - first * chunk : stop - first * chunk]
        except (KeyError, OSError, RuntimeError, ValueError, zlib.error):
            pass  # read it as HDF5 does, with HDF5's own error if the chunk is damaged
    out = np.empty(stop - start, dtype=d.dtype)
    space = d.get_space()
    space.select_hyperslab((start,), (out.size,))
    d.read(h5py.h5s.create_simple(out.shape), space, out)
    return out


def read_layer(
    group: h5py.Group, frames: np.ndarray, offsets: np.ndarray, coff: np.ndarray, counts: np.ndarray
) -> LayerData:
    """A layer from its group and its index and counts arrays (read and checked by the caller)."""
    h, w = int(group.attrs["height"]), int(group.attrs["width"])
    blob = counts.tobytes()
    ids = read_array(group, "object_ids").tolist()
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
        scores=read_array(group, "score"),
        quality=quality,
        provenance=json.loads(group.attrs["provenance"]),
        provenance_index=read_array(group, "provenance_index"),
        area=read_array(group, "area"),
        bbox=read_array(group, "bbox"),
    )


def write_video(videos: h5py.Group, video_id: str, metadata: dict[str, Any], layers: dict[str, LayerData]):
    name = group_name(video_id)
    if name in videos:
        del videos[name]
    g = videos.create_group(name)
    g.attrs["video_id"] = video_id
    g.attrs["metadata"] = json_attr(metadata, f"video {video_id}: metadata")
    sizes = {(d.height, d.width) for d in layers.values()}
    if len(sizes) > 1:
        raise StoreError(f"video {video_id}: layers disagree on the frame size {sorted(sizes)}")
    for layer, data in layers.items():
        write_layer(g.create_group(layer), data)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")
