"""Polygon segmentations (as CVAT and most COCO tools write them) to RLE masks.

A COCO polygon segmentation is a list of rings ``[[x1, y1, x2, y2, ...], ...]``; the rings of
one annotation are parts of one object, so they are rasterised together and merged.
pycocotools' C code trusts its input, so every ring is checked here first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pycocotools import mask as _coco

from hm_annotate.errors import HMError
from hm_annotate.rle import RLE


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


def polygons_to_rle(polygons: Sequence[object], height: int, width: int) -> RLE:
    """Rasterise the rings of one object (COCO polygon segmentation) into one RLE of (h, w)."""
    if not isinstance(polygons, (list, tuple)) or not polygons:
        raise PolygonError("polygon segmentation must be a non-empty list of polygons")
    rings = [_check_ring(ring, k) for k, ring in enumerate(polygons)]
    merged = _coco.merge(_coco.frPyObjects(rings, int(height), int(width)), intersect=False)
    return {"size": [int(height), int(width)], "counts": merged["counts"].decode("ascii")}
