"""Which athlete is which when masks come back from an annotation tool.

A file keeps object identity through the ``object_id`` attribute; a tool set up without it writes
the objects of a frame in no particular order, so two synchronised divers can swap. Objects without
an id are matched to the frame's current objects by mask IoU with the Hungarian method (as the
official DAVIS unsupervised evaluation pairs objects) and take their ids; objects the matching
leaves over take the lowest ids the frame does not use. Objects that do carry ids are checked the
same way: when the best matching pairs them differently from their ids, the frame looks swapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hm_annotate import rle
from hm_annotate.rle import RLE


def iou_matrix(a: Sequence[RLE], b: Sequence[RLE]) -> np.ndarray:
    """IoU of every mask of ``a`` with every mask of ``b`` (len(a) x len(b))."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    rows, cols = np.divmod(np.arange(len(a) * len(b)), len(b))
    return rle.pair_iou([a[i] for i in rows], [b[j] for j in cols]).reshape(len(a), len(b))


def best_pairs(score: np.ndarray) -> list[tuple[int, int]]:
    """Row-column pairs of greatest total score (Hungarian method); pairs scoring 0 are no match."""
    from scipy.optimize import linear_sum_assignment

    if score.size == 0:
        return []
    rows, cols = linear_sum_assignment(score, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if score[r, c] > 0]


@dataclass
class FrameIds:
    """The ids given to a frame's imported objects and what the matching found."""

    ids: list[int]
    matched: bool  # some objects had no id and were matched by IoU
    swapped: bool  # the objects' own ids disagree with the best IoU matching


def assign_ids(
    masks: Sequence[RLE], given: Sequence[int | None], current: Sequence[RLE], current_ids: Sequence[int]
) -> FrameIds:
    """Ids for one frame's imported objects against the frame's current objects (maybe none).

    Objects with ids keep them; the others take the ids of the current objects they best overlap
    (among those no given id claims), then the lowest ids still unused in the frame.
    """
    if list(given) == list(current_ids) and [m["counts"] for m in masks] == [m["counts"] for m in current]:
        return FrameIds(list(current_ids), False, False)  # the frame comes back as it went out
    ids: list[int | None] = list(given)
    iou = iou_matrix(masks, current)
    known = [i for i, g in enumerate(given) if g is not None]
    swapped = False
    if known and len(current):
        col = {oid: j for j, oid in enumerate(current_ids)}
        as_given = sum(iou[i, col[given[i]]] for i in known if given[i] in col)
        swapped = sum(iou[known][r, c] for r, c in best_pairs(iou[known])) > as_given + 1e-9
    claimed = {given[i] for i in known}
    rows = [i for i, g in enumerate(given) if g is None]
    cols = [j for j, oid in enumerate(current_ids) if oid not in claimed]
    if rows and cols:
        for r, c in best_pairs(iou[np.ix_(rows, cols)]):
            ids[rows[r]] = int(current_ids[cols[c]])
    used = {i for i in ids if i is not None}
    spare = (k for k in range(1, 2**15) if k not in used)
    return FrameIds([i if i is not None else next(spare) for i in ids], bool(rows), swapped)
