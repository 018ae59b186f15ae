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
        n = int(25 + 110 * size)
        self.entry, self.x, self.size, self.dt = entry_frame, x, size, dt
        self.x0 = x + rng.normal(0.0, 0.08, n)
        self.vx = rng.normal(0.0, 0.4 + 1.1 * size, n)
        self.vy = rng.uniform(1.5, 2.5 + 5.0 * size, n)
        self.r = rng.uniform(0.02, 0.045 + 0.04 * size, n)
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


def render_video(plan: VideoPlan, frames_dir: Path, masks_dir: Path | None, height: int) -> Rendered:
    """Draw a clip into ``frames_dir`` (and FineDiving-HM gray masks into ``masks_dir``)."""
    rng = np.random.default_rng(plan.seed)
    h, w = frame_size(height)
    women = plan.gender == "Women"
    looks = [look(rng, women)]
    tracks = [track(plan, 0, looks[0], rng)]
    if plan.sync:
        looks.append(look(rng, women, suit=looks[0].suit))
        tracks.append(track(plan, 1, looks[1], rng, dt=tracks[0].dt))
    roots = np.mean([[p.root for p in tr.places] for tr in tracks], axis=0)
    cam = follow(roots, (plan.takeoff_end, tracks[0].entry_frame), w, h, rng, plan.sync)
    scene = Scene(rng, cam, plan.platform, tracks[0].dt, plan.takeoff_end)
    splashes = [
        Splash(rng, tr.entry_frame, tr.entry_x, ex.splash, tr.dt)
        for tr, ex in zip(tracks, plan.athletes, strict=True)
    ]
    blur = rng.uniform(0.4, 0.9) if rng.random() < BLUR_PROBABILITY else 0.0
    shifts = [np.zeros(2), PARTNER_SHIFT][: len(tracks)]

    frames_dir.mkdir(parents=True, exist_ok=True)
    if masks_dir is not None:
        masks_dir.mkdir(parents=True, exist_ok=True)
    visible = np.zeros((len(tracks), plan.n_frames, h, w), np.uint8)
    for i in range(plan.n_frames):
        frame = scene.background(i)
        if not plan.platform:
            dips = [float(tr.board_dip[i]) for tr in tracks][::-1]
            composite(frame, rasterize(board_shapes(cam, i, dips, shifts[::-1]), w, h))
        layers = [_athlete_layer(tr, lk, cam, i, blur) for tr, lk in zip(tracks, looks, strict=True)]
        spray = rasterize([s for sp in splashes for s in sp.shapes(cam, i)], w, h)
        # the far athlete (B) first, then A, then the splash and the graphics over both
        alphas = [full_alpha(layer, w, h) for layer in layers]
        occluded = 1.0 - full_alpha(spray, w, h)
        graphics = scene.overlay(i)
        if graphics is not None:
            occluded *= 1.0 - graphics[1]
        for k in reversed(range(len(layers))):
            composite(frame, layers[k])
        cover = occluded
        for k in range(len(layers)):
            visible[k, i] = (alphas[k] * cover) >= 0.5
            cover = cover * (1.0 - alphas[k])
        composite(frame, spray)
        if graphics is not None:
            color, alpha = graphics
            frame = frame * (1.0 - alpha[..., None]) + color * alpha[..., None]
        image = scene.finish(frame, i)
        number = plan.start_frame + i
        _encode(frames_dir / f"{number:05d}.jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), FRAME_QUALITY)
        if masks_dir is not None:
            union = visible[:, i].max(0) * np.uint8(255)
            _encode(masks_dir / f"{number:05d}.jpg", union, MASK_QUALITY)
    per_athlete = [rle.encode_batch(visible[k]) for k in range(len(tracks))]
    area = [rle.area(r) for r in per_athlete]
    masks, ids = [], []
    for i in range(plan.n_frames):
        keep = [k for k in range(len(tracks)) if area[k][i] > 0]
        masks.append([per_athlete[k][i] for k in keep])
        ids.append([k + 1 for k in keep])
    return Rendered(plan.video_id, plan.frame_numbers, masks, ids, h, w)
