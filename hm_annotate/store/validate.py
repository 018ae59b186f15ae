"""``validate``: every finding in a store (main file and journal) against ``schemas/mask-store.md``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import h5py
import numpy as np

from hm_annotate import rle
from hm_annotate.store.checks import index_problems, structure_problems, video_problems
from hm_annotate.store.codec import member, open_h5, read_array
from hm_annotate.store.journal import journal_parts
from hm_annotate.store.layer import LAYERS, StoreError


def validate(path: str | os.PathLike) -> list[str]:
    """Check a store (main file and journal) against ``schemas/mask-store.md``.

    Returns one line per finding, naming the file, video, layer and frame; empty when valid.
    """
    from hm_annotate.schema import attribute_validator

    path = Path(path)
    journal = path.with_name(path.name + ".journal")
    files = [path] + journal_parts(journal)
    check_attrs = attribute_validator()
    findings: list[str] = []
    for src in files:
        try:
            f = open_h5(src)
        except StoreError as exc:
            findings.append(str(exc))
            continue
        with f:
            findings += [f"{src}: {m}" for m in check_attrs("root", dict(f.attrs))]
            for name in f["videos"]:
                g = member(f["videos"], name)
                findings += [f"{src}: {m}" for m in _validate_video(name, g, check_attrs)]
    return findings


def _validate_video(name: str, g: object, check_attrs) -> list[str]:
    problems = video_problems(name, g)
    if problems and not isinstance(g, h5py.Group):
        return problems
    vid = g.attrs.get("video_id", unquote(name))
    out = problems + [f"video {vid}: {m}" for m in check_attrs("video", dict(g.attrs))]
    for layer in g:
        where = f"video {vid} layer {layer}"
        if layer not in LAYERS:
            out.append(f"{where}: unknown layer (expected one of {', '.join(LAYERS)})")
            continue
        out += [f"{where}: {m}" for m in _validate_layer(member(g, layer), check_attrs)]
    return out


def _validate_layer(g: object, check_attrs) -> list[str]:
    out = structure_problems(g)
    if out:
        return out
    out = list(check_attrs("layer", dict(g.attrs)))
    if out:
        return out
    h, w = int(g.attrs["height"]), int(g.attrs["width"])
    frames, offsets, coff = read_array(g, "frames"), read_array(g, "offsets"), read_array(g, "counts_offsets")
    out += index_problems(frames, offsets, coff, len(g["counts"]))
    n_prov = len(json.loads(g.attrs["provenance"]))
    pidx = read_array(g, "provenance_index")
    if len(pidx) and (pidx.min() < 0 or pidx.max() >= n_prov):
        out.append("provenance_index points outside the provenance records")
    if out:
        return out
    blob = read_array(g, "counts").tobytes()
    area, bbox = read_array(g, "area"), read_array(g, "bbox")
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
