"""Work done ahead of the labelling loop, on worker threads, without changing what it computes.

The loop itself is sequential (a frame's boxes need the previous frame's masks), but much of the
work around it is not: decoding frames, SAM's image encoder, the camera-compensated background
difference, RLE encoding and store commits depend only on the frames or on finished masks.
``Ahead`` runs a function over the chunks of a pass on one worker thread, a bounded number of
chunks ahead of the consumer, and hands the results (or the exception a chunk raised) back in
order; ``Behind`` runs jobs whose results are only needed later (RLE, store commits) on another.
Both are plain threads: the heavy parts (OpenCV, NumPy, PyTorch, HDF5) release the GIL. ``Once``
keeps what several threads may ask for at the same time (decoded frames, homographies) made once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

C = TypeVar("C")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


class Ahead(Generic[C, R]):
    """``load(chunk)`` for every chunk, computed up to ``depth`` chunks before the consumer asks
    for it; ``depth`` 0 computes each chunk when asked, on the caller's thread."""

    def __init__(self, load: Callable[[C], R], chunks: Sequence[C], depth: int) -> None:
        self._load = load
        self._chunks = list(chunks)
        self._depth = depth
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hm-ahead") if depth > 0 else None
        self._pending: deque[Future] = deque()
        self._next = 0

    def _submit(self) -> None:
        while self._pool and self._next < len(self._chunks) and len(self._pending) < self._depth:
            self._pending.append(self._pool.submit(self._load, self._chunks[self._next]))
            self._next += 1

    def __iter__(self) -> Iterator[tuple[C, R]]:
        for chunk in self._chunks:
            if self._pool is None:
                yield chunk, self._load(chunk)
                continue
            self._submit()
            result = self._pending.popleft().result()  # re-raises the chunk's exception here
            self._submit()
            yield chunk, result

    def close(self) -> None:
        """Drop what was not started and wait for the chunk in progress (its result is discarded)."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Ahead[C, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Behind:
    """Jobs run in submission order on one worker thread; ``depth`` 0 runs each at once.

    ``wait`` returns a job's result (re-raising its exception); at most ``limit`` jobs are
    queued, so memory stays bounded when the worker is the slower side."""

    def __init__(self, depth: int, limit: int = 2) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="hm-behind") if depth > 0 else None
        self._limit = limit
        self._queued: deque[Future] = deque()

    def submit(self, job: Callable[..., R], *args: object) -> Future:
        if self._pool is None:
            done: Future = Future()
            try:
                done.set_result(job(*args))
            except Exception as exc:  # handed to whoever waits, as the pool would
                done.set_exception(exc)
            return done
        while len(self._queued) >= self._limit:
            self._queued.popleft().exception()  # wait; the job's owner sees any error
        future = self._pool.submit(job, *args)
        self._queued.append(future)
        return future

    def close(self) -> None:
        """Wait for every job to finish."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._queued.clear()


class Once(Generic[K, R]):
    """Values by key, each made once however many threads ask for it at the same time: the first
    to ask makes it (on its own thread, holding no lock), the others wait for that result (or its
    exception). Values must depend on the key alone, so who makes one changes nothing.

    A value being made is a ``Future`` those asking wait on; once made it is kept plain (a finished
    ``Future`` costs far more than a small value). An ``Exception`` is kept as the key's result; any
    other ``BaseException`` (KeyboardInterrupt, SystemExit) is handed to those waiting and the key
    forgotten, so a later ask makes it again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[K, R | Future[R]] = {}

    def get(self, key: K, make: Callable[[], R]) -> R:
        with self._lock:
            if key in self._made:
                entry = self._made[key]
                if not isinstance(entry, Future):
                    return entry
                future, mine = entry, False
            else:
                future, mine = Future(), True
                self._made[key] = future
        if not mine:
            return future.result()
        try:
            value = make()
        except Exception as exc:  # kept: whoever asks again gets it too
            future.set_exception(exc)
            raise
        except BaseException as exc:  # an interrupt is no result of the key's
            with self._lock:
                if self._made.get(key) is future:
                    del self._made[key]
            future.set_exception(exc)
            raise
        with self._lock:
            if self._made.get(key) is future:  # not forgotten meanwhile
                self._made[key] = value
        future.set_result(value)
        return value

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._made)

    def forget(self, keep: Callable[[K], bool]) -> None:
        """Drop the values whose key ``keep`` refuses (one being made is still handed to those
        waiting for it)."""
        with self._lock:
            for key in [k for k in self._made if not keep(k)]:
                del self._made[key]
