"""The structure checks every read and ``validate`` share: no array of a store is trusted before
its group, dtypes, shapes and index arrays are checked against ``schemas/mask-store.md``."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

import h5py
import numpy as np

from hm_annotate import rle
from hm_annotate.safe_paths import MAX_ID_LENGTH, UnsafePathError, check_video_id, relative_path_problem
from hm_annotate.store.codec import group_name, member, open_member

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


def video_problems(name: str, g: object) -> list[str]:
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


# a group name of unreserved characters and quoted '/' only: what ``group_name`` makes of an
# ordinary id, and what ``unquote`` and ``quote`` map to each other by replacing '%2F'
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+(?:%2F[A-Za-z0-9_.~-]+)*")


def id_of_name(name: str) -> str | None:
    """The video id a group name stands for, or None when the name is not the quoted form of a
    safe id (the group's ``video_problems`` then say why). Done for every video when a store
    opens, so the common plain name is read without ``unquote`` and ``quote``, a fifth of their
    cost: such a name has no empty component and no character a safe id refuses."""
    if _PLAIN_NAME.fullmatch(name):
        video_id = name.replace("%2F", "/")
        if len(video_id) > MAX_ID_LENGTH or ("." in name and {".", ".."} & set(video_id.split("/"))):
            return None
        return video_id
    video_id = unquote(name)
    return None if relative_path_problem(video_id) or group_name(video_id) != name else video_id


# what a single-frame read uses of a layer (the other datasets are checked by the reads using them)
FRAME_DATASETS = ("frames", "offsets", "counts_offsets", "counts")


def _dataset(g: h5py.Group, name: str) -> h5py.h5d.DatasetID | None:
    """A group's dataset by its low-level id (a tenth of ``group[name]``'s cost), or None when
    absent, unreachable or not a dataset."""
    d = open_member(g.id, name)
    return d if isinstance(d, h5py.h5d.DatasetID) else None


Datasets = dict[str, h5py.h5d.DatasetID]


def _int_attr(g: h5py.Group, name: str) -> int | None:
    """A scalar integer attribute, or None when absent or not one integer (an array, a bool, a
    float, a string). A plain integer is read through the low-level API, a third of
    ``g.attrs``' cost; any other type as ``g.attrs`` reads it."""
    try:
        a = h5py.h5a.open(g.id, name.encode())
    except (KeyError, RuntimeError, OSError, ValueError):
        return None
    t = a.get_type()
    if t.get_class() == h5py.h5t.INTEGER and a.shape == ():
        signed = t.get_sign() == h5py.h5t.SGN_2
        out = np.empty((), np.int64 if signed else np.uint64)
        a.read(out, mtype=h5py.h5t.NATIVE_INT64 if signed else h5py.h5t.NATIVE_UINT64)
        return int(out)
    value = g.attrs.get(name)
    return int(value) if isinstance(value, (int, np.integer)) else None


def _kind(d: h5py.h5d.DatasetID) -> tuple[str, int]:
    """The numpy kind and item size of a dataset's type: from the HDF5 type class for plain
    integers and floats (half the cost of building ``d.dtype``), else from ``d.dtype``."""
    t = d.get_type()
    cls = t.get_class()
    if cls == h5py.h5t.INTEGER:
        return ("i" if t.get_sign() == h5py.h5t.SGN_2 else "u"), t.get_size()
    if cls == h5py.h5t.FLOAT:
        return "f", t.get_size()
    return d.dtype.kind, d.dtype.itemsize


def _size_and_datasets(g: h5py.Group, keys) -> tuple[list[str], tuple[int, int], Datasets]:
    """A layer group's size attributes and the datasets ``keys``, checked for dtype and dims;
    with the size and the opened datasets."""
    out = []
    size = (_int_attr(g, "height"), _int_attr(g, "width"))
    for key, value in zip(("height", "width"), size):
        if value is None:
            out.append(f"attribute {key!r} is missing or not an integer")
    if not out:
        try:
            size = rle.check_size(list(size))
        except rle.RLEError as exc:
            out.append(str(exc))
    ds = {}
    for key in keys:
        kind, ndim = _LAYER_DATASETS[key]
        d = _dataset(g, key)
        if d is None:
            out.append(f"missing dataset {key!r}")
            continue
        found, item_size = _kind(d)
        if found != kind or d.rank != ndim or (key == "counts" and item_size != 1):
            out.append(f"dataset {key!r} has dtype {d.dtype} and {d.rank} dims")
        else:
            ds[key] = d
    return out, size, ds


def _offsets_rows(ds: Datasets) -> list[str]:
    n, rows = ds["frames"].shape[0], ds["offsets"].shape[0]
    return [] if rows == n + 1 else [f"dataset 'offsets' has {rows} rows for {n} frames (expected {n + 1})"]


def frame_index_problems(g: object) -> tuple[list[str], tuple[int, int], Datasets]:
    """What keeps a single-frame read of a layer group safe: its size and ``FRAME_DATASETS``
    (dtypes, dims, one offset per frame plus one); with the size and the opened datasets."""
    if not isinstance(g, h5py.Group):
        return ["not an HDF5 group"], (0, 0), {}
    out, size, ds = _size_and_datasets(g, FRAME_DATASETS)
    return out or _offsets_rows(ds), size, ds


def structure_problems(g: object) -> list[str]:
    """What keeps a layer group from being read safely, from its attributes and dataset shapes
    alone (no array is read): missing or mistyped datasets (a vlen or int64 ``counts`` would
    crash the decoder), a bad size, row counts that disagree."""
    if not isinstance(g, h5py.Group):
        return ["not an HDF5 group"]
    out, _, ds = _size_and_datasets(g, _LAYER_DATASETS)
    if out:
        return out
    out += _offsets_rows(ds)
    rows = {key: d.shape[0] for key, d in ds.items()}
    n, n_obj = rows["frames"], rows["object_ids"]
    if rows["counts_offsets"] != n_obj + 1:
        out.append(f"dataset 'counts_offsets' has {rows['counts_offsets']} rows for {n_obj} objects")
    for key in ("area", "score", "provenance_index"):
        if rows[key] != n:
            out.append(f"dataset {key!r} has {rows[key]} rows for {n} frames")
    if ds["bbox"].shape != (n, 4):
        out.append(f"dataset 'bbox' has shape {ds['bbox'].shape}, expected ({n}, 4)")
    quality = member(g, "quality") if "quality" in g else {}
    if not isinstance(quality, (h5py.Group, dict)):
        out.append("'quality' is not a group")
    else:
        for key in quality:
            d = member(quality, key)
            if not isinstance(d, h5py.Dataset) or d.shape != (n,) or d.dtype.kind not in "fiu":
                out.append(f"quality {key!r} is not a number per frame ({n},)")
    try:
        records = json.loads(g.attrs["provenance"])
        if not isinstance(records, list):
            out.append("attribute 'provenance' is not a JSON list")
    except (KeyError, TypeError, ValueError, RecursionError):
        out.append("attribute 'provenance' is missing or not JSON")
    return out


def index_problems(frames: np.ndarray, offsets: np.ndarray, coff: np.ndarray, n_bytes: int) -> list[str]:
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


def frame_of(offsets: np.ndarray, frames: np.ndarray, entry: int | None) -> str:
    """``frame N object K`` for an object entry of a layer (for error messages)."""
    if entry is None:
        return "a frame"
    i = int(np.searchsorted(offsets, entry, side="right") - 1)
    return f"frame {int(frames[i])} object {entry - int(offsets[i]) + 1}"
