"""The tracker interface: one instance follows one object through one video."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Track:
    """Where the tracker thinks the object is in a new frame.

    ``confidence`` is in [0, 1]; the pipeline treats values under its threshold as a lost target.
    ``mask`` is the previous mask carried into this frame when the tracker can do that (flow),
    which the segmenter may use as a prior; None otherwise.
    """

    box: np.ndarray
    confidence: float
    mask: np.ndarray | None = None


class Tracker(ABC):
    """Follows one object: ``start`` on a known box, ``update`` per frame, ``correct`` with the mask.

    Frames are H x W x 3 uint8 RGB.
    """

    name: str = ""

    @abstractmethod
    def start(self, frame: np.ndarray, box: np.ndarray) -> None:
        """(Re)initialise on ``frame`` where the object is in ``box``."""

    @abstractmethod
    def update(self, frame: np.ndarray) -> Track | None:
        """The object's place in the next frame, or None when the tracker has lost it."""

    @abstractmethod
    def correct(self, frame: np.ndarray, mask: np.ndarray) -> None:
        """The segmenter's mask for the frame just tracked or started (trackers may use it to re-anchor)."""

    def describe(self) -> dict[str, Any]:
        """Provenance: which tracker and parameters."""
        return {"tracker": self.name}
