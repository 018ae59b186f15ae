"""One reporter for long jobs: progress bars, warnings and per-item failures.

Library code never prints. A long job takes a ``Reporter`` and calls ``bar`` for its loops,
``warn`` for what it passes over and ``failed`` for an item it gives up on; the caller decides
what shows. ``Reporter()`` (the library default) draws nothing and keeps the warnings and
failures for the caller to read; the CLI's ``Reporter(progress=None, echo=True)`` draws tqdm
bars where stderr is a terminal and writes each warning and failure as one line on stderr,
above the bars. Dataset adapters warn through Python's ``warnings`` (their plug-in API says
so); ``capture`` routes those warning classes into the reporter.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class Reporter:
    """Where a long job sends its progress, warnings and failures.

    ``progress``: True draws bars, False none, None only where stderr is a terminal.
    ``echo``: write warnings and failures to stderr as they come (else only keep them).
    """

    def __init__(self, progress: bool | None = False, echo: bool = False) -> None:
        self.progress = progress
        self.echo = echo
        self.warnings: list[str] = []
        self.failures: list[tuple[str, str]] = []

    def bar(self, iterable: Iterable[Any] | None = None, *, desc: str, unit: str, **options: Any) -> Any:
        """A tqdm bar over ``iterable`` (or a manual one with ``total=``), shown as configured."""
        from tqdm import tqdm

        disable = None if self.progress is None else not self.progress
        return tqdm(iterable, desc=desc, unit=unit, disable=disable, **options)

    def warn(self, message: str) -> None:
        """Something was passed over or done differently; the job goes on."""
        self.warnings.append(message)
        self._say(f"warning: {message}")

    def failed(self, item: str, message: str) -> None:
        """``item`` (a video id, a file) was given up on; the job goes on with the others."""
        self.failures.append((item, message))
        self._say(f"skipped: {message}")

    def _say(self, line: str) -> None:
        if self.echo:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)

    @contextmanager
    def capture(self, *categories: type[Warning]) -> Iterator[None]:
        """Turn warnings of ``categories`` raised inside the block into ``warn`` calls; others
        are re-issued unchanged."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            if issubclass(w.category, categories):
                self.warn(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
