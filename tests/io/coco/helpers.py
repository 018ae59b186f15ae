"""The COCO tests' store (two videos: one diver, two synchronised), snapshots and CVAT's way of
writing a COCO file back; other tests (YouTube-VIS, the CLI) use them too."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks

H, W = 48, 64
SOLO, SYNC = "EventA_final/1", "EventB_sync/2"


def make_store(path: Path, metadata: dict | None = None) -> Path:
    """SOLO: 12 frames from 100, one diver, scores. SYNC: frames 7, 9, ..., 25, two divers,
    frame 15 annotated empty, and a corrected frame 9."""
    solo = ellipse_masks(12, H, W, seed=1)
    a = np.zeros((10, H, W), np.uint8)
    b = np.zeros((10, H, W), np.uint8)
    a[:, :, : W // 2] = ellipse_masks(10, H, W // 2, seed=3)
    b[:, :, W // 2 :] = ellipse_masks(10, H, W // 2, seed=5)[:, :, ::-1]
    sync = [[x, y] for x, y in zip(rle.encode_batch(a), rle.encode_batch(b))]
    sync[4] = []
    with MaskStore.open(path, mode="a") as st:
        st.put(
            SOLO,
            "pseudo",
            LayerData(
                frames=np.arange(100, 112),
                masks=[[r] for r in rle.encode_batch(solo)],
                height=H,
                width=W,
                scores=np.linspace(0.5, 0.95, 12).astype(np.float32),
            ),
            metadata=metadata or {"action_type": "107b"},
        )
        st.put(
            SYNC,
            "pseudo",
            LayerData(
                frames=np.arange(7, 27, 2),
                masks=sync,
                height=H,
                width=W,
                object_ids=[[1, 2] if objs else [] for objs in sync],
            ),
            metadata={"athletes": 2},
        )
        corrected = ellipse_masks(1, H, W, seed=9)
        st.put(
            SYNC, "corrected", LayerData(frames=[9], masks=[[rle.encode(corrected[0])]], height=H, width=W)
        )
    return path


def snapshot(store: Path) -> dict[str, list]:
    """Every curated frame as (frame, object ids, counts)."""
    with MaskStore.open(store) as st:
        out = {}
        for vid in st.videos():
            d = st.read(vid, "curated")
            out[vid] = [
                (int(f), list(ids), [m["counts"] for m in objs])
                for f, ids, objs in zip(d.frames, d.object_ids, d.masks)
            ]
        return out


def store_bytes(store: Path) -> tuple[bytes, list[str]]:
    return store.read_bytes(), sorted(p.name for p in store.parent.iterdir() if not p.name.endswith(".lock"))


def _contour_polygons(mask: np.ndarray) -> list[list[float]]:
    """Polygons of a mask the way datumaro (CVAT's converter) writes them: cv2 contours with the
    TC89 approximation, every ring closed by repeating its first point."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_TC89_KCOS)
    rings = [c.reshape(-1, 2) for c in contours if len(c) > 2]
    return [np.vstack([r, r[:1]]).reshape(-1).astype(float).tolist() for r in rings]


def as_cvat_export(data: dict, polygons: bool) -> dict:
    """A COCO file as CVAT's COCO 1.0 export writes it: no video_id/frame fields, ids from 1,
    polygons (iscrowd 0) or uncompressed RLE (iscrowd 1), only the attributes CVAT knows."""
    out = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {
            "contributor": "",
            "date_created": "",
            "description": "",
            "url": "",
            "version": "",
            "year": "",
        },
        "categories": [{"id": 1, "name": "athlete", "supercategory": ""}],
        "images": [],
        "annotations": [],
    }
    for img in data["images"]:
        out["images"].append(
            {k: img[k] for k in ("id", "width", "height", "file_name")}
            | {"license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}
        )
    for ann in data["annotations"]:
        mask = rle.decode(ann["segmentation"])
        if polygons:
            seg, crowd = _contour_polygons(mask), 0
        else:
            flat = mask.reshape(-1, order="F")
            edges = np.flatnonzero(np.diff(flat)) + 1
            runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
            seg, crowd = {"counts": ([0] if flat[0] else []) + runs, "size": list(mask.shape)}, 1
        out["annotations"].append(
            {
                "id": ann["id"],
                "image_id": ann["image_id"],
                "category_id": 1,
                "segmentation": seg,
                "area": float(ann["area"]),
                "bbox": ann["bbox"],
                "iscrowd": crowd,
                "attributes": {"occluded": False, "object_id": str(ann["attributes"]["object_id"])},
            }
        )
    return out


def diver_store(path: Path, h: int = 256, w: int = 455, n: int = 8) -> Path:
    """Two synchronised divers at FineDiving resolution: 80 x 30 pixel ellipses falling side by side."""
    yy, xx = np.mgrid[0:h, 0:w]
    t = np.arange(n)[:, None, None]
    cy = 60 + 15 * t
    divers = [((yy - cy) / 40) ** 2 + ((xx - cx) / 15) ** 2 <= 1 for cx in (180, 260)]
    masks = [[rle.encode(d[i]) for d in divers] for i in range(n)]
    with MaskStore.open(path, mode="a") as st:
        st.put(SYNC, "pseudo", LayerData(frames=np.arange(n) + 489, masks=masks, height=h, width=w))
    return path
