"""The Video record every dataset adapter yields and every consumer reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hm_annotate.errors import HMError


class DatasetError(HMError):
    """A dataset on disk that does not match its format (missing file, folder, frame)."""


@dataclass(frozen=True)
class Video:
    """One video of a dataset: its id, its frames by number, and its metadata.

    ``frame_numbers`` are the numbers in the frame file names (FineDiving: absolute frame
    numbers of the untrimmed broadcast video), ordered, never list positions.
    ``frame_paths`` maps a frame number to its image path relative to ``frames_root`` (e.g.
    ``"<event>/<instance>/00489.jpg"``), when frames are image files; None for video files.
    ``read_frame(n)`` returns frame ``n`` as an H x W x 3 uint8 RGB array.
    ``metadata`` keys used across the toolkit (absent when unknown): ``action_type`` (str),
    ``score``, ``difficulty`` (float), ``judge_scores`` (list[float]), ``split``
    ("train"/"test"), ``step_transitions`` (list[int], absolute frame numbers: the last frame of
    each preceding step), ``event`` / ``sport`` (str), ``athletes`` (int, 2 for synchronised).
    """

    id: str
    frame_numbers: tuple[int, ...]
    read_frame: Callable[[int], np.ndarray] = field(repr=False, compare=False)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    frame_paths: dict[int, str] | None = field(default=None, repr=False, compare=False)
    frames_root: str | None = field(default=None, compare=False)

    def frames(self, numbers: Sequence[int] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_number, rgb)`` in order, for all frames or the given numbers."""
        for n in self.frame_numbers if numbers is None else numbers:
            yield n, self.read_frame(n)
