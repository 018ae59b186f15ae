"""Everything in the picture that is not the athlete: the venue, people, water, graphics, light.

The venue is painted once per clip into two panoramas in world coordinates: the far stands
(full of spectators, moving at a slower parallax than the pool) and the near venue (diving
tower or springboards, decks, advertising boards). Each frame warps them through the camera,
paints the water with moving ripples, the people on the platform and the deck (distractors a
segmenter can confuse with the athlete), camera flashes in the stands, and finally the
broadcast graphics and the lighting drift. None of it is in the ground-truth masks.
"""

from __future__ import annotations

import cv2
import numpy as np

from hm_annotate.synth.body import Look, Placement, Pose, parts
from hm_annotate.synth.camera import Camera
from hm_annotate.synth.motion import BOARD_Y, EDGE_X, PARTNER_SHIFT, PLATFORM_Y
from hm_annotate.synth.raster import Layer, Shape, rasterize

FAR_PARALLAX = 0.55
DECK_Y = 0.3
ADS_TOP = 0.8
BOARD_ROOT_X, FULCRUM_X, BOARD_THICK = -4.8, -2.7, 0.11
SKIN = ((241, 194, 160), (224, 172, 140), (198, 140, 105), (160, 110, 80), (120, 80, 55))
SUITS = (
    (200, 30, 40),
    (30, 40, 110),
    (25, 25, 30),
    (30, 90, 200),
    (20, 120, 70),
    (110, 40, 140),
    (230, 110, 30),
    (20, 130, 140),
    (170, 20, 90),
)
HAIR = ((30, 25, 22), (60, 40, 28), (95, 65, 40), (180, 150, 95))
CLOTHES = ((200, 200, 205), (40, 60, 120), (180, 40, 40), (30, 30, 30), (240, 200, 40), (60, 130, 70))
GREY = (120, 120, 120)
WORDS = ("FINA", "DIVING", "WORLD CUP", "AQUATICS", "CHAMPIONSHIPS", "SPORT", "SWIM", "10M", "LIVE")


def look(rng: np.random.Generator, women: bool, suit: tuple[int, int, int] | None = None) -> Look:
    """A random athlete: skin, swimsuit (one-piece for women, trunks for men), hair, size."""
    skin = np.clip(np.array(SKIN[rng.integers(len(SKIN))]) + rng.integers(-8, 9, 3), 0, 255)
    suit = suit if suit is not None else SUITS[rng.integers(len(SUITS))]
    scale = rng.uniform(0.9, 1.0) if women else rng.uniform(0.97, 1.07)
    return Look(
        float(scale), tuple(int(c) for c in skin), suit, HAIR[rng.integers(len(HAIR))], 0.5 if women else 0.1
    )


def _jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    return tuple(int(c) for c in np.clip(np.array(color) + rng.integers(-amount, amount + 1, 3), 0, 255))


class Panorama:
    """A world-coordinate painting (RGBA uint8) of a rectangle of the venue."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, px_per_m: float) -> None:
        self.x0, self.y1, self.ppm = x0, y1, px_per_m
        w, h = int(np.ceil((x1 - x0) * px_per_m)) + 1, int(np.ceil((y1 - y0) * px_per_m)) + 1
        self.image = np.zeros((h, w, 4), np.uint8)

    def px(self, x: float | np.ndarray, y: float | np.ndarray) -> np.ndarray:
        return np.stack([np.asarray((x - self.x0) * self.ppm), np.asarray((self.y1 - y) * self.ppm)], -1)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: tuple[int, int, int]) -> None:
        a, b = self.px(x0, y1), self.px(x1, y0)
        cv2.rectangle(self.image, tuple(int(v) for v in a), tuple(int(v) for v in b), (*color, 255), -1)

    def disc(self, x: float, y: float, r: float, color: tuple[int, int, int]) -> None:
        c = np.round(self.px(x, y) * 16).astype(np.int32)
        cv2.circle(
            self.image, tuple(int(v) for v in c), int(r * self.ppm * 16), (*color, 255), -1, cv2.LINE_AA, 4
        )

    def text(self, x: float, y: float, word: str, height: float, color: tuple[int, int, int]) -> None:
        scale = height * self.ppm / 22.0
        org = tuple(int(v) for v in self.px(x, y))
        cv2.putText(
            self.image, word, org, cv2.FONT_HERSHEY_DUPLEX, scale, (*color, 255), max(1, int(scale * 2))
        )

    def warp(self, cam: Camera, i: int, parallax: float = 1.0) -> np.ndarray:
        """The panorama as seen in frame i (H x W x 4)."""
        s, (cx, cy) = cam.scale[i], cam.centre[i] * parallax
        k = s / self.ppm
        m = np.array(
            [[k, 0, cam.width / 2 + s * (self.x0 - cx)], [0, k, cam.height / 2 - s * (self.y1 - cy)]]
        )
        return cv2.warpAffine(
            self.image, m, (cam.width, cam.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def _bounds(cam: Camera, parallax: float, margin: float = 1.0) -> tuple[float, float, float, float]:
    views = np.array([cam.view(i, parallax) for i in range(len(cam.scale))])
    return (
        views[:, 0].min() - margin,
        views[:, 1].min() - margin,
        views[:, 2].max() + margin,
        views[:, 3].max() + margin,
    )


def _stands(rng: np.random.Generator, cam: Camera) -> Panorama:
    x0, y0, x1, y1 = _bounds(cam, FAR_PARALLAX)
    pano = Panorama(x0, y0, x1, y1, float(cam.scale.max()))
    wall = _jitter(rng, (48, 56, 78), 15)
    pano.image[:] = (*wall, 255)
    seat = _jitter(rng, (40, 70, 150), 40)
    row_h, first = rng.uniform(0.4, 0.5), rng.uniform(0.2, 0.9)
    dim = rng.uniform(0.55, 0.8)  # the stands are lit less than the pool
    for row, y in enumerate(np.arange(first, y1 + row_h, row_h)):
        shade = 0.8 + 0.2 * (row % 2)
        pano.rect(x0, y - 0.06, x1, y + row_h - 0.06, tuple(int(c * shade * 0.6) for c in seat))
        xs = np.arange(x0 + rng.uniform(0, 0.3), x1, rng.uniform(0.22, 0.28))
        for x in xs + rng.normal(0, 0.02, len(xs)):
            if rng.random() < 0.15:  # an empty seat
                pano.rect(x - 0.07, y, x + 0.07, y + 0.15, seat)
                continue
            shirt = CLOTHES[rng.integers(len(CLOTHES))] if rng.random() < 0.4 else _jitter(rng, GREY, 90)
            pano.rect(x - 0.08, y, x + 0.08, y + 0.19, tuple(int(c * dim) for c in shirt))
            face = SKIN[rng.integers(len(SKIN))]
            pano.disc(x + rng.normal(0, 0.01), y + 0.25, 0.055, tuple(int(c * dim) for c in face))
    # roof lights and a banner or two across the stands
    for _ in range(int((x1 - x0) / 6) + 1):
        bx, by = rng.uniform(x0, x1), rng.uniform(first + 1.5, max(first + 2, y1 - 1))
        color = _jitter(rng, (200, 30, 40), 60)
        pano.rect(bx, by, bx + rng.uniform(2.0, 4.0), by + 0.45, color)
        pano.text(bx + 0.1, by + 0.08, WORDS[rng.integers(len(WORDS))], 0.32, (245, 245, 245))
    # the broadcast lens focuses on the athlete: the stands are soft
    sigma = rng.uniform(0.03, 0.06) * pano.ppm
    pano.image = cv2.GaussianBlur(pano.image, (0, 0), sigma)
    return pano


def _venue(rng: np.random.Generator, cam: Camera, platform: bool, pair: bool) -> Panorama:
    x0, y0, x1, y1 = _bounds(cam, 1.0)
    pano = Panorama(x0, max(y0, -1.0), x1, y1, float(cam.scale.max()))
    deck, coping = _jitter(rng, (205, 205, 200), 15), _jitter(rng, (90, 120, 150), 20)
    pano.rect(x0, 0.0, x1, DECK_Y, deck)
    pano.rect(x0, DECK_Y - 0.05, x1, DECK_Y, coping)
    # advertising boards along the far side of the pool
    x = x0
    while x < x1:
        w = rng.uniform(1.5, 3.5)
        color = _jitter(rng, SUITS[rng.integers(len(SUITS))], 30)
        pano.rect(x, DECK_Y, x + w - 0.05, ADS_TOP, color)
        pano.text(x + 0.15, DECK_Y + 0.14, WORDS[rng.integers(len(WORDS))], 0.3, (250, 250, 250))
        x += w
    concrete = _jitter(rng, (185, 180, 170), 15)
    dark = tuple(int(c * 0.75) for c in concrete)
    if platform:
        if pair:  # the platform is wide: its far half, where diver B stands, shows above it
            dx, dy = PARTNER_SHIFT
            pano.rect(-5.2 + dx, PLATFORM_Y - 0.35 + dy, EDGE_X + dx, PLATFORM_Y + dy, dark)
            pano.rect(
                EDGE_X + dx - 0.06, PLATFORM_Y - 0.35 + dy, EDGE_X + dx, PLATFORM_Y + dy, (235, 235, 230)
            )
        pano.rect(-4.3, DECK_Y, -2.6, PLATFORM_Y + 0.3, concrete)
        for sx in (-4.0, -3.4, -2.9):
            pano.rect(sx, DECK_Y, sx + 0.04, PLATFORM_Y, dark)
        for top, front in ((PLATFORM_Y, EDGE_X), (7.5, -0.8), (5.0, -0.5), (3.0, -1.2)):
            pano.rect(-5.2, top - 0.35, front, top, concrete)
            pano.rect(-5.2, top - 0.35, front, top - 0.3, dark)
            pano.rect(front - 0.06, top - 0.35, front, top, (235, 235, 230))
            pano.rect(-5.2, top + 0.95, front - 1.0, top + 1.0, (150, 150, 155))  # railing
            for rx in np.arange(-5.0, front - 1.0, 0.9):
                pano.rect(rx, top, rx + 0.04, top + 1.0, (150, 150, 155))
    else:
        # the stand of the 3 m board and a 1 m board below it; the 3 m board itself bends per frame
        pano.rect(FULCRUM_X - 0.2, DECK_Y, FULCRUM_X + 0.2, BOARD_Y - 0.12, concrete)
        pano.rect(BOARD_ROOT_X - 0.4, DECK_Y, BOARD_ROOT_X + 0.4, BOARD_Y - 0.05, dark)
        pano.rect(-5.0, 0.95, -0.3, 1.02, (225, 225, 220))
        pano.rect(-3.0, DECK_Y, -2.8, 0.95, dark)
        pano.rect(-12.0, DECK_Y, -8.5, PLATFORM_Y + 0.3, concrete)  # the diving tower further away
        pano.rect(-12.0, PLATFORM_Y - 0.35, -6.5, PLATFORM_Y, dark)
    return pano


def board_shapes(cam: Camera, i: int, dips: list[float], shifts: list[np.ndarray]) -> list[Shape]:
    """The springboard(s), bent by the board tip's deflection, as shapes for frame i."""
    shapes = []
    x = np.linspace(BOARD_ROOT_X, EDGE_X + 0.02, 24)
    rel = np.clip((x - FULCRUM_X) / (EDGE_X - FULCRUM_X), 0.0, None)
    for dip, shift in zip(dips, shifts, strict=True):
        top = BOARD_Y - dip * rel**1.6 + shift[1]
        xs = x + shift[0]
        outline = np.concatenate([np.stack([xs, top], 1), np.stack([xs, top - BOARD_THICK], 1)[::-1]])
        shapes.append(Shape(cam.to_px(i, outline), (232, 232, 226), outline=True))
        edge = np.stack([xs, top - BOARD_THICK + 0.045], 1)
        band = np.concatenate([edge, np.stack([xs, top - BOARD_THICK], 1)[::-1]])
        shapes.append(Shape(cam.to_px(i, band), (40, 90, 170)))
    return shapes


class Walker:
    """A person in the picture who is not the athlete: on the deck or on the platform."""

    def __init__(
        self, rng: np.random.Generator, start: tuple[float, float], speed: float, scale: float
    ) -> None:
        skin = _jitter(rng, SKIN[rng.integers(len(SKIN))], 6)
        clothes, hair = CLOTHES[rng.integers(len(CLOTHES))], HAIR[rng.integers(len(HAIR))]
        self.look = Look(scale * rng.uniform(0.95, 1.05), skin, clothes, hair, 0.55)
        self.start, self.speed = np.array(start), speed
        self.facing = 1 if speed >= 0 else int(rng.choice([-1, 1]))
        self.phase = rng.uniform(0, 2 * np.pi)
        self.stretch = rng.random() < 0.5 and speed == 0

    def shapes(self, cam: Camera, i: int, dt: float) -> list[Shape]:
        t = i * dt
        if self.speed:
            gait = np.sin(2 * np.pi * 1.8 * t + self.phase)
            pose = Pose(stride=0.35 * gait, swing=0.4 * gait, knee=0.15 + 0.1 * abs(gait), elbow=0.3)
        elif self.stretch:
            pose = Pose(shoulder=1.6 + 1.4 * np.sin(2 * np.pi * 0.6 * t + self.phase), elbow=0.2)
        else:
            pose = Pose(swing=0.1 * np.sin(2 * np.pi * 0.4 * t + self.phase), elbow=0.25)
        root = self.start + np.array([self.speed * t, 0.92 * self.look.scale])
        x0, y0, x1, y1 = cam.view(i)
        if not (x0 - 1 < root[0] < x1 + 1 and y0 - 1.5 < root[1] < y1 + 1.5):
            return []
        return cam.shapes(
            i, parts(pose, self.look, Placement((float(root[0]), float(root[1])), 0.0, self.facing))
        )


class Scene:
    """The venue, people, water, graphics and light of one clip."""

    def __init__(
        self, rng: np.random.Generator, cam: Camera, platform: bool, pair: bool, dt: float, t1: int
    ) -> None:
        self.cam, self.dt = cam, dt
        self.stands = _stands(rng, cam)
        self.venue = _venue(rng, cam, platform, pair)
        support = PLATFORM_Y if platform else DECK_Y
        self.people = [
            Walker(
                rng, (rng.uniform(-3.4, -2.0) + (PARTNER_SHIFT[0] if platform else 0.0), support), 0.0, 1.0
            ),
            Walker(
                rng,
                (rng.uniform(-6.0, 4.0), DECK_Y - 0.02),
                rng.choice([-1, 1]) * rng.uniform(0.6, 1.2),
                0.55,
            ),
        ]
        self.water_top = _jitter(rng, (120, 185, 200), 20)
        self.water_deep = _jitter(rng, (20, 80, 130), 20)
        self.ripple = rng.uniform(0.8, 1.4, 4)
        n, w, h = len(cam.scale), cam.width, cam.height
        # lighting: a slow drift of exposure and colour, and photographers' flashes in the stands
        tt = np.arange(n)
        self.gain = (1 + 0.07 * np.sin(2 * np.pi * tt / rng.uniform(40, 90) + rng.uniform(0, 6)))[:, None] * (
            1 + rng.uniform(-0.06, 0.06, 3)
        )
        self.flashes = [(i, rng.uniform(0, w), rng.uniform(0, h * 0.5)) for i in tt if rng.random() < 0.12]
        sigma = rng.uniform(1.5, 3.5)
        self.noise = rng.standard_normal((3, h, w, 3), dtype=np.float32) * np.float32(sigma)
        self.noise_pick = rng.integers(0, 12, n)
        self.graphics = self._graphics(rng, w, h, t1) if rng.random() < 0.7 else None

    def _graphics(self, rng: np.random.Generator, w: int, h: int, t1: int) -> tuple[np.ndarray, ...]:
        """A name caption (faded out before the take-off) and a channel logo that stays."""
        color = np.zeros((h, w, 3), np.float32)
        caption, logo = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        box = (int(0.04 * w), int(0.8 * h), int(0.46 * w), int(0.93 * h))
        corner = (int(0.84 * w), int(0.05 * h), int(0.96 * w), int(0.13 * h))
        fill = np.array(_jitter(rng, (20, 40, 110), 20), np.float32)
        for (x0, y0, x1, y1), alpha in ((box, caption), (corner, logo)):
            color[y0:y1, x0:x1] = fill
            alpha[y0:y1, x0:x1] = 0.85
        letters = list("ABCDEFGHIJKLMNOPRSTUVWYZ")
        name = "".join(rng.choice(letters, 6)) + " " + "".join(rng.choice(letters, 3))
        txt = np.zeros((h, w), np.uint8)
        font, size = cv2.FONT_HERSHEY_SIMPLEX, h / 600
        cv2.putText(txt, name, (box[0] + 6, box[3] - int(0.04 * h)), font, size, 255, 1, cv2.LINE_AA)
        cv2.putText(txt, "LIVE", (corner[0] + 4, corner[3] - 4), font, size, 255, 1, cv2.LINE_AA)
        color = np.where(txt[..., None] > 0, np.float32(250.0), color).astype(np.float32)
        fade = np.clip((0.8 * t1 - np.arange(len(self.cam.scale))) / 5.0, 0.0, 1.0).astype(np.float32)
        return color, caption, logo, fade

    def overlay(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Broadcast graphics of frame i: straight colour and opacity, or None."""
        if self.graphics is None:
            return None
        color, caption, logo, fade = self.graphics
        return color, logo + caption * fade[i]

    def _water(self, frame: np.ndarray, i: int) -> None:
        cam = self.cam
        v0 = int(np.clip(np.floor(cam.waterline(i)), 0, cam.height))
        if v0 >= cam.height:
            return
        rows = np.arange(v0, cam.height, dtype=np.float32) + 0.5
        cols = np.arange(cam.width, dtype=np.float32) + 0.5
        x, y = cam.to_world(i, cols[None, :], rows[:, None])
        depth = np.clip(-y, 0.0, None)
        t = i * self.dt
        a, b, c, d = self.ripple
        wave = (
            0.55 * np.sin(6.0 * a * x + 2.5 * np.sin(3.0 * b * y) + 5.0 * t) * np.sin(9.0 * c * y - 3.0 * t)
        )
        wave += 0.45 * np.sin(2.3 * d * x - 14.0 * y + 2.0 * t)
        mix = np.exp(-depth / 1.8)[..., None]
        water = self.water_top * mix + self.water_deep * (1 - mix) + (14.0 * wave)[..., None]
        # the edge row mixes air and water by how much of it lies below the surface
        cover = np.clip(rows + 0.5 - cam.waterline(i), 0.0, 1.0)[:, None, None]
        frame[v0:] = frame[v0:] * (1 - cover) + water * cover

    def background(self, i: int) -> np.ndarray:
        """The frame without athletes (float32 RGB, 0-255)."""
        far = self.stands.warp(self.cam, i, FAR_PARALLAX)[..., :3]
        near = self.venue.warp(self.cam, i)
        frame = cv2.blendLinear(
            near[..., :3], far, near[..., 3].astype(np.float32), 255.0 - near[..., 3].astype(np.float32)
        )
        frame = frame.astype(np.float32)
        for fi, u, v in self.flashes:
            if fi == i:
                cv2.circle(frame, (int(u), int(v)), 2, (255, 255, 255), -1, cv2.LINE_AA)
        self._water(frame, i)
        for person in self.people:
            composite(frame, rasterize(person.shapes(self.cam, i, self.dt), self.cam.width, self.cam.height))
        return frame

    def finish(self, frame: np.ndarray, i: int) -> np.ndarray:
        """Lighting drift and sensor noise (a few noise fields, flipped per frame); uint8 RGB."""
        k = int(self.noise_pick[i])
        noise = self.noise[k % 3]
        noise = noise[::-1] if k // 3 & 1 else noise
        noise = noise[:, ::-1] if k // 6 else noise
        out = frame * self.gain[i].astype(np.float32)
        out += noise
        np.clip(out, 0, 255, out=out)
        return out.astype(np.uint8)


def composite(frame: np.ndarray, layer: Layer) -> None:
    """Paint a premultiplied layer over a float frame in place."""
    if layer.empty:
        return
    h, w = layer.alpha.shape
    view = frame[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w]
    view *= 1.0 - layer.alpha[..., None]
    view += layer.color
