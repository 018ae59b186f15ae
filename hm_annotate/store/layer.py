"""One layer of one video in memory (``LayerData``), the layer names, and what is computed from
layers without touching a file: the curated overlay, per-frame unions, layer-name checks."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.rle import RLE

LAYERS = ("pseudo", "corrected")
VIEWS = (*LAYERS, "curated")


class StoreError(HMError):
    """A store that cannot be read or written as asked (not ours, newer, damaged, misused)."""


class StoreLockedError(StoreError):
    """Another process is writing the store."""


@functools.lru_cache(maxsize=8)
def empty_counts(height: int, width: int) -> str | None:
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
        blank = empty_counts(self.height, self.width)
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


def curated_view(stored: dict[str, LayerData], layer: str) -> LayerData | None:
    """``layer`` of a video from its stored layers: ``curated`` is corrected over pseudo."""
    if layer != "curated":
        return stored.get(layer)
    if len(stored) == 2:
        return overlay(stored["pseudo"], stored["corrected"])
    return next(iter(stored.values()), None)


def unions(data: LayerData) -> list[RLE]:
    """Every frame's foreground; single-object frames (most) need no merge."""
    size = (data.height, data.width)
    return [objs[0] if len(objs) == 1 else rle.union(objs, size) for objs in data.masks]


def check_layer(layer: str) -> None:
    """Reject a layer name the store does not know, before any work."""
    if layer not in VIEWS:
        raise StoreError(f"unknown layer {layer!r}; known: {', '.join(VIEWS)}")
