from __future__ import annotations

import numpy as np

from hm_annotate import rle
from hm_annotate.pseudo.quality import flagged, frame_flags


def test_flags_per_frame():
    m = np.zeros((4, 20, 30), np.uint8)
    m[0, 5:10, 5:10] = 1  # 25 px
    m[1, 5:10, 6:11] = 1  # shifted by one: IoU 20/30
    m[3, 0:10, 20:30] = 1  # touches the top and right edges, 100 px after an empty frame
    q = frame_flags(rle.encode_batch(m), 20, 30)
    assert np.isnan(q["iou_prev"][0])
    np.testing.assert_allclose(q["iou_prev"][1:], [20 / 30, 0.0, 0.0])
    np.testing.assert_allclose(q["area_jump"], [0, 0, 1, 1])
    assert q["empty"].tolist() == [0, 0, 1, 0]
    assert q["touches_border"].tolist() == [0, 0, 0, 1]
    assert all(v.dtype == np.float32 and v.shape == (4,) for v in q.values())
    assert flagged(q).tolist() == [False, False, True, True]
