"""FineDiving-HM mask trees: one single-channel image per frame, as the released set ships.

Layout: ``<root>/<event>/<instance>/<NNNNN>.jpg`` with the names of the frames, foreground >= 128,
both synchronised divers in one mask. FineParser's loader pairs masks with frames by sorted
position, so exactly one mask per frame is written and expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.io import mask_tree
from hm_annotate.io.mask_tree import FRAME_NAME, MaskTreeError
from hm_annotate.reporting import Reporter
from hm_annotate.safe_paths import inside
from hm_annotate.store import LayerData, MaskStore


def write_tree(
    store: MaskStore,
    out_dir: str | Path,
    *,
    layer: str = "curated",
    videos: Sequence[str] | None = None,
    ext: str = "jpg",
    reporter: Reporter | None = None,
) -> int:
    """Write every frame's foreground (union of objects) as a 0/255 gray image; returns the count."""
    import cv2

    ext = ext.lower().lstrip(".")
    if ext not in ("jpg", "png"):
        raise MaskTreeError(f"unsupported image extension {ext!r} (jpg or png)")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ids = list(videos) if videos is not None else [v for v in store.videos() if store.has(v, layer)]
    written = 0
    for vid in (reporter or Reporter()).bar(ids, desc="export masks", unit="video"):
        frames, masks = store.masks(vid, layer)
        inside(out_dir, vid, "video id").mkdir(parents=True, exist_ok=True)
        for frame, mask in zip(frames, masks):
            path = inside(out_dir, f"{vid}/{FRAME_NAME.format(frame=int(frame))}.{ext}", "mask path")
            if not cv2.imwrite(str(path), mask * np.uint8(255), params):
                raise MaskTreeError(f"{path}: could not write video {vid} frame {frame}")
            written += 1
    return written


def read_mask_image(path: Path, video_id: str, frame: int) -> np.ndarray:
    """A single-channel mask image as H x W uint8; errors name the file, video and frame."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise MaskTreeError(f"{path}: video {video_id} frame {frame}: unreadable image")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim != 2:
        raise MaskTreeError(
            f"{path}: video {video_id} frame {frame}: mask has {img.shape[2]} channels, expected one (gray)"
        )
    return img


def _read_objects(path: Path, video_id: str, frame: int) -> tuple[tuple[int, int], list, list[int]]:
    fg = read_mask_image(path, video_id, frame) >= 128
    return fg.shape, ([rle.encode(fg)] if fg.any() else []), ([1] if fg.any() else [])


def read_tree(
    src_dir: str | Path, frames_root: str | Path | None = None, *, reporter: Reporter | None = None
) -> Iterator[tuple[str, LayerData]]:
    """Yield ``(video_id, LayerData)`` for every folder of masks under ``src_dir``.

    With ``frames_root``, each video's masks must match its frames one to one, by name and size.
    """
    params = {"format": "finediving-hm", "threshold": 128}
    yield from mask_tree.read_tree(src_dir, frames_root, _read_objects, params, reporter=reporter)
