"""Polygon segmentations (as CVAT and most COCO tools write them) to RLE masks.

A COCO polygon segmentation is a list of rings ``[[x1, y1, x2, y2, ...], ...]``; the rings of
one annotation are parts of one object, so they are rasterised separately and merged (a union,
as pycocotools does).

Two conventions exist for where a vertex sits, and they differ by half a pixel along the border,
which matters for thin limbs at 256-pixel frame heights:

- ``coco``: vertices are continuous image coordinates (pixel ``i`` spans ``[i, i+1)``), as drawn
  in CVAT's canvas; rasterised by pycocotools (a pixel is in when its centre is).
- ``contour``: vertices are the centres of the mask's border pixels, as ``cv2.findContours``
  (and so datumaro/CVAT when converting a mask to polygons) writes them; rasterised with
  ``cv2.fillPoly``, which keeps the border pixels the contour runs through. pycocotools would
  drop the right and bottom border of such a polygon (IoU 0.80-0.95 for diver-sized masks).

``auto`` picks ``contour`` for an annotation whose vertices are all integers (contour tracers
write integers; hand-drawn polygons almost never are) and ``coco`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pycocotools import mask as _coco

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.rle import RLE

POLYGON_MODES = ("auto", "coco", "contour")
# how far (pixels) a vertex may lie outside the image: tools put border vertices at -0.5 or w + 0.5
BORDER_TOLERANCE = 2.0
# summed edge length (pixels) of one object's rings: pycocotools samples every edge 5 times a
# pixel, so a vertex at 4e8 asked for gigabytes (and crashed); a diver's outline is ~10**3
MAX_PERIMETER = 10**6


class PolygonError(HMError, ValueError):
    """A polygon segmentation that cannot be rasterised (too few points, odd or bad values)."""


def _check_ring(ring: object, k: int) -> list[float]:
    if not isinstance(ring, (list, tuple)):
        raise PolygonError(f"polygon {k} is a {type(ring).__name__}, not a list of coordinates")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ring):
        raise PolygonError(f"polygon {k} has non-numeric coordinates")
    if len(ring) % 2:
        raise PolygonError(f"polygon {k} has an odd number of coordinates ({len(ring)})")
    if len(ring) < 6:
        raise PolygonError(f"polygon {k} has {len(ring) // 2} points; a polygon needs at least 3")
    if not all(math.isfinite(v) for v in ring):
        raise PolygonError(f"polygon {k} has a non-finite coordinate")
    return [float(v) for v in ring]


def polygons_to_rle(polygons: Sequence[object], height: int, width: int, *, mode: str = "auto") -> RLE:
    """Rasterise the rings of one object (COCO polygon segmentation) into one RLE of (h, w)."""
    if mode not in POLYGON_MODES:
        raise PolygonError(f"unknown polygon mode {mode!r}; known: {', '.join(POLYGON_MODES)}")
    if not isinstance(polygons, (list, tuple)) or not polygons:
        raise PolygonError("polygon segmentation must be a non-empty list of polygons")
    rings = [_check_ring(ring, k) for k, ring in enumerate(polygons)]
    h, w = rle.check_size([height, width])
    perimeter = 0.0
    for k, ring in enumerate(rings):
        xy = np.asarray(ring).reshape(-1, 2)
        lo, hi = xy.min(0), xy.max(0)
        if lo.min() < -BORDER_TOLERANCE or hi[0] > w + BORDER_TOLERANCE or hi[1] > h + BORDER_TOLERANCE:
            raise PolygonError(
                f"polygon {k} has a vertex at ({xy[np.argmax(np.abs(xy).max(1))].tolist()}), "
                f"outside the {w}x{h} image"
            )
        perimeter += float(np.abs(np.diff(np.r_[xy, xy[:1]], axis=0)).max(1).sum())
    if perimeter > MAX_PERIMETER:
        raise PolygonError(f"polygons have {perimeter:.0f} pixels of edges (at most {MAX_PERIMETER})")
    if mode == "auto":
        mode = "contour" if all(v.is_integer() for ring in rings for v in ring) else "coco"
    if mode == "coco":
        merged = _coco.merge(_coco.frPyObjects(rings, h, w), intersect=False)
        return {"size": [h, w], "counts": merged["counts"].decode("ascii")}
    import cv2

    mask = np.zeros((h, w), np.uint8)
    for ring in rings:
        pts = np.clip(np.round(np.asarray(ring).reshape(-1, 2)), -(2**20), 2**20).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return rle.encode(mask)
