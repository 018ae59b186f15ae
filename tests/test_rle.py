import re

import numpy as np
import pytest

from hm_annotate import rle
from tests.masks import ellipse_masks


def test_encode_decode_round_trip_and_text_counts():
    masks = ellipse_masks(5)
    rles = rle.encode_batch(masks)
    assert all(isinstance(r["counts"], str) for r in rles)
    assert rles[0] == rle.encode(masks[0])
    np.testing.assert_array_equal(rle.decode_batch(rles), masks)
    np.testing.assert_array_equal(rle.decode(rles[3]), masks[3])


def test_area_and_bbox_without_decoding_match_pixels_for_more_than_255_masks():
    masks = ellipse_masks(300, 20, 30)
    masks[7] = 0
    rles = rle.encode_batch(masks)
    np.testing.assert_array_equal(rle.area(rles), masks.reshape(300, -1).sum(1))
    boxes = rle.bbox(rles)
    ys, xs = np.nonzero(masks[10])
    assert boxes[10].tolist() == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert boxes[7].tolist() == [0, 0, 0, 0]


def test_union_and_iou():
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    a[0:4, 0:4] = 1
    b[2:6, 2:6] = 1
    u = rle.union([rle.encode(a), rle.encode(b)])
    np.testing.assert_array_equal(rle.decode(u), a | b)
    assert rle.iou(rle.encode(a), rle.encode(b)) == pytest.approx(4 / 28)
    assert rle.iou(rle.empty((10, 10)), rle.empty((10, 10))) == 1.0
    assert rle.union([], (3, 4)) == rle.empty((3, 4))
    with pytest.raises(rle.RLEError):
        rle.iou(rle.empty((3, 3)), rle.empty((3, 4)))


def test_resize_nearest():
    m = np.zeros((8, 8), np.uint8)
    m[0:4, 0:4] = 1
    r = rle.resize(rle.encode(m), (16, 16))
    assert r["size"] == [16, 16]
    assert rle.area([r])[0] == 64


def test_check_accepts_valid_and_uncompressed():
    m = ellipse_masks(1)[0]
    good = rle.encode(m)
    assert rle.check(good) == good
    assert rle.check({"size": good["size"], "counts": good["counts"].encode()}) == good
    flat = m.flatten(order="F")
    runs, prev, n = [], 0, 0
    for v in flat:
        if v != prev:
            runs.append(n)
            n, prev = 0, v
        n += 1
    runs.append(n)
    assert rle.check({"size": list(m.shape), "counts": runs}) == good


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"size": [4, 4], "counts": "zz"}, "invalid character"),
        ({"size": [4, 4], "counts": "1"}, "cover"),
        ({"size": [4, 4], "counts": "0"}, "cover"),
        ({"size": [4, 4], "counts": "P"}, "ends in the middle"),
        ({"size": [4], "counts": "0"}, "size"),
        ({"size": [4, -1], "counts": "0"}, "size"),
        ({"size": [2, 2], "counts": [1, 2]}, "sum to"),
        ({"size": [2, 2], "counts": 5}, "string or a list"),
        ({"counts": "0"}, "mapping"),
        ({"size": [2, 2], "counts": "\x00"}, "invalid character"),
    ],
)
def test_check_rejects_malformed_without_crashing(bad, message):
    with pytest.raises(rle.RLEError, match=message):
        rle.check(bad)


def test_decode_packed_matches_pycocotools_on_varied_masks():
    rng = np.random.default_rng(3)
    masks = np.concatenate(
        [
            ellipse_masks(4, 37, 53),
            (rng.random((3, 37, 53)) > 0.5).astype(np.uint8),  # many short runs, negative deltas
            np.zeros((1, 37, 53), np.uint8),
            np.ones((1, 37, 53), np.uint8),
        ]
    )
    masks[5, 0, 0] = 1  # a mask starting with foreground (first run of length 0)
    rles = rle.encode_batch(masks)
    blob = np.frombuffer("".join(r["counts"] for r in rles).encode(), np.uint8)
    offsets = np.cumsum([0] + [len(r["counts"]) for r in rles])
    np.testing.assert_array_equal(rle.decode_packed(blob, offsets, (37, 53)), masks)
    np.testing.assert_array_equal(rle.decode_packed(blob, offsets[3:6], (37, 53)), masks[3:5])
    assert rle.decode_packed(blob, offsets[:1], (37, 53)).shape == (0, 37, 53)


def test_pair_iou_matches_pycocotools_iou_and_handles_empties():
    a = rle.encode_batch(ellipse_masks(6, seed=1))
    b = rle.encode_batch(np.roll(ellipse_masks(6, seed=2), 5, axis=2))
    empty = rle.empty((48, 64))
    a += [empty, empty, a[0]]
    b += [empty, b[0], a[0]]
    got = rle.pair_iou(a, b)
    assert got == pytest.approx([rle.iou(x, y) for x, y in zip(a, b)])
    assert got[-3:].tolist() == [1.0, 0.0, 1.0]
    unions = rle.encode_batch(ellipse_masks(5))
    want = [rle.iou(x, y) for x, y in zip(unions[:-1], unions[1:])]
    assert rle.consecutive_iou(unions) == pytest.approx(want)
    assert rle.consecutive_iou(unions, rle.area(unions)) == pytest.approx(want)


def test_decode_and_few_entry_checks_agree_with_pycocotools_and_the_batch_check():
    from pycocotools import mask as coco

    from tests.hostile import OVERFLOW_COUNTS

    rng = np.random.default_rng(5)
    masks = np.concatenate(
        [
            ellipse_masks(3, 37, 53),
            (rng.random((2, 37, 53)) > 0.5).astype(np.uint8),
            np.ones((1, 37, 53), np.uint8),
        ]
    )
    masks[3, 0, 0] = 1
    for r in rle.encode_batch(masks):
        out = rle.decode(r)
        reference = coco.decode({"size": r["size"], "counts": r["counts"].encode()})
        assert out.dtype == np.uint8 and out.flags.f_contiguous
        np.testing.assert_array_equal(out, reference)
    assert rle.decode(rle.empty((0, 5))).shape == (0, 5)
    # random and hostile strings: accepted (with the same runs) or refused (with the same message)
    # alike by the one-entry check and the batch check
    good = [r["counts"] for r in rle.encode_batch(masks)]
    strings = [OVERFLOW_COUNTS, "", "P", "0", "1", "zz", "o" * 13 + "0", *good]
    lengths = rng.integers(1, 9, 400)
    strings += ["".join(chr(48 + int(v)) for v in rng.integers(0, 64, int(n))) for n in lengths]
    strings += [g[: int(k)] + g[int(k) + 1 :] for g in good for k in rng.integers(0, len(g), 20)]
    accepted = 0
    for text in strings:
        c = np.frombuffer(text.encode(), np.uint8)
        for size in ((37, 53), (1, 3)):
            try:
                expected = rle._packed_runs(c, np.array([0, len(c)]), size)[0]
            except rle.RLEError as exc:
                with pytest.raises(rle.RLEError, match=re.escape(str(exc))):
                    rle.check_packed(c, np.array([0, len(c)]), size)
                assert rle._short_runs(c, size[0] * size[1]) is None
                continue
            accepted += 1
            np.testing.assert_array_equal(rle._short_runs(c, size[0] * size[1]), expected)
            rle.check_packed(np.concatenate([c, c]), np.array([0, len(c), 2 * len(c)]), size)
    assert accepted > len(good)
