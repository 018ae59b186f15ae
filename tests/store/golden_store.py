"""The golden store: one fixed content, written once by an older release and kept in
tests/store/golden/, so later code must read it the same and write the same bytes.

Regenerate only on purpose (a schema change), with the code whose output is to be pinned:
``python -m tests.store.golden_store tests/store/golden``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hm_annotate.store import MaskStore
from tests.mask_stores import ellipses, layer, write_store

STORE, READS = "v1_store.h5", "v1_reads.json"
# what differs on every write: provenance times, the file's creation/update stamps, the writer
VOLATILE = {"time", "created", "updated", "tool_version", "host", "user"}


def build(path: Path) -> Path:
    """Two videos: two athletes with an athlete-free frame, both layers, scores, quality, metadata."""
    a, b = ellipses(6, cx0=15), ellipses(6, cx0=50, dx=-1.5)
    b[2] = 0  # athlete 2 hidden on one frame
    empty = np.zeros_like(a)
    quality = {"runaway": np.array([0, 0, 1, 0, 0, 0], np.uint8)}
    fixed = layer(range(40, 46), np.concatenate([a[:3], empty[3:4], a[4:]]), b, quality=quality)
    return write_store(path, {
        "ev/1": {"meta": {"action_type": "107b", "athletes": 2, "split": "train"},
                 "pseudo": layer(range(40, 46), a, b, scores=np.linspace(0.5, 1.0, 6)),
                 "corrected": fixed},
        "ev%2": {"meta": {"action_type": "207c", "score": 71.5},
                 "pseudo": layer([7, 9, 10], ellipses(3, rx=4.0, ry=7.0))},
    })


def _clean(obj: Any) -> Any:
    """JSON-able, with volatile provenance fields dropped."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def reads(path: Path) -> dict:
    """Everything a reader returns for the store, through the public API."""
    out: dict[str, Any] = {}
    with MaskStore.open(path) as st:
        for vid in st.videos():
            entry: dict[str, Any] = {"metadata": st.metadata(vid), "layers": {}}
            for name in [*st.layers(vid), "curated"]:
                d = st.read(vid, name)
                entry["layers"][name] = {
                    "frames": d.frames, "masks": d.masks, "object_ids": d.object_ids,
                    "size": [d.height, d.width],
                    "scores": np.round(d.scores, 6), "area": d.area, "bbox": d.bbox,
                    "quality": dict(sorted(d.quality.items())), "provenance": d.provenance,
                    "provenance_index": d.provenance_index,
                    "frame": [st.frame(vid, name, int(f)) for f in d.frames],
                }
            out[vid] = entry
    return _clean(out)


def _bytes_or_values(data: Any) -> Any:
    """Numeric arrays as their exact bytes (NaN scores compare equal so), text as text."""
    if isinstance(data, bytes):
        return data.decode()
    arr = np.asarray(data)
    return arr.tobytes().hex() if arr.dtype.kind in "biuf" else _clean(arr)


def layout(path: Path) -> dict:
    """Every object of the HDF5 file: dataset bytes, dtype, shape, chunks and filters, attributes."""
    out: dict[str, Any] = {}

    def attrs(obj: h5py.HLObject) -> dict:
        got = {}
        for k, v in obj.attrs.items():
            if k in VOLATILE:
                continue
            v = v.decode() if isinstance(v, bytes) else v
            if isinstance(v, str) and v[:1] in "[{":
                v = json.loads(v)
            got[k] = _clean(v)
        return got

    def visit(name: str, obj: h5py.HLObject) -> None:
        entry: dict[str, Any] = {"attrs": attrs(obj)}
        if isinstance(obj, h5py.Dataset):
            data = obj[()]
            entry.update(dtype=str(obj.dtype), shape=list(obj.shape), chunks=obj.chunks,
                         compression=obj.compression, shuffle=obj.shuffle,
                         data=_bytes_or_values(data))
        out[name] = entry

    with h5py.File(path, "r") as f:
        out["/"] = {"attrs": attrs(f)}
        f.visititems(visit)
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    build(folder / STORE)
    (folder / READS).write_text(json.dumps(reads(folder / STORE), indent=1, sort_keys=True) + "\n")
