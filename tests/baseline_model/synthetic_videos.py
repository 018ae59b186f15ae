"""Tiny in-memory FineDiving-like videos and mask stores for the trainer's tests.

Frame ``n`` has a horizontal ramp in red (so crops and flips are recognisable), its number
(mod 251) in the green channel's top-left pixel block, and an "athlete" box (blue 255) whose
column depends on ``n``; the store's mask of frame ``n`` is that box. So a test can tell from
pixels alone which frame it got, how it was cropped, and whether its mask belongs to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.datasets.base import Video
from hm_annotate.store import LayerData, MaskStore

HEIGHT, WIDTH = 64, 112      # short side 64 = 56 * 256 / 224: no resize at image_size 56
BOX_H, BOX_W, BOX_TOP = 24, 12, 20


def box_left(n: int, width: int = WIDTH) -> int:
    """Column of frame ``n``'s athlete box."""
    return (n * 7) % (width - BOX_W)


def box_mask(n: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Frame ``n``'s foreground mask at ``height x width`` (scaled box)."""
    sy, sx = height / HEIGHT, width / WIDTH
    m = np.zeros((height, width), np.uint8)
    top, left = round(BOX_TOP * sy), round(box_left(n) * sx)
    m[top:top + round(BOX_H * sy), left:left + round(BOX_W * sx)] = 1
    return m


def frame_image(n: int, score: float = 0.0) -> np.ndarray:
    """Frame ``n`` as RGB uint8; ``score`` brightens the green channel of the box (a learnable cue)."""
    img = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    img[..., 0] = np.arange(WIDTH, dtype=np.uint8) * 2
    img[:4, :4, 1] = n % 251
    box = box_mask(n).astype(bool)
    img[box] = (255, int(np.clip(score * 2.5, 0, 255)), 255)
    return img


def make_video(video_id: str, numbers: Sequence[int], action_type: str, score: float, *,
               split: str = "train", transitions: Sequence[int] | None = None,
               reads: list[int] | None = None) -> Video:
    """A Video record over synthetic frames; ``reads`` (when given) collects decoded frame numbers."""
    def read(n: int) -> np.ndarray:
        if n not in numbers:
            raise KeyError(n)
        if reads is not None:
            reads.append(n)
        return frame_image(n, score)

    meta = {"action_type": action_type, "score": float(score), "difficulty": 3.0, "split": split,
            "step_transitions": list(transitions) if transitions is not None else []}
    return Video(id=video_id, frame_numbers=tuple(numbers), read_frame=read, metadata=meta)


def make_dataset(n_train: int = 8, n_test: int = 4, length: int = 20, types: Sequence[str] = ("107b", "207c"),
                 seed: int = 0) -> tuple[list[Video], list[Video]]:
    """Train and test videos over two action types, scores spread over 20-100."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Video]] = {"train": [], "test": []}
    for split, count in (("train", n_train), ("test", n_test)):
        for i in range(count):
            start = 100 * (i + 1) + (0 if split == "train" else 5000)
            numbers = list(range(start, start + length))
            t = [start + length // 3, start + 2 * length // 3]
            out[split].append(make_video(f"{split}_ev/{i}", numbers, types[i % len(types)],
                                         float(rng.uniform(20, 100)), split=split, transitions=t))
    return out["train"], out["test"]


def write_store(path, videos: Sequence[Video], layer: str = "corrected", *, offset: int = 0,
                size: tuple[int, int] = (HEIGHT, WIDTH), extra: int = 0) -> None:
    """A store with each video's box masks; frames numbered from ``first - extra`` (extra masks
    before the clip) and boxes drawn for ``number + offset`` (a wrong offset makes wrong masks)."""
    with MaskStore.open(path, mode="a") as st, st.transaction():
        for v in videos:
            numbers = np.arange(v.frame_numbers[0] - extra, v.frame_numbers[-1] + 1)
            masks = np.stack([box_mask(int(n) + offset, *size) for n in numbers])
            data = LayerData(frames=numbers, masks=[[r] for r in rle.encode_batch(masks)],
                             height=size[0], width=size[1])
            st.put(v.id, layer, data, metadata=dict(v.metadata))


def tiny_config(train: dict | None = None, data: dict | None = None, model: dict | None = None):
    """A Config small enough to train on two busy CPU cores in seconds (32-pixel, 9-frame clips)."""
    from baseline_model.config import config_from_dict

    return config_from_dict({
        "model": {"i3d_width": 0.125, "sve_layers": [1, 1, 1, 1], "sve_width": 0.125, "query_dim": 16,
                  "num_heads": 2, "encoder_dims": [16, 16], "regressor_dims": [16, 8], "num_queries": 3,
                  **(model or {})},
        "data": {"num_frames": 9, "num_snippets": 2, "snippet_len": 4, "snippet_stride": 5, "image_size": 32,
                 "resize": [WIDTH // 2, HEIGHT // 2], "temporal_shift": [-1, 0], "num_exemplars_vote": 2,
                 "normalisation": "model_rgb", **(data or {})},
        "train": {"epochs": 2, "batch_size": 2, "grad_accum": 1, "num_workers": 0, "warmup_epochs": 1,
                  "eval_batch_size": 4, "lr": 1e-3, **(train or {})},
    })


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Run torch on one thread: on two shared, busy cores two OpenMP threads make small models ~10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
