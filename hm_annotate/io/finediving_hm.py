"""FineDiving-HM mask trees: one single-channel image per frame, as the released set ships.

Layout: ``<root>/<event>/<instance>/<NNNNN>.jpg`` with the names of the frames, foreground >= 128,
both synchronised divers in one mask. FineParser's loader pairs masks with frames by sorted
position, so exactly one mask per frame is written and expected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.errors import HMError
from hm_annotate.store import LayerData, MaskStore

IMAGE_EXTS = (".jpg", ".jpeg", ".png")
FRAME_NAME = "{frame:05d}"


class MaskTreeError(HMError):
    """A mask image tree that does not match its frames or its format."""


def write_tree(
    store: MaskStore,
    out_dir: str | Path,
    layer: str = "curated",
    videos: Sequence[str] | None = None,
    ext: str = "jpg",
    progress: bool = True,
) -> int:
    """Write every frame's foreground (union of objects) as a 0/255 gray image; returns the count."""
    import cv2
    from tqdm import tqdm

    ext = ext.lower().lstrip(".")
    if ext not in ("jpg", "png"):
        raise MaskTreeError(f"unsupported image extension {ext!r} (jpg or png)")
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ids = list(videos) if videos is not None else [v for v in store.videos() if store.has(v, layer)]
    written = 0
    for vid in tqdm(ids, desc="export masks", unit="video", disable=not progress):
        frames, masks = store.masks(vid, layer)
        folder = Path(out_dir) / vid
        folder.mkdir(parents=True, exist_ok=True)
        for frame, mask in zip(frames, masks):
            path = folder / f"{FRAME_NAME.format(frame=int(frame))}.{ext}"
            if not cv2.imwrite(str(path), mask * np.uint8(255), params):
                raise MaskTreeError(f"{path}: could not write video {vid} frame {frame}")
            written += 1
    return written


def _frame_number(path: Path, video_id: str) -> int:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    if not digits:
        raise MaskTreeError(f"{path}: video {video_id}: no frame number in the file name")
    return int(digits)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def mask_folders(src_dir: str | Path) -> list[Path]:
    """Folders under ``src_dir`` that hold mask images, sorted (each one is a video)."""
    root = Path(src_dir)
    if not root.is_dir():
        raise MaskTreeError(f"{root}: not a folder")
    folders = sorted({p.parent for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS})
    if not folders:
        raise MaskTreeError(f"{root}: no mask images (.jpg/.png) found")
    return folders


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


def _frame_sizes(frames_dir: Path, video_id: str) -> dict[int, tuple[int, int]]:
    """Sizes of a video's frame images, read from JPEG headers where possible (no decoding)."""
    import cv2

    if not frames_dir.is_dir():
        raise MaskTreeError(f"{frames_dir}: video {video_id}: no frame folder for these masks")
    sizes = {}
    for p in _images(frames_dir):
        frame = _frame_number(p, video_id)
        size = _jpeg_size(p) if p.suffix.lower() in (".jpg", ".jpeg") else None
        if size is None:
            img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise MaskTreeError(f"{p}: video {video_id} frame {frame}: unreadable frame image")
            size = img.shape[:2]
        sizes[frame] = size
    return sizes


def _jpeg_size(path: Path) -> tuple[int, int] | None:
    """Height and width from a JPEG's start-of-frame marker, without decoding it."""
    data = path.read_bytes()
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker, seglen = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 7 : i + 9], "big")
        i += 2 + seglen
    return None


def read_tree(
    src_dir: str | Path, frames_root: str | Path | None = None, progress: bool = True
) -> Iterator[tuple[str, LayerData]]:
    """Yield ``(video_id, LayerData)`` for every folder of masks under ``src_dir``.

    With ``frames_root``, each video's masks must match its frames one to one, by name and size.
    """
    from tqdm import tqdm

    root = Path(src_dir)
    provenance = {
        "tool": "hm-annotate import-masks",
        "tool_version": __version__,
        "source": str(root.resolve()),
        "parameters": {"format": "finediving-hm", "threshold": 128},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for folder in tqdm(mask_folders(root), desc="import masks", unit="video", disable=not progress):
        vid = folder.relative_to(root).as_posix()
        paths = {_frame_number(p, vid): p for p in _images(folder)}
        frames = np.array(sorted(paths), dtype=np.int64)
        expected = _frame_sizes(Path(frames_root) / vid, vid) if frames_root is not None else None
        if expected is not None:
            missing = sorted(set(expected) - set(paths))
            if missing:
                raise MaskTreeError(
                    f"{folder}: video {vid} frame {missing[0]}: no mask for this frame "
                    f"({len(missing)} frames without a mask)"
                )
            extra = sorted(set(paths) - set(expected))
            if extra:
                raise MaskTreeError(f"{paths[extra[0]]}: video {vid} frame {extra[0]}: mask without a frame")
        masks, size = [], None
        for frame in frames:
            img = read_mask_image(paths[frame], vid, int(frame))
            want = expected[frame] if expected is not None else size
            if want is not None and img.shape != tuple(want):
                raise MaskTreeError(
                    f"{paths[frame]}: video {vid} frame {frame}: mask is {img.shape[0]}x{img.shape[1]}, "
                    f"expected {want[0]}x{want[1]}"
                )
            size = img.shape
            fg = img >= 128
            masks.append([rle.encode(fg)] if fg.any() else [])
        yield (
            vid,
            LayerData(frames=frames, masks=masks, height=size[0], width=size[1], provenance=[provenance]),
        )
