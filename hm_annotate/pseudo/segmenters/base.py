"""The segmenter interface the pseudo-label pipeline drives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Segmentation:
    """One object's mask in one frame and how sure the segmenter is (NaN when it cannot say)."""

    mask: np.ndarray  # H x W bool
    score: float


class Segmenter(ABC):
    """Box prompt -> mask, split in two steps.

    ``prepare`` does the per-image work that does not depend on the prompt (SAM's image encoder),
    so the pipeline can batch it over several frames; ``segment`` then answers the prompts of one
    frame, which are only known once the tracker has seen that frame. The pipeline calls
    ``prepare`` on a worker thread, batches ahead of ``segment`` (``prefetch``), so the two run
    at the same time and ``prepare`` must not touch what ``segment`` uses.
    """

    name: str = ""
    # frames (as offsets) whose camera-compensated difference the segmenter wants as a cue; () = none
    motion_offsets: tuple[int, ...] = ()
    # whether ``segment`` uses ``appearance`` (the pipeline then keeps each athlete's colour model)
    uses_appearance: bool = False

    def needs_motion(self, image: Any, boxes: np.ndarray) -> bool:
        """Whether ``segment`` on these boxes of this prepared frame will use the motion cue (the
        pipeline makes it only then: it is the costliest input); by default whenever it asks for one."""
        return bool(self.motion_offsets)

    def prepare(self, frames: Sequence[np.ndarray]) -> list[Any]:
        """Per-frame state for ``segment`` from H x W x 3 uint8 RGB frames; by default the frames."""
        return list(frames)

    @abstractmethod
    def segment(
        self,
        image: Any,
        boxes: np.ndarray,
        priors: Sequence[np.ndarray | None],
        seed: int,
        motion: np.ndarray | None = None,
        appearance: Sequence[np.ndarray | None] | None = None,
    ) -> list[Segmentation]:
        """Masks for ``boxes`` (k x 4 ``x0, y0, x1, y1`` pixels) in one prepared frame.

        ``priors`` holds, per object, the previous mask moved to this frame (or None), which
        segmenters may use as a hint; ``seed`` makes randomised segmenters reproducible no matter
        what ran before; ``motion`` is the frame's per-pixel difference from the
        camera-compensated background (H x W float32) when ``motion_offsets`` asked for it;
        ``appearance`` holds, per object, the athlete's colours learned over the video so far
        (a ``colours`` histogram, or None before the first mask) when ``uses_appearance``.
        """

    def describe(self) -> dict[str, Any]:
        """Provenance: what model and parameters made the masks."""
        return {"segmenter": self.name}
