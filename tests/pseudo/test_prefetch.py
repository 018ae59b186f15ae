from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from hm_annotate.pseudo.prefetch import Ahead, Behind, Once


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_ahead_yields_every_chunk_in_order(depth):
    chunks = [range(i, i + 2) for i in range(0, 10, 2)]
    with Ahead(lambda c: [p * p for p in c], chunks, depth) as ahead:
        assert [(list(c), r) for c, r in ahead] == [(list(c), [p * p for p in c]) for c in chunks]


def test_ahead_works_on_another_thread_at_most_depth_chunks_ahead():
    started: list[int] = []
    threads = set()

    def load(chunk: int) -> int:
        started.append(chunk)
        threads.add(threading.get_ident())
        return chunk

    with Ahead(load, list(range(6)), depth=2) as ahead:
        it = iter(ahead)
        assert next(it) == (0, 0)
        time.sleep(0.2)  # the worker has had time to run ahead as far as it may
        assert started == [0, 1, 2]
    assert threading.get_ident() not in threads


def test_ahead_raises_a_chunks_error_when_that_chunk_is_reached_and_stops():
    def load(chunk: int) -> int:
        if chunk == 2:
            raise ValueError("bad chunk 2")
        return chunk

    got = []
    with pytest.raises(ValueError, match="bad chunk 2"), Ahead(load, list(range(5)), depth=2) as ahead:
        for chunk, _ in ahead:
            got.append(chunk)
    assert got == [0, 1]


@pytest.mark.parametrize("depth", [0, 1])
def test_behind_runs_jobs_in_order_and_hands_back_results_and_errors(depth):
    order: list[int] = []

    def job(i: int) -> int:
        order.append(i)
        if i == 3:
            raise OSError("disk full")
        return 10 * i

    behind = Behind(depth, limit=2)
    futures = [behind.submit(job, i) for i in range(5)]
    behind.close()
    assert order == list(range(5))
    assert [f.result() for f in futures[:3]] == [0, 10, 20]
    with pytest.raises(OSError, match="disk full"):
        futures[3].result()


class Looked:
    """Keys that tell which threads looked them up in a ``Once`` (the lookup, under its lock,
    decides whether a thread makes the value or waits for it): ``until(key, n)`` blocks until ``n``
    threads have, so a value can be held back until everyone asking for it is waiting."""

    def __init__(self) -> None:
        self._threads: dict[int, set[int]] = {}
        self._changed = threading.Condition()
        looked = self

        class Key(int):
            def __hash__(self) -> int:
                with looked._changed:
                    looked._threads.setdefault(int(self), set()).add(threading.get_ident())
                    looked._changed.notify_all()
                return int.__hash__(self)

        self.key = Key

    def until(self, key: int, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self._threads.get(key, ())) >= n, timeout=5)


def test_once_makes_each_value_once_for_threads_asking_together_and_hands_errors_to_all():
    once: Once[int, int] = Once()
    made: list[int] = []
    looked = Looked()
    asks = (1, 1, 1, 2, 3, 3)

    def make(key: int) -> int:
        looked.until(key, asks.count(key))  # every thread asking for it waits for this one
        made.append(key)
        if key == 3:
            raise OSError("unreadable 3")
        return key * 10

    def ask(key: int):
        try:
            return once.get(looked.key(key), lambda: make(key))
        except OSError as exc:
            return str(exc)

    with ThreadPoolExecutor(len(asks)) as pool:
        got = [f.result() for f in [pool.submit(ask, k) for k in asks]]
    assert got == [10, 10, 10, 20, "unreadable 3", "unreadable 3"]
    assert sorted(made) == [1, 2, 3]
    with pytest.raises(OSError, match="unreadable 3"):  # an error is the key's result, kept
        once.get(3, lambda: 30)
    once.forget(lambda k: k != 1)
    assert sorted(once.keys()) == [2, 3] and once.get(1, lambda: 11) == 11 and once.get(2, lambda: 0) == 20


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_once_hands_an_interrupt_to_those_waiting_and_forgets_the_key(interrupt):
    once: Once[int, int] = Once()
    looked = Looked()
    raised: dict[str, type[BaseException]] = {}
    making = threading.Event()

    def interrupted() -> int:
        making.set()
        looked.until(1, 2)  # the other thread is waiting for this value
        raise interrupt

    def ask(who: str, make) -> None:
        try:
            once.get(looked.key(1), make)
        except BaseException as exc:  # noqa: BLE001 - what each thread got is the point
            raised[who] = type(exc)

    maker = threading.Thread(target=ask, args=("maker", interrupted))
    maker.start()
    assert making.wait(5)
    waiter = threading.Thread(target=ask, args=("waiter", lambda: pytest.fail("made twice")))
    waiter.start()
    for t in (maker, waiter):
        t.join(10)
    assert raised == {"maker": interrupt, "waiter": interrupt}
    assert once.keys() == [] and once.get(1, lambda: 10) == 10  # made afresh when asked again
