"""What every per-frame mask image tree shares: finding videos, naming frames, matching frames.

A mask tree holds one image per frame under ``<root>/<video_id>/``, named like the frames
(FineDiving ``00489.jpg``). Formats (``finediving_hm``, ``davis``) differ only in how one image
becomes objects; the folder walk and the checks against the frames live here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import __version__, frame_names
from hm_annotate.errors import HMError
from hm_annotate.frame_names import IMAGE_EXTENSIONS, is_image
from hm_annotate.reporting import Reporter
from hm_annotate.store import LayerData

FRAME_NAME = "{frame:05d}"


class MaskTreeError(HMError):
    """A mask image tree that does not match its frames or its format."""


def numbered(folder: Path, video_id: str, suffixes: tuple[str, ...] = IMAGE_EXTENSIONS) -> dict[int, Path]:
    """A folder's images by frame number (``hm_annotate.frame_names``: the last digits of the name);
    two images with one number are an error naming both."""
    out: dict[int, Path] = {}
    for p in sorted(p for p in folder.iterdir() if p.is_file() and is_image(p.name)):
        if p.suffix.lower() not in suffixes:
            raise MaskTreeError(f"{p}: video {video_id}: expected {'/'.join(suffixes)} mask images")
        frame = frame_names.frame_number(p.name)
        if frame is None:
            raise MaskTreeError(f"{p}: video {video_id}: no frame number in the file name")
        if frame in out:
            raise MaskTreeError(f"{p}: video {video_id} frame {frame}: {out[frame].name} has the same number")
        out[frame] = p
    return out


def _walk(root: Path) -> Iterator[Path]:
    """Every entry under ``root``; symlinked folders are followed when they stay inside the tree
    (once each) and refused otherwise, never skipped silently."""
    base = root.resolve()
    seen = {base}
    todo = [root]
    while todo:
        folder = todo.pop()
        for p in sorted(folder.iterdir()):
            yield p
            if p.is_symlink() and p.is_dir():
                target = p.resolve()
                if not target.is_relative_to(base):
                    raise MaskTreeError(f"{p}: symlinked folder points outside {root} (to {target})")
                if target in seen:
                    continue
                seen.add(target)
            if p.is_dir():
                todo.append(p)


def mask_folders(src_dir: str | Path) -> list[Path]:
    """Folders under ``src_dir`` that hold mask images, sorted (each one is a video)."""
    root = Path(src_dir)
    if not root.is_dir():
        raise MaskTreeError(f"{root}: not a folder")
    folders = sorted(
        {p.parent for p in _walk(root) if is_image(p.name) and _image_file(p, root)}
    )
    if not folders:
        raise MaskTreeError(f"{root}: no mask images ({'/'.join(IMAGE_EXTENSIONS)}) found")
    return folders


def _image_file(p: Path, root: Path) -> bool:
    """Whether ``p`` is an image file to read; a dangling link, or a link to a file outside the
    tree, is an error rather than a silent skip or a read from elsewhere."""
    if p.is_symlink():
        if not p.exists():
            raise MaskTreeError(f"{p}: dangling symlink in the mask tree")
        if not p.resolve().is_relative_to(root.resolve()):
            raise MaskTreeError(f"{p}: symlink points outside {root} (to {p.resolve()})")
    return p.is_file()


def jpeg_size(path: Path) -> tuple[int, int] | None:
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


def frame_sizes(frames_dir: Path, video_id: str) -> dict[int, tuple[int, int]]:
    """Sizes of a video's frame images, read from JPEG headers where possible (no decoding)."""
    import cv2

    if not frames_dir.is_dir():
        raise MaskTreeError(f"{frames_dir}: video {video_id}: no frame folder for these masks")
    sizes = {}
    for frame, p in numbered(frames_dir, video_id).items():
        size = jpeg_size(p) if p.suffix.lower() in (".jpg", ".jpeg") else None
        if size is None:
            img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise MaskTreeError(f"{p}: video {video_id} frame {frame}: unreadable frame image")
            size = img.shape[:2]
        sizes[frame] = size
    return sizes


def read_tree(
    src_dir: str | Path,
    frames_root: str | Path | None,
    read_objects: Callable[[Path, str, int], tuple[tuple[int, int], list, list[int]]],
    parameters: dict[str, Any],
    suffixes: tuple[str, ...] = IMAGE_EXTENSIONS,
    *,
    reporter: Reporter | None = None,
) -> Iterator[tuple[str, LayerData]]:
    """Yield ``(video_id, LayerData)`` per folder; ``read_objects(path, video, frame)`` gives
    ``(image size, RLEs, object ids)`` of one image.

    With ``frames_root``, each video's masks must match its frames one to one, by name and size;
    without it, all masks of a video must share one size. Errors name file, video and frame.
    """
    reporter = reporter or Reporter()
    root = Path(src_dir)
    provenance = {
        "tool": "hm-annotate import-masks",
        "tool_version": __version__,
        "source": str(root.resolve()),
        "parameters": parameters,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for folder in reporter.bar(mask_folders(root), desc="import masks", unit="video"):
        vid = folder.relative_to(root).as_posix()
        paths = numbered(folder, vid, suffixes)
        expected = frame_sizes(Path(frames_root) / vid, vid) if frames_root is not None else None
        if expected is not None and set(expected) != set(paths):
            frame = min(set(expected) ^ set(paths))
            if frame in expected:
                missing = len(set(expected) - set(paths))
                raise MaskTreeError(
                    f"{folder}: video {vid} frame {frame}: no mask for this frame "
                    f"({missing} frames without a mask)"
                )
            raise MaskTreeError(f"{paths[frame]}: video {vid} frame {frame}: mask without a frame")
        frames = np.array(sorted(paths), dtype=np.int64)
        masks, object_ids, size = [], [], None
        for frame in frames:
            shape, rles, ids = read_objects(paths[frame], vid, int(frame))
            want = expected[frame] if expected is not None else size
            if want is not None and tuple(shape) != tuple(want):
                raise MaskTreeError(
                    f"{paths[frame]}: video {vid} frame {frame}: mask is {shape[0]}x{shape[1]}, "
                    f"expected {want[0]}x{want[1]}"
                )
            size = shape
            masks.append(rles)
            object_ids.append(ids)
        yield (
            vid,
            LayerData(
                frames=frames,
                masks=masks,
                object_ids=object_ids,
                height=size[0],
                width=size[1],
                provenance=[provenance],
            ),
        )
