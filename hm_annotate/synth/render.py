"""Render one planned clip: frames as JPG files and its exact ground-truth masks.

Per frame: the scene's background, the springboard, the athletes (the far one of a pair first)
as supersampled layers, optionally motion-blurred, cut at the water surface, then the splash and
the broadcast graphics over them. An athlete's mask is where its *visible* coverage (after the
other athlete, the water, the splash and the graphics) is at least one half, the same coverage
the pixels were blended with; a fully submerged athlete has no mask in that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hm_annotate import rle
from hm_annotate.rle import RLE
from hm_annotate.synth.body import parts
from hm_annotate.synth.camera import Camera, follow
from hm_annotate.synth.motion import PARTNER_SHIFT, G, Track, track
from hm_annotate.synth.plan import VideoPlan
from hm_annotate.synth.raster import Layer, Shape, full_alpha, motion_blur, rasterize
from hm_annotate.synth.scene import Scene, board_shapes, composite, look

FRAME_QUALITY = 90
MASK_QUALITY = 95
BLUR_PROBABILITY = 0.35


@dataclass
class Rendered:
    """What a clip's rendering gives the store: per frame the RLE of each visible athlete."""

    video_id: str
    frames: np.ndarray
    masks: list[list[RLE]]
    object_ids: list[list[int]]
    height: int
    width: int


def frame_size(height: int) -> tuple[int, int]:
    """(height, width) of a 16:9 broadcast frame scaled to ``height`` (even width)."""
    return height, 2 * int(round(height * 16 / 9 / 2))


class Splash:
    """Water thrown up where an athlete enters: droplets on ballistic paths and surface foam."""

    def __init__(
        self, rng: np.random.Generator, entry_frame: float, x: float, size: float, dt: float
    ) -> None:
        n = int(40 + 180 * size)
        self.entry, self.x, self.size, self.dt = entry_frame, x, size, dt
        self.x0 = x + rng.normal(0.0, 0.08, n)
        self.vx = rng.normal(0.0, 0.4 + 1.1 * size, n)
        self.vy = rng.uniform(1.5, 2.5 + 5.0 * size, n)
        self.r = rng.uniform(0.015, 0.035 + 0.035 * size, n)
        self.start = entry_frame + rng.uniform(0.0, 4.0, n)
        self.shade = rng.uniform(205, 255, n)
        self.arc = np.linspace(0, np.pi, 13)

    def shapes(self, cam: Camera, i: int) -> list[Shape]:
        t0 = (i - self.entry) * self.dt
        if t0 < 0:
            return []
        width = (0.25 + 1.1 * self.size) * (1 - np.exp(-t0 / 0.2)) + 0.1
        height = (0.08 + 0.35 * self.size) * (0.4 + 0.6 * np.exp(-t0 / 0.6))
        foam = np.stack([self.x + width * np.cos(self.arc), height * np.sin(self.arc)], 1)
        out = [Shape(cam.to_px(i, foam), (236, 244, 248))]
        t = (i - self.start) * self.dt
        y = self.vy * t - 0.5 * G * t * t
        live = np.flatnonzero((t >= 0) & (y > -0.02))
        centres = cam.to_px(i, np.stack([self.x0[live] + self.vx[live] * t[live], y[live]], 1))
        radius = self.r[live] * cam.scale[i]
        for c, r, s in zip(centres, radius, self.shade[live], strict=True):
            out.append(Shape(c[None, :], (s, s, min(255.0, s + 6)), radius=float(max(r, 0.5))))
        return out


def _under_water(layer: Layer, waterline: float) -> Layer:
    """Cut a layer at the water surface: rows below it are hidden (partial at the edge row)."""
    if layer.empty:
        return layer
    rows = layer.y0 + np.arange(layer.alpha.shape[0], dtype=np.float32)
    keep = np.clip(waterline - rows, 0.0, 1.0).astype(np.float32)
    return Layer(layer.x0, layer.y0, layer.color * keep[:, None, None], layer.alpha * keep[:, None])


def _athlete_layer(tr: Track, lk, cam: Camera, i: int, blur: float) -> Layer:
    layer = rasterize(cam.shapes(i, parts(tr.poses[i], lk, tr.places[i])), cam.width, cam.height)
    if blur > 0:
        j0, j1 = max(i - 1, 0), min(i + 1, len(tr.places) - 1)
        a = cam.to_px(j0, np.array([tr.places[j0].root]))[0]
        b = cam.to_px(j1, np.array([tr.places[j1].root]))[0]
        step = (b - a) / max(j1 - j0, 1) * blur
        layer = motion_blur(layer, float(step[0]), float(step[1]), cam.width, cam.height)
    return _under_water(layer, cam.waterline(i))


def _encode(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV failing to encode an array it made
        raise OSError(f"{path}: JPEG encoding failed")
    path.write_bytes(buf.tobytes())


@dataclass
class Composite:
    """One frame before lighting and noise: the picture (float32 RGB), each athlete's visible
    mask (k, H, W bool; A first) and what covers the athletes (splash and graphics, 0-1)."""

    frame: np.ndarray
    visible: np.ndarray
    cover: np.ndarray


class Clip:
    """A planned clip ready to draw frame by frame: athletes, camera, venue, splashes."""

    def __init__(self, plan: VideoPlan, height: int) -> None:
        rng = np.random.default_rng(plan.seed)
        self.plan = plan
        self.height, self.width = frame_size(height)
        women = plan.gender == "Women"
        self.looks = [look(rng, women)]
        self.tracks = [track(plan, 0, self.looks[0], rng)]
        if plan.sync:
            self.looks.append(look(rng, women, suit=self.looks[0].suit))
            self.tracks.append(track(plan, 1, self.looks[1], rng, dt=self.tracks[0].dt))
        roots = np.mean([[p.root for p in tr.places] for tr in self.tracks], axis=0)
        self.cam = follow(roots, (plan.takeoff_end, self.tracks[0].entry_frame), self.width, self.height, rng,
                          plan.sync)  # fmt: skip
        self.scene = Scene(rng, self.cam, plan.platform, plan.sync, self.tracks[0].dt, plan.takeoff_end)
        self.splashes = [
            Splash(rng, tr.entry_frame, tr.entry_x, ex.splash, tr.dt)
            for tr, ex in zip(self.tracks, plan.athletes, strict=True)
        ]
        self.blur = rng.uniform(0.4, 0.9) if rng.random() < BLUR_PROBABILITY else 0.0
        self.shifts = [np.zeros(2), PARTNER_SHIFT][: len(self.tracks)]

    def backdrop(self, i: int) -> np.ndarray:
        """Frame i without athletes, splash or graphics (float32 RGB)."""
        frame = self.scene.background(i)
        if not self.plan.platform:
            dips = [float(tr.board_dip[i]) for tr in self.tracks][::-1]
            shapes = board_shapes(self.cam, i, dips, self.shifts[::-1])
            composite(frame, rasterize(shapes, self.width, self.height))
        return frame

    def compose(self, i: int) -> Composite:
        """Frame i with the athletes (the far one, B, first), then the splash and graphics."""
        w, h = self.width, self.height
        frame = self.backdrop(i)
        layers = [
            _athlete_layer(tr, lk, self.cam, i, self.blur)
            for tr, lk in zip(self.tracks, self.looks, strict=True)
        ]
        spray = rasterize([s for sp in self.splashes for s in sp.shapes(self.cam, i)], w, h)
        graphics = self.scene.overlay(i)
        clear = 1.0 - full_alpha(spray, w, h)
        if graphics is not None:
            clear *= 1.0 - graphics[1]
        for layer in reversed(layers):
            composite(frame, layer)
        composite(frame, spray)
        if graphics is not None:
            color, alpha = graphics
            frame = frame * (1.0 - alpha[..., None]) + color * alpha[..., None]
        visible = np.zeros((len(layers), h, w), bool)
        seen = clear
        for k, layer in enumerate(layers):  # A is nearest: it hides B
            alpha = full_alpha(layer, w, h)
            visible[k] = alpha * seen >= 0.5
            seen = seen * (1.0 - alpha)
        return Composite(frame, visible, 1.0 - clear)


def render_video(plan: VideoPlan, frames_dir: Path, masks_dir: Path | None, height: int) -> Rendered:
    """Draw a clip into ``frames_dir`` (and FineDiving-HM gray masks into ``masks_dir``)."""
    clip = Clip(plan, height)
    h, w = clip.height, clip.width
    frames_dir.mkdir(parents=True, exist_ok=True)
    if masks_dir is not None:
        masks_dir.mkdir(parents=True, exist_ok=True)
    visible = np.zeros((len(clip.tracks), plan.n_frames, h, w), np.uint8)
    for i in range(plan.n_frames):
        c = clip.compose(i)
        visible[:, i] = c.visible
        image = clip.scene.finish(c.frame, i)
        number = plan.start_frame + i
        _encode(frames_dir / f"{number:05d}.jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), FRAME_QUALITY)
        if masks_dir is not None:
            union = c.visible.any(0).astype(np.uint8) * np.uint8(255)
            _encode(masks_dir / f"{number:05d}.jpg", union, MASK_QUALITY)
    per_athlete = [rle.encode_batch(visible[k]) for k in range(len(clip.tracks))]
    area = [rle.area(r) for r in per_athlete]
    masks, ids = [], []
    for i in range(plan.n_frames):
        keep = [k for k in range(len(clip.tracks)) if area[k][i] > 0]
        masks.append([per_athlete[k][i] for k in keep])
        ids.append([k + 1 for k in keep])
    return Rendered(plan.video_id, plan.frame_numbers, masks, ids, h, w)
