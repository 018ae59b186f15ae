"""Wall time per stage of a pseudo-label run, to see where it spends it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

STAGES = ("decode", "encoder", "tracking", "detection", "motion", "segmenter", "rle", "store")


@dataclass
class Timings:
    """Wall time per stage, to see where a run spends it (printed by the CLI and the benchmark).
    Stages on worker threads overlap the loop, so the shares can add up to more than 100%."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    wall: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - start

    def summary(self) -> str:
        total = self.wall or sum(self.seconds.values()) or 1e-9
        rate = self.frames / total
        parts = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in self.seconds.items() if v > 0)
        return f"{self.frames} frames in {total:.1f} s ({rate:.1f} frames/s): {parts}"
