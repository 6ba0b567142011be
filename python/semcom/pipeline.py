"""Bounded pipeline stages for receivers (plain Python: no GNU Radio, no torch).

A ``Stage`` runs ``work`` on its items in worker threads and hands each result on, in the order
the items were put, to ``deliver``. Its queue holds at most ``capacity`` items: ``put`` blocks
while the queue is full, so a slow stage slows its producer down (back-pressure) instead of
dropping items or growing memory; ``put_newest`` never waits: the oldest queued item makes room
(live data, where the newest matters most). An item whose ``work`` or ``deliver`` raises goes to
``failed`` instead, and the stage goes on. ``close`` (a signal handler may call it) finishes every
item put so far before the workers end; an item put after that is worked on in the caller's thread.
"""
from __future__ import annotations

import collections
import threading
from typing import Any, Callable


class Stage:
    """``workers`` threads running ``work(item)``; results to ``deliver(item, result)`` in input
    order, one at a time; exceptions to ``failed(item, error)`` (which must not raise)."""

    def __init__(self, work: Callable[[Any], Any], deliver: Callable[[Any, Any], None],
                 failed: Callable[[Any, Exception], None], capacity: int = 2, workers: int = 1, name: str = "stage"):
        if capacity < 1 or workers < 1:
            raise ValueError(f"a stage needs a capacity and workers of at least 1 (got {capacity}, {workers})")
        self.capacity = capacity
        self._work, self._deliver, self._failed = work, deliver, failed
        self._cond = threading.Condition()
        self._queue: collections.deque = collections.deque()  # (sequence number, item) waiting for a worker
        self._finished: dict = {}  # sequence number -> (item, result, error), waiting for its turn
        self._next_in = self._next_out = 0
        self._handing_on = False  # a worker is delivering results: the others leave theirs to it
        self._closing = False
        self._alive = workers
        self._idle = 0  # workers waiting for an item: the next ones queued are theirs at once
        self._threads = [threading.Thread(target=self._run, name=f"{name}{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    @property
    def backlog(self) -> int:
        """Items put and not yet handed on (queued, in work, or waiting for their turn)."""
        return self._next_in - self._next_out

    @property
    def full(self) -> bool:
        """The queue holds ``capacity`` items: a ``put`` now would block."""
        return len(self._queue) >= self.capacity

    def put(self, item) -> None:
        """Queues ``item``; blocks while the queue is full."""
        with self._cond:
            while len(self._queue) >= self.capacity and not self._closing:
                self._cond.wait()
            if self._alive:
                self._queue.append((self._next_in, item))
                self._next_in += 1
                self._cond.notify_all()
                return
            sequence = self._next_in  # closed: worked on here, after everything before it
            self._next_in += 1
        self._finish(sequence, item)
        self._hand_on()

    def put_newest(self, item):
        """Queues ``item`` without waiting: when the queue holds ``capacity`` items besides those
        idle workers are about to take, the oldest of them (never worked on) makes room and is
        returned; else None."""
        with self._cond:
            if self._alive:
                oldest = None
                if len(self._queue) - self._idle >= self.capacity:
                    # the first queued items are the idle workers'; the queue holds the last numbers
                    items = list(self._queue)
                    oldest = items[self._idle][1]
                    self._queue = collections.deque(items[:self._idle] + [(sequence - 1, queued) for sequence, queued
                                                                         in items[self._idle + 1:]])
                    self._next_in -= 1
                self._queue.append((self._next_in, item))
                self._next_in += 1
                self._cond.notify_all()
                return oldest
        self.put(item)  # closed: worked on here
        return None

    def join(self, timeout: float | None = None) -> bool:
        """Waits until every item put so far has been handed on; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._next_out >= self._next_in, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Finishes every item put so far, then ends the workers; False if they are still busy after
        ``timeout`` seconds."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if threading.current_thread() in self._threads:
            return False
        for thread in self._threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self._threads)

    def _run(self):
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if not self._queue:  # closing, and nothing left
                    self._alive -= 1
                    self._cond.notify_all()
                    return
                sequence, item = self._queue.popleft()
                self._cond.notify_all()  # room for a producer
            self._finish(sequence, item)
            self._hand_on()

    def _finish(self, sequence: int, item):
        try:
            result, error = self._work(item), None
        except Exception as err:  # noqa: BLE001 (the item is lost, never the stage)
            result, error = None, err
        with self._cond:
            self._finished[sequence] = (item, result, error)

    def _hand_on(self):
        """Delivers the finished results whose turn has come, unless another thread is doing so."""
        with self._cond:
            if self._handing_on:
                return
            self._handing_on = True
        while True:
            with self._cond:
                entry = self._finished.pop(self._next_out, None)
                if entry is None:
                    self._handing_on = False
                    self._cond.notify_all()
                    return
            item, result, error = entry
            if error is None:
                try:
                    self._deliver(item, result)
                except Exception as err:  # noqa: BLE001
                    error = err
            if error is not None:
                self._failed(item, error)
            with self._cond:
                self._next_out += 1
                self._cond.notify_all()
