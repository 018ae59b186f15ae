"""Combine shard stores (``pseudo-label --shard K/N``) into one store, all or nothing.

Shards normally hold disjoint videos. When a video and layer appear in more than one part, the
copies must hold the same frames and the same masks (provenance, scores and quality may differ:
the first part in argument order is kept); metadata of a video must be equal in every part that
has it. Anything else is a conflict, reported with the video, layer, parts and first differing
frame, and nothing is written: every check runs before OUT is opened, and the writes happen in one
store transaction so a crash leaves OUT as it was. A new OUT is built beside its path and moved
into place only when complete, so a killed merge leaves no OUT and can simply be run again.

OUT must not exist unless ``force`` is set; with ``force`` an existing OUT takes part in the merge
as the first part (its videos are kept, and the parts must agree with it), so shards can be added
to a store later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter
from hm_annotate.store import LAYERS, LayerData, MaskStore, new_store


class MergeError(HMError):
    """The parts cannot be merged (conflicting duplicates, OUT exists, a part given twice)."""


Source = tuple[str, MaskStore]  # (label for messages, open store)


def merge_stores(
    out: str | Path, parts: Sequence[str | Path], *, force: bool = False, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Merge ``parts`` into ``out``; returns counts of videos, written layers, frames and duplicates."""
    out = Path(out)
    reporter = reporter or Reporter()
    part_paths = _check_paths(out, parts, force)
    created = not out.exists()
    with contextlib.ExitStack() as stack:
        sources: list[Source] = []
        if not created:  # --force onto an existing store: it is the first part, read via its writer
            sources.append((f"{out} (existing)", stack.enter_context(MaskStore.open(out, "a"))))
        sources += [(str(p), stack.enter_context(MaskStore.open(p))) for p in part_paths]
        holders = _holders(sources)
        duplicates = _check_agreement(holders, reporter)
        # a new OUT is built beside its path and moved into place when complete (new_store)
        dst = sources[0][1] if not created else stack.enter_context(new_store(out))
        written = _write(dst, holders, reporter)
        return {
            "out": str(out),
            "parts": [str(p) for p in part_paths],
            "videos": len(dst.videos()),
            "videos_per_part": {label: len(st.videos()) for label, st in sources},
            "written": written,
            "identical_duplicates": duplicates,
        }


def _check_paths(out: Path, parts: Sequence[str | Path], force: bool) -> list[Path]:
    if not parts:
        raise MergeError("no part stores to merge")
    seen: dict[Path, Path] = {}
    for p in map(Path, parts):
        key = p.resolve()
        if key in seen:
            raise MergeError(f"{p}: part given twice")
        if key == out.resolve():
            raise MergeError(f"{p}: a part cannot also be the output")
        seen[key] = p
    if out.exists() and not force:
        raise MergeError(f"{out} exists; pass force=True to merge the parts into it")
    return list(seen.values())


def _holders(sources: list[Source]) -> dict[str, list[Source]]:
    """video id -> the sources that hold it, in argument order."""
    holders: dict[str, list[Source]] = {}
    for label, st in sources:
        for vid in st.videos():
            holders.setdefault(vid, []).append((label, st))
    return holders


def _check_agreement(holders: dict[str, list[Source]], reporter: Reporter) -> int:
    """Raise on any disagreement between copies of a video; return the number of identical
    duplicate (video, layer) copies."""
    duplicates = 0
    shared = {vid: srcs for vid, srcs in holders.items() if len(srcs) > 1}
    for vid, srcs in reporter.bar(shared.items(), desc="check", unit="video"):
        (first_label, first), *others = srcs
        meta = first.metadata(vid)
        for label, st in others:
            other = st.metadata(vid)
            if other != meta:
                keys = sorted(k for k in set(meta) | set(other) if meta.get(k) != other.get(k))
                raise MergeError(
                    f"video {vid}: metadata differs between {first_label} and {label} "
                    f"(keys: {', '.join(keys)})"
                )
        for layer in LAYERS:
            copies = [(label, st) for label, st in srcs if st.has(vid, layer)]
            if len(copies) < 2:
                continue
            ref_label, ref_store = copies[0]
            ref = ref_store.read(vid, layer)
            for label, st in copies[1:]:
                problem = first_difference(ref, st.read(vid, layer))
                if problem:
                    raise MergeError(
                        f"video {vid}: {layer!r} masks differ between {ref_label} and {label}: {problem}"
                    )
                duplicates += 1
    return duplicates


def first_difference(a: LayerData, b: LayerData) -> str | None:
    """Where two copies of a layer disagree on frames or masks, in words; None when they agree.

    RLE text is compared first; only frames whose text differs are decoded, since two encoders can
    write the same mask differently.
    """
    if (a.height, a.width) != (b.height, b.width):
        return f"frame size {a.height}x{a.width} vs {b.height}x{b.width}"
    if not np.array_equal(a.frames, b.frames):
        only = np.setxor1d(a.frames, b.frames)
        return f"different frames (frame {only[0]} is in one copy only)"
    for i, frame in enumerate(a.frames.tolist()):
        objs_a, objs_b = a.masks[i], b.masks[i]
        if len(objs_a) != len(objs_b):
            return f"frame {frame} has {len(objs_a)} vs {len(objs_b)} objects"
        if a.object_ids[i] != b.object_ids[i]:
            return f"frame {frame} has object ids {a.object_ids[i]} vs {b.object_ids[i]}"
        if [r["counts"] for r in objs_a] != [r["counts"] for r in objs_b] and not np.array_equal(
            rle.decode_batch(objs_a), rle.decode_batch(objs_b)
        ):
            return f"frame {frame} masks differ"
    return None


def _write(dst: MaskStore, holders: dict[str, list[Source]], reporter: Reporter) -> dict[str, int]:
    """Copy every video's layers from the first source holding them, in one transaction."""
    written = {layer: 0 for layer in LAYERS} | {"frames": 0}
    with dst.transaction():
        for vid in reporter.bar(sorted(holders), desc="merge", unit="video"):
            srcs = holders[vid]
            meta = srcs[0][1].metadata(vid)
            if srcs[0][1] is dst:  # already in OUT; parts agree with it, so only add missing layers
                meta = None
            for layer in LAYERS:
                st = next((st for _, st in srcs if st.has(vid, layer)), None)
                if st is None or st is dst:
                    continue
                data = st.read(vid, layer)
                dst.put(vid, layer, data, metadata=meta)
                meta = None
                written[layer] += 1
                written["frames"] += len(data)
            if meta is not None:  # a video with metadata and no masks yet
                dst.set_metadata(vid, meta)
    return written
