"""Mask overlays on a video's frames, to look at masks (and at what a correction changed).

Frames come from a frames folder laid out like FineDiving (``<frames_root>/<video_id>/<NNNNN>.jpg``,
the number in the file name being the frame number, any digit count) or from a dataset adapter's
``Video.read_frame``. Output is an mp4 (OpenCV, mp4v), an animated GIF (Pillow) or a folder of PNGs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.errors import HMError
from hm_annotate.frame_names import frame_number, is_image
from hm_annotate.reporting import Reporter
from hm_annotate.rle import RLE

# object colours (RGB): object 1, 2, ... cycle through these
PALETTE = np.array([(255, 70, 70), (60, 150, 255), (70, 215, 90), (255, 200, 40), (200, 90, 255)], np.uint8)
OUTPUT_KINDS = ("mp4", "gif", "dir")


class RenderError(HMError):
    """Frames or an output that cannot be rendered as asked."""


def folder_frames(frames_root: str | os.PathLike, video_id: str) -> Callable[[int], np.ndarray]:
    """A frame-number -> RGB reader over ``<frames_root>/<video_id>/``, numbers from the file names.

    The folder is listed on the first read, so a store error (unknown video) is reported first.
    """
    folder = Path(frames_root) / video_id
    paths: dict[int, Path] = {}

    def index() -> dict[int, Path]:
        if not paths:
            if not folder.is_dir():
                raise RenderError(f"no frames folder {folder} for video {video_id!r}")
            for p in folder.iterdir():
                number = frame_number(p.name) if is_image(p.name) else None
                if number is not None:
                    paths[number] = p
            if not paths:
                raise RenderError(f"frames folder {folder} holds no numbered images")
        return paths

    def read(n: int) -> np.ndarray:
        import cv2

        found = index()
        if n not in found:
            raise RenderError(f"video {video_id!r}: no image for frame {n} in {folder}")
        img = cv2.imread(str(found[n]), cv2.IMREAD_COLOR)
        if img is None:
            raise RenderError(f"video {video_id!r}: cannot read frame image {found[n]}")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    return read


def overlay(rgb: np.ndarray, objects: Sequence[RLE], *, alpha: float = 0.45) -> np.ndarray:
    """Blend each object's mask in its colour over the frame and outline it."""
    import cv2

    out = rgb.copy()
    h, w = out.shape[:2]
    for k, obj in enumerate(objects):
        m = rle.decode(obj)
        if m.shape != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_NEAREST)
        colour = PALETTE[k % len(PALETTE)]
        sel = m.astype(bool)
        out[sel] = (out[sel] * (1 - alpha) + colour * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), 1)
    return out


def caption(rgb: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner, white on a dark outline so it reads on any frame."""
    import cv2

    out = np.ascontiguousarray(rgb)
    scale = max(0.35, out.shape[0] / 700)
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, (4, int(14 * scale / 0.4)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick,
                    cv2.LINE_AA)  # fmt: skip
    return out


def render_frames(
    store_path: str | os.PathLike,
    video_id: str,
    read_frame: Callable[[int], np.ndarray],
    *,
    layer: str = "curated",
    compare_layers: bool = False,
) -> tuple[list[int], Iterator[np.ndarray]]:
    """The frame numbers to render and a lazy iterator of overlaid RGB frames.

    ``compare_layers`` puts the pseudo masks (left) beside the corrected ones (right) on every
    frame either layer has; a side without a mask for a frame says so.
    """
    from hm_annotate.store import MaskStore, StoreError, check_layer

    check_layer(layer)
    with MaskStore.open(store_path) as st:
        if video_id not in st:
            raise StoreError(f"{store_path}: no video {video_id!r} in the store")
        if compare_layers:
            stored = {k: st.read(video_id, k) for k in ("pseudo", "corrected") if st.has(video_id, k)}
            if not stored:
                raise StoreError(f"{store_path}: video {video_id!r} has no masks")
            panels = [(name, stored.get(name)) for name in ("pseudo", "corrected")]
        else:
            if not st.has(video_id, layer):
                raise StoreError(f"{store_path}: video {video_id!r} has no {layer!r} layer")
            panels = [(layer, st.read(video_id, layer))]
    numbers = sorted(set().union(*(d.frames.tolist() for _, d in panels if d is not None)))

    def frames() -> Iterator[np.ndarray]:
        for n in numbers:
            rgb = read_frame(n)
            sides = []
            for name, data in panels:
                pos = np.searchsorted(data.frames, n) if data is not None else 0
                has = data is not None and pos < len(data) and data.frames[pos] == n
                img = overlay(rgb, data.masks[pos]) if has else rgb.copy()
                sides.append(caption(img, f"{name} {n}" if has else f"{name} {n}: no mask"))
            yield np.concatenate(sides, axis=1) if len(sides) > 1 else sides[0]

    return numbers, frames()


def output_kind(out: str | os.PathLike) -> str:
    """``mp4``/``gif`` by extension; anything without one of those is a folder of PNGs."""
    suffix = Path(out).suffix.lower()
    if suffix in (".mp4", ".gif"):
        return suffix[1:]
    if suffix:
        raise RenderError(f"{out}: write .mp4, .gif or a folder (no extension), not {suffix}")
    return "dir"


def write_frames(
    frames: Iterator[np.ndarray],
    numbers: Sequence[int],
    *,
    out: str | os.PathLike,
    fps: float = 25.0,
    reporter: Reporter | None = None,
) -> int:
    """Write rendered frames to ``out``; returns the number written. Files appear complete or not at all."""
    import cv2

    kind = output_kind(out)
    out = Path(out)
    bar = (reporter or Reporter()).bar(frames, total=len(numbers), desc="render", unit="frame")
    if kind == "dir":
        out.mkdir(parents=True, exist_ok=True)
        count = 0
        for n, img in zip(numbers, bar):
            cv2.imwrite(str(out / f"{n:05d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            count += 1
        return count
    tmp = out.with_name(f".{out.stem}.part{out.suffix}")
    try:
        count = _write_mp4(bar, tmp, fps) if kind == "mp4" else _write_gif(bar, tmp, fps)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _write_mp4(frames: Iterator[np.ndarray], path: Path, fps: float) -> int:
    import cv2

    writer = None
    count = 0
    try:
        for img in frames:
            if writer is None:
                h, w = img.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                if not writer.isOpened():
                    raise RenderError(f"{path}: OpenCV cannot open an mp4v writer")
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            count += 1
    finally:
        if writer is not None:
            writer.release()
    return count


def _write_gif(frames: Iterator[np.ndarray], path: Path, fps: float) -> int:
    from PIL import Image

    images = [Image.fromarray(img) for img in frames]
    if images:
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return len(images)


def render_video(
    store_path: str | os.PathLike,
    video_id: str,
    out: str | os.PathLike,
    *,
    read_frame: Callable[[int], np.ndarray],
    layer: str = "curated",
    compare_layers: bool = False,
    fps: float = 25.0,
    reporter: Reporter | None = None,
) -> int:
    """Render one video's overlays to ``out`` (.mp4, .gif or a folder); returns frames written."""
    output_kind(out)
    if fps <= 0:
        raise RenderError(f"fps must be positive, got {fps}")
    numbers, frames = render_frames(
        store_path, video_id, read_frame, layer=layer, compare_layers=compare_layers
    )
    if not numbers:
        raise RenderError(f"video {video_id!r} has no frames with masks to render")
    return write_frames(frames, numbers, out=out, fps=fps, reporter=reporter)
