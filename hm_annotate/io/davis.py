"""DAVIS mask trees: one indexed PNG per frame, 0 = background, object ids 1..k per pixel.

Export writes the DAVIS 2017 dataset layout, which the official davis2017-evaluation reads as is
(``--davis_path OUT``, its defaults: 480p, 2017, set val)::

    OUT/Annotations/480p/<video_id>/<NNNNN>.png      the masks (object ids as in the store)
    OUT/Annotations_unsupervised -> Annotations       what its unsupervised task reads
    OUT/JPEGImages/480p/<video_id>/<NNNNN>.jpg       the frames, with ``frames_root``
    OUT/ImageSets/2017/val.txt                        the exported video ids, one a line

The official code names the frames of a video by its JPEGs and needs one for each mask, so
without ``frames_root`` the tree serves as ground truth only with the images added. Results for
it are the masks alone: ``OUT/Annotations/480p`` is such a folder (``--results_path``). Import
reads either layout (``<root>/<video_id>/<NNNNN>.png`` too). "480p" is only the folder name the
official code looks for; frames keep their size. Palette PNGs with the PASCAL VOC colour map
that DAVIS uses; objects are painted in increasing id order, so where two objects of the store
overlap the higher id owns the pixel (DAVIS cannot express overlaps).
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


RESOLUTION, YEAR, SPLIT = "480p", "2017", "val"  # davis2017-evaluation's defaults


def _frame_images(store: MaskStore, layer: str, ids: Sequence[str], frames_root: Path) -> dict[str, dict]:
    """Each video's frame image per masked frame, all checked before anything is written."""
    out = {}
    for vid in ids:
        folder = inside(frames_root, vid, "video id")
        if not folder.is_dir():
            raise MaskTreeError(f"{folder}: video {vid}: no frame folder under {frames_root}")
        found = mask_tree.numbered(folder, vid)
        frames = store.area_bbox(vid, layer)[0]
        missing = [int(f) for f in frames if int(f) not in found]
        if missing:
            raise MaskTreeError(
                f"{folder}: video {vid} frame {missing[0]}: no frame image ({len(missing)} frames lack one)"
            )
        out[vid] = {int(f): found[int(f)] for f in frames}
    return out


def _write_frame_image(src: Path, dst: Path, video_id: str, frame: int) -> None:
    """Copy a JPEG frame as is; re-encode any other image as JPEG (DAVIS reads ``*.jpg``)."""
    import shutil

    import cv2

    if src.suffix.lower() in (".jpg", ".jpeg"):
        shutil.copyfile(src, dst)
        return
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None or not cv2.imwrite(str(dst), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise MaskTreeError(f"{src}: video {video_id} frame {frame}: cannot convert the frame to JPEG")


def write_tree(
    store: MaskStore,
    out_dir: str | Path,
    *,
    layer: str = "curated",
    videos: Sequence[str] | None = None,
    ext: str = "png",
    frames_root: str | Path | None = None,
    reporter: Reporter | None = None,
) -> int:
    """Write every frame of a store layer as a DAVIS indexed PNG in the DAVIS 2017 layout (see
    the module docstring), with the frames from ``frames_root/<video_id>/`` when given; returns
    the number of masks written."""
    from PIL import Image

    if ext.lower().lstrip(".") != "png":
        raise MaskTreeError(f"DAVIS masks are indexed PNGs; extension {ext!r} is not supported")
    pal = palette().reshape(-1).tolist()
    ids = list(videos) if videos is not None else [v for v in store.videos() if store.has(v, layer)]
    root = Path(out_dir)
    images = _frame_images(store, layer, ids, Path(frames_root)) if frames_root is not None else {}
    sets = inside(root, f"ImageSets/{YEAR}", "ImageSets folder")
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{SPLIT}.txt").write_text("".join(f"{v}\n" for v in ids), encoding="utf-8")
    inside(root, f"Annotations/{RESOLUTION}", "Annotations folder").mkdir(parents=True, exist_ok=True)
    unsupervised = root / "Annotations_unsupervised"
    if not unsupervised.exists():
        unsupervised.symlink_to("Annotations", target_is_directory=True)
    written = 0
    for vid in (reporter or Reporter()).bar(ids, desc="export davis", unit="video"):
        data = store.read(vid, layer)
        flat = [m for objs in data.masks for m in objs]
        decoded = rle.decode_batch(flat) if flat else np.zeros((0, data.height, data.width), np.uint8)
        folder = inside(root, f"Annotations/{RESOLUTION}/{vid}", "video id")
        folder.mkdir(parents=True, exist_ok=True)
        if vid in images:
            jpegs = inside(root, f"JPEGImages/{RESOLUTION}/{vid}", "video id")
            jpegs.mkdir(parents=True, exist_ok=True)
            for frame, src in images[vid].items():
                _write_frame_image(src, jpegs / f"{FRAME_NAME.format(frame=frame)}.jpg", vid, frame)
        k = 0
        for frame, objs, obj_ids in zip(data.frames, data.masks, data.object_ids):
            if any(not 0 < i < 256 for i in obj_ids):
                raise MaskTreeError(
                    f"video {vid} frame {frame}: object ids {obj_ids} do not fit a DAVIS PNG (1..255)"
                )
            ids_img = index_image(decoded[k : k + len(objs)], obj_ids, (data.height, data.width))
            img = Image.fromarray(ids_img)
            img.putpalette(pal)
            name = f"Annotations/{RESOLUTION}/{vid}/{FRAME_NAME.format(frame=int(frame))}.png"
            img.save(inside(root, name, "mask path"), optimize=False)
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
    src_dir: str | Path, frames_root: str | Path | None = None, *, reporter: Reporter | None = None
) -> Iterator[tuple[str, LayerData]]:
    """Yield ``(video_id, LayerData)`` for every folder of DAVIS PNGs under ``src_dir``.

    Each nonzero value of a frame's PNG becomes one object with that id. With ``frames_root``,
    masks must match the video's frames one to one, by name and size. A DAVIS dataset root (with
    ``Annotations/<resolution>/``, one resolution) is read from its annotations.
    """
    params = {"format": "davis"}
    root = Path(src_dir)
    annotations = root / "Annotations"
    if annotations.is_dir():
        resolutions = sorted(p for p in annotations.iterdir() if p.is_dir())
        if len(resolutions) != 1:
            raise MaskTreeError(
                f"{annotations}: expected one resolution folder, found {[p.name for p in resolutions]}"
            )
        root = resolutions[0]
    yield from mask_tree.read_tree(root, frames_root, _read_objects, params, (".png",), reporter=reporter)
