"""COCO run-length encoding helpers over pycocotools.

Every mask in hm-annotate travels as a COCO RLE dict ``{"size": [h, w], "counts": str}``
(compressed counts, text, as COCO JSON carries them). pycocotools' C code trusts its input,
so every counts string that did not come from ``encode`` goes through ``check`` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from pycocotools import mask as _coco

from hm_annotate.errors import HMError

# pycocotools' area()/toBbox() overflow on batches of more than 255 RLEs with numpy 2
_BATCH = 255


class RLE(TypedDict):
    """A COCO compressed RLE with text counts."""

    size: list[int]
    counts: str


class RLEError(HMError, ValueError):
    """An RLE that pycocotools would misread or crash on; ``entry`` is the position of the bad
    RLE among RLEs checked together (None for one RLE)."""

    def __init__(self, message: str, entry: int | None = None) -> None:
        super().__init__(message)
        self.entry = entry


def encode(mask: np.ndarray) -> RLE:
    """Encode one binary mask (H x W, any dtype; nonzero = foreground)."""
    if mask.ndim != 2:
        raise RLEError(f"expected a 2-D mask, got shape {mask.shape}")
    arr = np.asfortranarray(mask != 0, dtype=np.uint8)
    rle = _coco.encode(arr)
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def encode_batch(masks: np.ndarray) -> list[RLE]:
    """Encode N x H x W masks in one pycocotools call (much faster than a loop)."""
    if masks.ndim != 3:
        raise RLEError(f"expected N x H x W masks, got shape {masks.shape}")
    if masks.shape[0] == 0:
        return []
    arr = np.asfortranarray(np.moveaxis(masks != 0, 0, -1), dtype=np.uint8)
    return [
        {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}
        for r in _coco.encode(arr)
    ]


def _as_coco(rle: RLE) -> dict:
    return {"size": list(rle["size"]), "counts": rle["counts"].encode("ascii")}


def decode(rle: RLE) -> np.ndarray:
    """Decode one RLE to an H x W uint8 mask of 0/1 (Fortran-ordered, as pycocotools gives it).

    The runs are checked (``_runs``) and expanded by one ``np.repeat``: half the time of
    pycocotools' decode, whose numpy glue costs more than its C; a malformed string raises."""
    h, w = check_size(rle["size"])
    runs = _runs(np.frombuffer(rle["counts"].encode("ascii"), np.uint8), (h, w))
    return np.repeat((np.arange(len(runs)) & 1).astype(np.uint8), runs).reshape(w, h).T


def decode_batch(rles: Sequence[RLE]) -> np.ndarray:
    """Decode RLEs of one size to an N x H x W uint8 array."""
    if not rles:
        raise RLEError("decode_batch needs at least one RLE (the size is unknown otherwise)")
    return np.ascontiguousarray(np.moveaxis(_coco.decode([_as_coco(r) for r in rles]), -1, 0))


# pycocotools keeps run lengths in 32-bit unsigned ints: a mask of more pixels cannot be encoded
MAX_PIXELS = 2**31 - 1
# counts bytes parsed in one go: with runs bounded by MAX_PIXELS, every running sum of up to this
# many numbers stays far inside int64 (2**31 * 2**31 = 2**62)
_MAX_COUNTS_BYTES = 2**31
# characters of one variable-length number: 12 x 5 bits = 60 bits, so a parsed number fits int64
_MAX_NUMBER_CHARS = 12


def check_size(size: object) -> tuple[int, int]:
    """``(h, w)`` of an RLE size, refused unless two non-negative integers of at most MAX_PIXELS."""
    if (
        not isinstance(size, (list, tuple, np.ndarray))
        or len(size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
        or min(int(v) for v in size) < 0
    ):
        raise RLEError(f"RLE size must be [height, width] of non-negative integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h * w > MAX_PIXELS:
        raise RLEError(f"RLE size {h}x{w} has more than {MAX_PIXELS} pixels")
    return h, w


def _numbers(c: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse maskApi.c's variable-length numbers (5 bits a character, 0x20 = more follows,
    0x10 in the last character = negative) from character codes minus 48, given the index of
    each number's last character (the caller has them from its checks); returns the values and
    the index of each number's first character. Numbers must be at most 12 characters."""
    starts = np.empty_like(ends)
    if len(ends):
        starts[0], starts[1:] = 0, ends[:-1] + 1
    nchars = ends - starts + 1
    k = np.arange(len(c)) - np.repeat(starts, nchars)
    vals = np.add.reduceat((c & 0x1F) << (5 * k), starts) if len(ends) else np.zeros(0, np.int64)
    neg = (c[ends] & 0x10) != 0
    vals[neg] -= np.left_shift(1, 5 * nchars[neg])
    return vals, starts


def _packed_runs(
    counts: np.ndarray, offsets: np.ndarray, size: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Run lengths of RLEs stored back to back, each proven to cover exactly H*W pixels.

    Returns the runs and the position j of each run within its mask.
    Every step is bounded before the next: characters in range, every string ends on a whole
    number of at most 12 characters (so values fit 60 bits), every delta within +-H*W (so the
    running sums fit int64), then every run non-negative and each mask's runs summing to H*W.
    Raises RLEError naming the entry (position in ``offsets``) at fault.
    """
    h, w = check_size(size)
    hw = h * w
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or len(offsets) < 1:
        raise RLEError("RLE offsets must be a 1-D integer array")
    offsets = offsets.astype(np.int64)
    n = len(offsets) - 1
    if offsets[0] < 0 or offsets[-1] > len(counts) or np.any(np.diff(offsets) < 0):
        raise RLEError(f"RLE offsets do not index the {len(counts)} counts bytes")
    if offsets[-1] - offsets[0] > _MAX_COUNTS_BYTES:
        raise RLEError(f"more than {_MAX_COUNTS_BYTES} bytes of RLE counts at once")
    c = np.asarray(counts)[offsets[0] : offsets[-1]].astype(np.int64) - 48
    local = offsets - offsets[0]

    def entry_of(index: int) -> int:
        return int(np.searchsorted(local, index, side="right") - 1)

    bad = np.flatnonzero((c < 0) | (c > 63))
    if len(bad):
        e = entry_of(bad[0])
        raise RLEError(
            f"counts string has an invalid character {chr(int(c[bad[0]]) + 48)!r} "
            f"at offset {int(bad[0] - local[e])}",
            e,
        )
    ends = local[1:][np.diff(local) > 0] - 1
    open_end = ends[(c[ends] & 0x20) != 0]
    if len(open_end):
        raise RLEError("counts string ends in the middle of a number", entry_of(open_end[0]))
    last = np.flatnonzero((c & 0x20) == 0)
    long_number = np.flatnonzero(np.diff(np.r_[-1, last]) > _MAX_NUMBER_CHARS)
    if len(long_number):
        raise RLEError("counts string has a number too long to be a run", entry_of(last[long_number[0]]))
    vals, starts = _numbers(c, last)
    big = np.flatnonzero(np.abs(vals) > hw)
    if len(big):
        raise RLEError(f"a run length is larger than {h}x{w} pixels", entry_of(starts[big[0]]))
    mask_of = np.searchsorted(local, starts, side="right") - 1
    j = np.arange(len(vals)) - np.searchsorted(mask_of, np.arange(n))[mask_of]
    runs = vals.copy()
    # runs[j] = vals[j] + runs[j-2] for j > 2: two running sums (odd j from 1, even j from 2) per mask
    for parity, first in ((1, 1), (0, 2)):
        sel = np.flatnonzero(((j & 1) == parity) & (j >= first))
        if len(sel):
            d = vals[sel]
            total = np.cumsum(d)
            seg = np.flatnonzero(np.r_[True, mask_of[sel][1:] != mask_of[sel][:-1]])
            runs[sel] = total - np.repeat(total[seg] - d[seg], np.diff(np.r_[seg, len(sel)]))
    negative = np.flatnonzero((runs < 0) | (runs > hw))
    if len(negative):
        raise RLEError(
            f"counts decode to a run length of {int(runs[negative[0]])} pixels (0..{hw} possible)",
            int(mask_of[negative[0]]),
        )
    cum = np.r_[0, np.cumsum(runs)]
    first_run = np.searchsorted(mask_of, np.arange(n + 1))
    covered = cum[first_run[1:]] - cum[first_run[:-1]]
    wrong = np.flatnonzero(covered != hw)
    if len(wrong):
        raise RLEError(f"runs cover {int(covered[wrong[0]])} pixels, expected {h}*{w}={hw}", int(wrong[0]))
    return runs, j


# entries at most that check_packed proves one by one (``_short_runs``), not as one batch
_FEW = 8


def _short_runs(c: np.ndarray, hw: int) -> np.ndarray | None:
    """The runs of one counts string when they are proven exactly as ``_packed_runs`` proves
    them, in a third of its time (no bookkeeping of which mask a number belongs to); None when
    any step fails, and ``_packed_runs`` then names what is wrong. What one random-frame read
    of the store checks."""
    c = c.astype(np.int64) - 48
    if not len(c) or c.min() < 0 or c.max() > 63 or c[-1] >= 0x20:
        return None
    last = np.flatnonzero(c < 0x20)  # the last character of each number
    nchars = np.diff(last, prepend=-1)
    if nchars.max() > _MAX_NUMBER_CHARS:
        return None
    vals, _ = _numbers(c, last)
    if np.abs(vals).max() > hw:
        return None
    runs = vals.copy()  # runs[j] = vals[j] + runs[j-2] for j > 2
    runs[1::2], runs[2::2] = np.cumsum(vals[1::2]), np.cumsum(vals[2::2])
    if runs.min() < 0 or runs.max() > hw or runs.sum() != hw:
        return None
    return runs


def _runs(c: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The checked runs of one counts string (uint8 character codes); RLEError if malformed."""
    runs = _short_runs(c, size[0] * size[1])
    return runs if runs is not None else _packed_runs(c, np.array([0, len(c)]), size)[0]


def check_packed(counts: np.ndarray, offsets: np.ndarray, size: Sequence[int]) -> None:
    """Prove that RLEs stored back to back (as in the store) are safe to decode; RLEError if not.

    A few entries (one frame's objects) are proven one by one, which is faster than the batch."""
    h, w = check_size(size)
    few = np.asarray(offsets)
    if (
        few.ndim == 1
        and few.dtype.kind in "iu"
        and 1 < len(few) <= _FEW + 1
        and 0 <= few[0]
        and few[-1] <= len(counts)
        and few[-1] - few[0] <= _MAX_COUNTS_BYTES
    ):
        c = np.asarray(counts)
        if all(_short_runs(c[a:b], h * w) is not None for a, b in zip(few[:-1], few[1:])):
            return
    _packed_runs(counts, offsets, size)


def decode_packed(counts: np.ndarray, offsets: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Decode many RLEs stored back to back (as the mask store keeps them) to N x H x W uint8.

    ``counts`` is the uint8 array of the concatenated compressed counts strings and
    ``offsets`` (N + 1) their byte boundaries. The parsing of maskApi.c's variable-length
    numbers, the delta coding of runs and the run expansion are all vectorised over the whole
    batch, which is several times faster than pycocotools' per-mask decode plus a transpose.
    The runs are checked (``_packed_runs``) before any array is sized from them.
    """
    import cv2

    h, w = check_size(size)
    n = len(offsets) - 1
    if n <= 0:
        return np.zeros((0, h, w), np.uint8)
    runs, j = _packed_runs(counts, offsets, (h, w))
    flat = np.repeat((j & 1).astype(np.uint8), runs)
    columns = flat.reshape(n, w, h)
    return np.stack([cv2.transpose(m) for m in columns])


def area(rles: Sequence[RLE]) -> np.ndarray:
    """Foreground pixel counts (int64), computed from the runs without decoding."""
    out = [_coco.area([_as_coco(r) for r in rles[i : i + _BATCH]]) for i in range(0, len(rles), _BATCH)]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)


def bbox(rles: Sequence[RLE]) -> np.ndarray:
    """Boxes as N x 4 float64 ``[x, y, w, h]`` (COCO order), zeros for empty masks."""
    out = [_coco.toBbox([_as_coco(r) for r in rles[i : i + _BATCH]]) for i in range(0, len(rles), _BATCH)]
    return np.concatenate(out).astype(np.float64).reshape(-1, 4) if out else np.zeros((0, 4))


def union(rles: Sequence[RLE], size: Sequence[int] | None = None) -> RLE:
    """Union of several objects' RLEs (the human-centric foreground of a frame).

    An empty list gives an empty mask of ``size``.
    """
    if not rles:
        if size is None:
            raise RLEError("union of no RLEs needs a size")
        return empty(size)
    if len(rles) == 1:
        return {"size": list(rles[0]["size"]), "counts": rles[0]["counts"]}
    merged = _coco.merge([_as_coco(r) for r in rles], intersect=False)
    h, w = int(merged["size"][0]), int(merged["size"][1])
    return {"size": [h, w], "counts": merged["counts"].decode("ascii")}


def empty(size: Sequence[int]) -> RLE:
    """An all-background RLE of the given (h, w)."""
    h, w = int(size[0]), int(size[1])
    return encode(np.zeros((h, w), np.uint8))


def iou(a: RLE, b: RLE) -> float:
    """Intersection over union of two masks; two empty masks count as a perfect match (1.0)."""
    if list(a["size"]) != list(b["size"]):
        raise RLEError(f"IoU of masks of different sizes {a['size']} and {b['size']}")
    ca, cb = _as_coco(a), _as_coco(b)
    if _coco.area([ca])[0] == 0 and _coco.area([cb])[0] == 0:
        return 1.0
    return float(_coco.iou([ca], [cb], [0])[0, 0])


def _as_coco_list(rles: Sequence[RLE]) -> list[dict]:
    return [_as_coco(r) for r in rles]


def _iou_from(
    ca: list[dict], cb: list[dict], same: np.ndarray, area_a: np.ndarray, area_b: np.ndarray
) -> np.ndarray:
    """IoUs of pycocotools RLE pairs: one intersection per pair, areas given."""
    n = len(ca)
    todo = np.flatnonzero(~same & (area_a > 0) & (area_b > 0))
    inter = np.zeros(n, np.int64)
    for start in range(0, todo.size, _BATCH):
        chunk = todo[start : start + _BATCH]
        merged = [_coco.merge([ca[i], cb[i]], intersect=True) for i in chunk]
        inter[chunk] = _coco.area(merged)
    union = area_a + area_b - inter
    out = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    out[same] = 1.0
    return out


def pair_iou(
    a: Sequence[RLE], b: Sequence[RLE], *, area_a: np.ndarray | None = None, area_b: np.ndarray | None = None
) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]`` for every i; two empty masks count as a perfect match (1.0).

    Pass the masks' areas when known (the store has them) to skip recomputing them. Identical
    counts strings short-cut to 1.0 without touching pycocotools.
    """
    n = len(a)
    if len(b) != n:
        raise ValueError(f"pair_iou needs equal lengths, got {n} and {len(b)}")
    if n == 0:
        return np.zeros(0, np.float64)
    area_a = area(a) if area_a is None else np.asarray(area_a, np.int64)
    area_b = area(b) if area_b is None else np.asarray(area_b, np.int64)
    same = np.fromiter((x["counts"] == y["counts"] for x, y in zip(a, b)), bool, n)
    return _iou_from(_as_coco_list(a), _as_coco_list(b), same, area_a, area_b)


def consecutive_iou(unions: Sequence[RLE], areas: np.ndarray | None = None) -> np.ndarray:
    """IoU of each frame's mask with the previous frame's (length F - 1), areas reused when given."""
    if len(unions) < 2:
        return np.zeros(0, np.float64)
    areas = area(unions) if areas is None else np.asarray(areas, np.int64)
    coco = _as_coco_list(unions)
    pairs = zip(unions[:-1], unions[1:])
    same = np.fromiter((x["counts"] == y["counts"] for x, y in pairs), bool, len(coco) - 1)
    return _iou_from(coco[:-1], coco[1:], same, areas[:-1], areas[1:])


def resize(rle: RLE, size: Sequence[int]) -> RLE:
    """Resize a mask to (h, w) with nearest-neighbour sampling, for consumers at another resolution."""
    import cv2

    h, w = int(size[0]), int(size[1])
    m = decode(rle)
    if m.shape == (h, w):
        return {"size": [h, w], "counts": rle["counts"]}
    return encode(cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST))


def check(rle: object) -> RLE:
    """Validate an RLE from outside (a file, a store) before pycocotools sees it.

    Returns it normalised (list size, str counts); raises RLEError saying what is wrong.
    Accepts compressed counts (str or bytes) and uncompressed counts (list of ints). The run
    lengths are proven to cover exactly H*W pixels with bounded arithmetic (``_packed_runs``).
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise RLEError("RLE must be a mapping with 'size' and 'counts'")
    h, w = check_size(rle["size"])
    counts = rle["counts"]
    if isinstance(counts, (list, tuple)):
        if len(counts) > h * w + 1 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= h * w for v in counts
        ):
            raise RLEError(f"uncompressed RLE counts must be at most {h * w + 1} integers in 0..{h}*{w}")
        total = sum(int(v) for v in counts)
        if total != h * w:
            raise RLEError(f"uncompressed RLE counts sum to {total}, expected {h}*{w}={h * w}")
        fr = _coco.frPyObjects({"size": [h, w], "counts": [int(v) for v in counts]}, h, w)
        return {"size": [h, w], "counts": fr["counts"].decode("ascii")}
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError as exc:
            raise RLEError("RLE counts are not ASCII") from exc
    if not isinstance(counts, str):
        raise RLEError(f"RLE counts must be a string or a list of integers, got {type(counts).__name__}")
    try:
        raw = np.frombuffer(counts.encode("ascii"), np.uint8)
    except UnicodeEncodeError:
        raise RLEError("counts string has a non-ASCII character") from None
    _runs(raw, (h, w))
    return {"size": [h, w], "counts": counts}
