"""Group commit: concurrent single captures of one web process are played as one batch.

A request that finds no batch of its kind in progress plays at once (no added latency when the
load is light). Requests that arrive while a batch is being written wait; when it is done, one
of them plays everything that queued up meanwhile as the next batch. Under load, batches grow by
themselves, and the set-based capture engine writes them with a few statements per batch instead
of a dozen per lead. Each request still gets its own answer, as if it had been played alone.
"""

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

MAX_BATCH = 200  # beyond this a request waits for the next batch


@dataclass(eq=False)
class _Waiter:
    item: Any
    ready: threading.Event = field(default_factory=threading.Event)
    leads: bool = False  # woken to play the next batch rather than with its result
    result: Any = None
    error: BaseException | None = None

    def answer(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Plays items through `play(key, items) -> results` in batches per key, one batch at a time.

    `play` returns one result per item, in order; an exception it raises is raised to every
    request of that batch. `before_wait` runs in a request's thread before it waits (to give
    back what it holds, such as a pooled database connection).
    """

    def __init__(
        self, play: Callable[[Hashable, list], list], before_wait: Callable[[], None] = lambda: None
    ):
        self._play, self._before_wait = play, before_wait
        self._lock = threading.Lock()
        self._queued: dict[Hashable, list[_Waiter]] = {}
        self._busy: set[Hashable] = set()

    def submit(self, key: Hashable, item: Any) -> Any:
        waiter = _Waiter(item)
        with self._lock:
            self._queued.setdefault(key, []).append(waiter)
            leads = key not in self._busy
            self._busy.add(key)
        if not leads:
            self._before_wait()
            waiter.ready.wait()
            if not waiter.leads:
                return waiter.answer()
        self._play_queued(key)
        return waiter.answer()

    def _play_queued(self, key: Hashable) -> None:
        with self._lock:
            queued = self._queued.pop(key)
            batch, rest = queued[:MAX_BATCH], queued[MAX_BATCH:]
            if rest:
                self._queued[key] = rest
        try:
            results = self._play(key, [w.item for w in batch])
        except BaseException as exc:  # every request of the batch answers with it
            for waiter in batch:
                waiter.error = exc
        else:
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        self._hand_over(key)
        for waiter in batch:
            waiter.ready.set()

    def _hand_over(self, key: Hashable) -> None:
        """Wake one queued request to play the next batch, or mark the key idle."""
        with self._lock:
            queued = self._queued.get(key)
            if not queued:
                self._busy.discard(key)
                return
            queued[0].leads = True
            queued[0].ready.set()
