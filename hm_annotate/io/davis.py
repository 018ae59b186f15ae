"""DAVIS mask trees: one indexed PNG per frame, 0 = background, object ids 1..k per pixel.

Layout ``<root>/<video_id>/<NNNNN>.png`` (the names of the frames), palette PNGs with the
PASCAL VOC colour map that DAVIS uses, so video-object-segmentation tools and their viewers read
them as is. Objects are painted in increasing id order, so where two objects of the store overlap
the higher id owns the pixel (DAVIS cannot express overlaps).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.io import mask_tree
from hm_annotate.io.mask_tree import FRAME_NAME, MaskTreeError
from hm_annotate.safe_paths import inside
from hm_annotate.store import LayerData, MaskStore

# largest mask image read (8192 x 8192): a few hundred bytes of PNG can claim any size
MAX_MASK_PIXELS = 1 << 26


def palette() -> np.ndarray:
    """The 256-colour PASCAL VOC / DAVIS palette as a 256 x 3 uint8 array."""
    ids = np.arange(256)
    out = np.zeros((256, 3), np.int64)
    for shift in range(8):
        for ch in range(3):
            out[:, ch] |= ((ids >> (3 * shift + ch)) & 1) << (7 - shift)
    return out.astype(np.uint8)


def index_image(objects: np.ndarray, object_ids: Sequence[int], shape: tuple[int, int]) -> np.ndarray:
    """An H x W uint8 image of object ids from N x H x W binary masks (higher ids painted last)."""
    out = np.zeros(shape, np.uint8)
    for k in np.argsort(object_ids, kind="stable"):
        out[objects[k] != 0] = object_ids[k]
    return out


def write_tree(
    store: MaskStore,
    out_dir: str | Path,
    layer: str = "curated",
    videos: Sequence[str] | None = None,
    ext: str = "png",
    progress: bool = True,
) -> int:
    """Write every frame of a store layer as a DAVIS indexed PNG; returns the number written."""
    from PIL import Image
    from tqdm import tqdm

    if ext.lower().lstrip(".") != "png":
        raise MaskTreeError(f"DAVIS masks are indexed PNGs; extension {ext!r} is not supported")
    pal = palette().reshape(-1).tolist()
    ids = list(videos) if videos is not None else [v for v in store.videos() if store.has(v, layer)]
    written = 0
    for vid in tqdm(ids, desc="export davis", unit="video", disable=not progress):
        data = store.read(vid, layer)
        flat = [m for objs in data.masks for m in objs]
        decoded = rle.decode_batch(flat) if flat else np.zeros((0, data.height, data.width), np.uint8)
        inside(out_dir, vid, "video id").mkdir(parents=True, exist_ok=True)
        k = 0
        for frame, objs, obj_ids in zip(data.frames, data.masks, data.object_ids):
            if any(not 0 < i < 256 for i in obj_ids):
                raise MaskTreeError(
                    f"video {vid} frame {frame}: object ids {obj_ids} do not fit a DAVIS PNG (1..255)"
                )
            ids_img = index_image(decoded[k : k + len(objs)], obj_ids, (data.height, data.width))
            img = Image.fromarray(ids_img)
            img.putpalette(pal)
            name = f"{vid}/{FRAME_NAME.format(frame=int(frame))}.png"
            img.save(inside(out_dir, name, "mask path"), optimize=False)
            k += len(objs)
            written += 1
    return written


def read_index_png(path: Path, video_id: str, frame: int) -> np.ndarray:
    """A DAVIS mask as H x W uint8 object ids (palette or 8-bit gray PNG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_MASK_PIXELS:
                raise MaskTreeError(
                    f"{path}: video {video_id} frame {frame}: {img.width}x{img.height} image is too large "
                    f"for a mask (at most {MAX_MASK_PIXELS} pixels)"
                )
            if img.mode not in ("P", "L"):
                raise MaskTreeError(
                    f"{path}: video {video_id} frame {frame}: mode {img.mode} image; "
                    "DAVIS masks are indexed (palette) PNGs"
                )
            return np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise MaskTreeError(f"{path}: video {video_id} frame {frame}: unreadable image ({exc})") from None


def _read_objects(path: Path, video_id: str, frame: int) -> tuple[tuple[int, int], list, list[int]]:
    img = read_index_png(path, video_id, frame)
    ids = np.unique(img)
    ids = ids[ids != 0]
    rles = rle.encode_batch(img[None] == ids[:, None, None]) if len(ids) else []
    return img.shape, rles, ids.tolist()


def read_tree(
    src_dir: str | Path, frames_root: str | Path | None = None, progress: bool = True
) -> Iterator[tuple[str, LayerData]]:
    """Yield ``(video_id, LayerData)`` for every folder of DAVIS PNGs under ``src_dir``.

    Each nonzero value of a frame's PNG becomes one object with that id. With ``frames_root``,
    masks must match the video's frames one to one, by name and size.
    """
    params = {"format": "davis"}
    yield from mask_tree.read_tree(src_dir, frames_root, _read_objects, params, (".png",), progress)
