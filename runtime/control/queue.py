"""A de-duplicating work queue of targets with per-target exponential backoff.

A target is in the queue at most once; a target being worked on is never handed to a second worker, and if
it changes meanwhile it is queued again when the first worker finishes (so the last change always wins).
"""

from __future__ import annotations

import asyncio
from typing import Generic, Hashable, TypeVar

T = TypeVar("T", bound=Hashable)

BASE_DELAY = 0.2
MAX_DELAY = 30.0


class WorkQueue(Generic[T]):
    def __init__(self) -> None:
        self._ready: list[T] = []
        self._queued: set[T] = set()
        self._active: set[T] = set()
        self._dirty: set[T] = set()
        self._failures: dict[T, int] = {}
        self._delayed: dict[T, asyncio.TimerHandle] = {}
        self._wakeup = asyncio.Event()

    def add(self, item: T) -> None:
        if item in self._active:
            self._dirty.add(item)
            return
        if item in self._queued:
            return
        handle = self._delayed.pop(item, None)
        if handle is not None:
            handle.cancel()
        self._queued.add(item)
        self._ready.append(item)
        self._wakeup.set()

    async def get(self) -> T:
        while not self._ready:
            self._wakeup.clear()
            await self._wakeup.wait()
        item = self._ready.pop(0)
        self._queued.discard(item)
        self._active.add(item)
        return item

    def done(self, item: T, *, failed: bool = False) -> float | None:
        """Finish an item; on failure requeue it after a growing delay, which is returned."""
        self._active.discard(item)
        delay = None
        if failed:
            count = self._failures.get(item, 0) + 1
            self._failures[item] = count
            delay = min(MAX_DELAY, BASE_DELAY * 2 ** (count - 1))
            self._dirty.discard(item)
            self._delayed[item] = asyncio.get_running_loop().call_later(delay, self._retry, item)
        else:
            self._failures.pop(item, None)
        if item in self._dirty:
            self._dirty.discard(item)
            self.add(item)
        return delay

    def _retry(self, item: T) -> None:
        self._delayed.pop(item, None)
        self.add(item)

    def pending(self) -> int:
        return len(self._ready) + len(self._active) + len(self._delayed)

    def close(self) -> None:
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
