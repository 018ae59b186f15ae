"""Query/exemplar pairs for Uni-FineParser: temporal sampling, masks by frame number, joint augmentation.

Temporal sampling follows the FineDiving reference loaders: ``num_frames`` (103) positions are
spread evenly over the clip with ``np.linspace(0, F - 1, T).astype(int)``; longer clips are
subsampled and shorter clips repeat frames. The reference computes the same positions from frame
numbers (``linspace(start, end) - start``), which equals ours when frame numbers are consecutive
and would index the wrong file when they are not; we work on positions and keep the numbers.
Training jitters the end of the span by ``data.temporal_shift`` frames as FineParser's loader
does (positions past the clip repeat its last frame). Step transitions (absolute frame numbers,
the last frame of each preceding step) map to the last sampled index whose frame number is <=
the transition: what the reference's "first index of the next step's label, minus 1" gives.

Spatially, frames are resized (``data.resize`` and ``data.resize_mode``) and cropped to
``image_size`` (random crop + horizontal flip for training, centre crop for testing), as the
reference transforms do; masks get the same resize, crop and flip. The reference asks for
(455, 256) but its video Resize swaps the tuple for PIL images, so its frames are 256 wide x 455
high (squeezed sideways, stretched up) before the crop: ``resize_mode: reference`` does exactly
that, ``aspect`` resizes to 455 wide x 256 high, FineDiving's own shape. Masks are matched to
frames by frame number, never by list position.

Decoding ~100 JPEGs per video each epoch dominates CPU training on small datasets, so decoded,
resized frames are kept in memory per video when the estimated total fits a budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError

# per-channel (mean, std) applied to [0, 1] inputs, by DataConfig.normalisation
NORMALISATION_STATS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "i3d_rgb_imagenet": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),  # [-1, 1], piergiaj rgb_imagenet.pt
    "model_rgb": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # ImageNet, reference loaders
}
MASK_LAYERS = ("corrected", "pseudo", "curated")
DEFAULT_CACHE_BYTES = 4 << 30


class DataError(HMError):
    """A dataset or mask store that cannot feed the trainer (missing scores, masks, exemplars)."""


class MissingMasksError(DataError):
    """The mask store lacks masks for videos (or frames) the run needs."""


# ----------------------------------------------------------------------------- temporal sampling


def sample_positions(num_available: int, num_frames: int, shift: int = 0) -> np.ndarray:
    """Positions (into the clip's frame list) of the ``num_frames`` frames the model sees.

    ``shift`` moves the end of the sampled span (FineParser's temporal augmentation).
    """
    if num_available < 1:
        raise ValueError("a clip needs at least one frame")
    end = max(num_available - 1 + shift, 0)
    return np.clip(np.linspace(0, end, num_frames).astype(np.int64), 0, num_available - 1)


def map_transitions(sampled_numbers: np.ndarray, transitions: Sequence[int], width: int) -> np.ndarray:
    """Map absolute transition frame numbers into sampled-clip indices, padded with -1 to ``width``.

    A transition becomes the last sampled index whose frame number is <= it, clamped to the clip.
    """
    if len(transitions) > width:
        raise ValueError(f"{len(transitions)} transitions do not fit width {width}")
    out = np.full(width, -1, dtype=np.int64)
    if len(transitions):
        idx = np.searchsorted(sampled_numbers, np.asarray(transitions, dtype=np.int64), side="right") - 1
        out[: len(transitions)] = np.clip(idx, 0, len(sampled_numbers) - 1)
    return out


# ----------------------------------------------------------------------------- spatial transforms


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = shape
    if image.shape[:2] == (h, w):
        return image
    shrink = h * w < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize F x h x w {0,1} masks to ``shape`` (area-averaged, then thresholded at one half)."""
    if masks.shape[1:] == tuple(shape):
        return masks.astype(np.uint8, copy=False)
    out = np.empty((len(masks), *shape), dtype=np.uint8)
    for i, m in enumerate(masks):
        out[i] = _resize(m.astype(np.uint8) * 255, shape) >= 128
    return out


@dataclass(frozen=True)
class Augment:
    """One clip's crop window and flip; applied identically to its frames and its masks."""

    top: int
    left: int
    size: int
    flip: bool

    @staticmethod
    def draw(shape: tuple[int, int], size: int, rng: np.random.Generator | None,
             flip: bool = True) -> Augment:
        """A random crop (and flip, p = 0.5, when ``flip``) when ``rng`` is given, else the centre crop."""
        h, w = shape
        if rng is None:
            return Augment((h - size) // 2, (w - size) // 2, size, False)
        top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        return Augment(top, left, size, flip and bool(rng.random() < 0.5))

    def apply(self, clip: np.ndarray) -> np.ndarray:
        """Crop (and flip) a T x H x W [x C] array on its spatial axes."""
        out = clip[:, self.top:self.top + self.size, self.left:self.left + self.size]
        return out[:, :, ::-1] if self.flip else out


def to_video_tensor(clip: np.ndarray, normalisation: str):
    """T x H x W x 3 uint8 -> 3 x T x H x W float32, normalised as the backbone expects."""
    import torch

    if normalisation not in NORMALISATION_STATS:
        raise DataError(f"unknown normalisation {normalisation!r} (known: {', '.join(NORMALISATION_STATS)})")
    mean, std = (torch.tensor(v, dtype=torch.float32).view(3, 1, 1, 1)
                 for v in NORMALISATION_STATS[normalisation])
    video = torch.from_numpy(np.ascontiguousarray(clip)).permute(3, 0, 1, 2).float().div_(255.0)
    return video.sub_(mean).div_(std)


# ----------------------------------------------------------------------------- decoded frame cache


class FrameCache:
    """Decoded frames per video, resized to ``(height, width)``.

    Keeping whole videos in memory saves re-decoding ~100 JPEGs per video per epoch (and keeps
    temporal jitter free); ``enabled=False`` (large datasets) decodes only the frames asked for,
    on every access. Populate it in the main process (``preload``) before DataLoader workers
    fork, so workers share the pages.
    """

    def __init__(self, shape: tuple[int, int], enabled: bool = True) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.enabled = enabled
        self._videos: dict[str, np.ndarray] = {}

    def frames(self, video: Video, positions: np.ndarray) -> np.ndarray:
        """T x H x W x 3 uint8 frames at the given positions of ``video.frame_numbers``."""
        cached = self._videos.get(video.id)
        if cached is None and self.enabled:
            cached = self._videos[video.id] = self._decode(video, np.arange(len(video.frame_numbers)))
        if cached is not None:
            return cached[positions]
        unique, inverse = np.unique(positions, return_inverse=True)
        return self._decode(video, unique)[inverse]

    def _decode(self, video: Video, positions: np.ndarray) -> np.ndarray:
        out = np.empty((len(positions), *self.shape, 3), np.uint8)
        for i, p in enumerate(positions):
            n = video.frame_numbers[int(p)]
            try:
                rgb = video.read_frame(n)
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"video {video.id}, frame {n}: cannot read ({exc})") from exc
            out[i] = _resize(rgb, self.shape)
        return out

    def preload(self, videos: Sequence[Video], progress: bool = True) -> None:
        """Decode every video not yet cached (no-op when the cache is disabled)."""
        if not self.enabled:
            return
        from tqdm import tqdm

        todo = [v for v in {v.id: v for v in videos}.values() if v.id not in self._videos]
        for video in tqdm(todo, desc="decode frames", unit="video", disable=None if progress else True):
            self.frames(video, np.zeros(1, np.int64))

    def __len__(self) -> int:
        return len(self._videos)


def cache_fits(videos: Sequence[Video], shape: tuple[int, int],
               budget_bytes: int = DEFAULT_CACHE_BYTES) -> bool:
    """Whether keeping every frame of every video at ``shape`` stays within the memory budget."""
    frames = sum(len(v.frame_numbers) for v in {v.id: v for v in videos}.values())
    return frames * shape[0] * shape[1] * 3 <= budget_bytes


# ----------------------------------------------------------------------------- masks


@dataclass
class MaskSource:
    """Masks of one store layer, matched to a video's frames by frame number.

    ``allow_missing`` turns absent videos/frames into empty masks; ``missing`` then counts them
    (video id -> number of frames without a mask) and :meth:`present` tells which frames have one,
    so that the attention loss can leave the others out.
    """

    path: str
    layer: str
    allow_missing: bool = False
    cache: bool = True
    missing: dict[str, int] = field(default_factory=dict)
    _masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _present: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.layer not in MASK_LAYERS:
            raise DataError(f"mask layer {self.layer!r}: expected one of {', '.join(MASK_LAYERS)}")

    def _open(self):
        from hm_annotate.store import MaskStore

        return MaskStore.open(self.path)

    def check(self, videos: Sequence[Video]) -> None:
        """Find videos with frames that lack masks; raise unless missing masks are allowed.

        Reads only frame lists (no mask decoding), so it is cheap enough to run up front.
        """
        missing: dict[str, int] = {}
        with self._open() as store:
            for video in {v.id: v for v in videos}.values():
                numbers = np.asarray(video.frame_numbers, dtype=np.int64)
                if not store.has(video.id, self.layer):
                    missing[video.id] = len(numbers)
                    continue
                absent = int((~np.isin(numbers, store.area_bbox(video.id, self.layer)[0])).sum())
                if absent:
                    missing[video.id] = absent
        self.missing = missing
        if missing and not self.allow_missing:
            shown = ", ".join(f"{vid} ({n} frames)" for vid, n in list(missing.items())[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise MissingMasksError(
                f"{self.path}: layer {self.layer!r} lacks masks for {len(missing)} video(s) of the split: "
                f"{shown}{more} (allow_missing=True trains with empty masks there)")

    def get(self, video: Video, shape: tuple[int, int]) -> np.ndarray:
        """F x H x W uint8 {0,1} masks for every frame of ``video`` (in its order), resized to ``shape``."""
        masks = self._masks.get(video.id)
        if masks is None or masks.shape[1:] != tuple(shape):
            masks, self._present[video.id] = self._load(video, shape)
            if self.cache:
                self._masks[video.id] = masks
        return masks

    def present(self, video: Video) -> np.ndarray:
        """F booleans: which frames of ``video`` (in its order) have a mask in the store."""
        if video.id not in self._present:
            self._present[video.id] = self._load(video, (1, 1))[1]
        return self._present[video.id]

    def _load(self, video: Video, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        numbers = np.asarray(video.frame_numbers, dtype=np.int64)
        out = np.zeros((len(numbers), *shape), dtype=np.uint8)
        with self._open() as store:
            if not store.has(video.id, self.layer):
                if not self.allow_missing:
                    raise MissingMasksError(f"{self.path}: no {self.layer!r} masks for video {video.id}")
                return out, np.zeros(len(numbers), bool)
            frames, masks = store.masks(video.id, self.layer)
        if not len(frames):
            present, pos = np.zeros(len(numbers), bool), np.zeros(len(numbers), np.int64)
        else:
            pos = np.clip(np.searchsorted(frames, numbers), 0, len(frames) - 1)
            present = frames[pos] == numbers
        if not present.all() and not self.allow_missing:
            absent = numbers[~present][:5].tolist()
            raise MissingMasksError(
                f"{self.path}: video {video.id}: no {self.layer!r} mask for frames {absent}")
        out[present] = resize_masks(masks[pos[present]], shape)
        return out, present


# ----------------------------------------------------------------------------- pairs


def _require_metadata(video: Video, key: str) -> Any:
    value = video.metadata.get(key)
    if value is None:
        raise DataError(f"video {video.id}: metadata has no {key!r}")
    return value


def _difficulty(video: Video) -> float:
    """Degree of difficulty, NaN when the dataset has none (only the DD setting needs it)."""
    value = video.metadata.get("difficulty")
    return math.nan if value is None else float(value)


class PairDataset:
    """Query/exemplar pairs of one split, as the dict samples the trainer batches.

    Exemplars come from ``pool`` and share the query's group: its action type (``exemplar_mode``
    "an", the paper's setting) or its difficulty ("dd"; samples keep raw scores, the loss and the
    voting divide by the difficulty). Training: ``num_exemplars_train`` items per query; each
    draws a random pool video of the group (not the query itself when another exists) from a
    generator seeded by ``(seed, epoch, index)``, as do the crop, flip and temporal jitter, so
    pairs and augmentations depend on nothing else (identical across mask conditions, workers
    and resumed runs). Testing: each query paired with up to ``num_exemplars_vote`` pool videos of
    its group (shuffled once by ``seed``), no augmentation; ``pairs`` lists them for voting.
    """

    def __init__(self, queries: Sequence[Video], pool: Sequence[Video], data_cfg: Any, *, train: bool,
                 frames: FrameCache, masks: MaskSource | None = None, seed: int = 0) -> None:
        if not queries:
            raise DataError("no query videos in the split")
        if not pool:
            raise DataError("no exemplar videos (the training split is empty)")
        if data_cfg.normalisation not in NORMALISATION_STATS:
            raise DataError(f"unknown normalisation {data_cfg.normalisation!r}")
        self.queries, self.pool = list(queries), list(pool)
        self.cfg = data_cfg
        self.train = train
        self.frames = frames
        self.masks = masks
        self.seed = seed
        self.epoch = 0
        self.by_difficulty = data_cfg.exemplar_mode == "dd"
        for v in (*self.queries, *self.pool):
            float(_require_metadata(v, "score"))
            _require_metadata(v, "difficulty" if self.by_difficulty else "action_type")
        self._groups: dict[str, list[int]] = {}
        for j, v in enumerate(self.pool):
            self._groups.setdefault(self.group(v), []).append(j)
        orphans = [q for q in self.queries if self.group(q) not in self._groups]
        if orphans:
            kinds = sorted({self.group(q) for q in orphans})
            raise DataError(f"no training video of {self._group_name()} {', '.join(kinds)} to pair with "
                            f"{len(orphans)} query video(s), e.g. {', '.join(q.id for q in orphans[:3])}")
        self.width = max(1, *(len(v.metadata.get("step_transitions") or ())
                              for v in (*self.queries, *self.pool)))
        self.pairs: list[tuple[int, int]] = [] if train else self._test_pairs(data_cfg.num_exemplars_vote)

    def group(self, video: Video) -> str:
        """The key exemplars must share with their query."""
        key = "difficulty" if self.by_difficulty else "action_type"
        return str(video.metadata[key])

    def _group_name(self) -> str:
        return "difficulty" if self.by_difficulty else "action type"

    def _candidates(self, query: Video) -> list[int]:
        members = self._groups[self.group(query)]
        return [j for j in members if self.pool[j].id != query.id] or members

    def _test_pairs(self, num_exemplars: int) -> list[tuple[int, int]]:
        rng = np.random.default_rng(self.seed)
        pairs = []
        for i, q in enumerate(self.queries):
            chosen = rng.permutation(self._candidates(q))[:num_exemplars]
            pairs.extend((i, int(j)) for j in chosen)
        return pairs

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose exemplars and augmentations ``__getitem__`` draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.queries) * self.cfg.num_exemplars_train if self.train else len(self.pairs)

    def pair(self, index: int) -> tuple[int, int]:
        """(query index, pool index) of item ``index`` in the current epoch."""
        if not self.train:
            return self.pairs[index]
        q = index // self.cfg.num_exemplars_train
        others = self._candidates(self.queries[q])
        rng = np.random.default_rng([self.seed, self.epoch, index, 0])
        return q, others[int(rng.integers(len(others)))]

    def __getitem__(self, index: int) -> dict[str, Any]:
        q, e = self.pair(index)
        sample: dict[str, Any] = {}
        for prefix, video, stream in (("q", self.queries[q], 1), ("e", self.pool[e], 2)):
            rng = np.random.default_rng([self.seed, self.epoch, index, stream]) if self.train else None
            sample.update(self.sample_video(video, prefix, rng))
        return sample

    def sample_video(self, video: Video, prefix: str,
                     rng: np.random.Generator | None = None) -> dict[str, Any]:
        """One side of a pair (keys ``<prefix>_video``, ``_score``, ...); ``rng=None``: test-time view."""
        import torch

        shift = int(rng.integers(self.cfg.temporal_shift[0], self.cfg.temporal_shift[1] + 1)) if rng else 0
        positions = sample_positions(len(video.frame_numbers), self.cfg.num_frames, shift)
        numbers = np.asarray(video.frame_numbers, dtype=np.int64)[positions]
        frames = self.frames.frames(video, positions)
        aug = Augment.draw(frames.shape[1:3], self.cfg.image_size, rng, self.cfg.horizontal_flip)
        out: dict[str, Any] = {
            f"{prefix}_video": to_video_tensor(aug.apply(frames), self.cfg.normalisation),
            f"{prefix}_score": torch.tensor(float(video.metadata["score"]), dtype=torch.float32),
            f"{prefix}_difficulty": torch.tensor(_difficulty(video), dtype=torch.float32),
            f"{prefix}_transitions": torch.from_numpy(
                map_transitions(numbers, video.metadata.get("step_transitions") or (), self.width)),
            f"{prefix}_id": video.id,
        }
        if self.masks is not None:
            masks = self.masks.get(video, self.frames.shape)[positions]
            mask = np.ascontiguousarray(aug.apply(masks))
            out[f"{prefix}_mask"] = torch.from_numpy(mask).float().unsqueeze(0)
            present = self.masks.present(video)[positions].astype(np.float32)
            out[f"{prefix}_mask_present"] = torch.from_numpy(present)
        return out


# ----------------------------------------------------------------------------- building the splits


@dataclass
class Splits:
    """The training and test pair datasets of one run, sharing one frame cache."""

    train: PairDataset
    test: PairDataset
    frames: FrameCache
    masks: MaskSource | None


def load_dataset(data_cfg: Any) -> tuple[list[Video], list[Video]]:
    """(train, test) videos of ``data.dataset`` under ``data.data_root`` through the dataset adapters.

    AQA-7 trains one model per sport: ``data.aqa7_class`` keeps that class only.
    """
    from hm_annotate.datasets import load_videos

    if not data_cfg.data_root:
        raise DataError("no data root: set data.data_root")
    splits = []
    for split in ("train", "test"):
        videos = list(load_videos(data_cfg.dataset, data_cfg.data_root, split=split))
        if data_cfg.aqa7_class:
            videos = [v for v in videos if v.metadata.get("action_type") == data_cfg.aqa7_class]
        if not videos:
            only = f" of class {data_cfg.aqa7_class}" if data_cfg.aqa7_class else ""
            raise DataError(f"{data_cfg.data_root}: no {split} videos{only} in {data_cfg.dataset} format")
        splits.append(videos)
    return splits[0], splits[1]


def mask_source(data_cfg: Any, allow_missing: bool = False) -> MaskSource | None:
    """The masks ``data`` asks for (``use_masks`` and a ``mask_store``), or None for a no-mask run."""
    if not (data_cfg.use_masks and data_cfg.mask_store):
        return None
    return MaskSource(str(data_cfg.mask_store), data_cfg.mask_layer, allow_missing=allow_missing)


def frame_shape(data_cfg: Any) -> tuple[int, int]:
    """(height, width) frames are resized to before cropping.

    ``data.resize`` is (width, height) as written; ``resize_mode: reference`` swaps it, as the
    reference's transform does with PIL images.
    """
    width, height = int(data_cfg.resize[0]), int(data_cfg.resize[1])
    return (width, height) if data_cfg.resize_mode == "reference" else (height, width)


def build_splits(train_videos: Sequence[Video], test_videos: Sequence[Video], data_cfg: Any, *, seed: int,
                 masks: MaskSource | None = None, frames: FrameCache | None = None,
                 cache: bool | None = None, progress: bool = True, test_only: bool = False) -> Splits:
    """Pair datasets for a run: training queries paired within the training split, test queries with
    training exemplars; masks checked up front; frames decoded into the cache now when enabled.

    ``cache=None`` caches when all frames fit ``DEFAULT_CACHE_BYTES``; pass ``frames`` to share
    decoded frames between runs (e.g. the GTM / PM / no-mask comparison). ``test_only`` (for
    evaluation) checks and decodes only the test queries and the exemplars they vote with.
    """
    every = [*train_videos, *test_videos]
    if frames is None:
        shape = frame_shape(data_cfg)
        frames = FrameCache(shape, enabled=cache if cache is not None else cache_fits(every, shape))
    common = dict(frames=frames, masks=masks, seed=seed)
    train = PairDataset(train_videos, train_videos, data_cfg, train=True, **common)
    test = PairDataset(test_videos, train_videos, data_cfg, train=False, **common)
    if test_only:
        every = [*test.queries, *(test.pool[j] for j in sorted({e for _, e in test.pairs}))]
    if masks is not None:
        masks.check(every)
    frames.preload(every, progress=progress)
    if masks is not None and masks.cache and frames.enabled:
        for video in every:
            masks.get(video, frames.shape)
    return Splits(train=train, test=test, frames=frames, masks=masks)
