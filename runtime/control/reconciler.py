"""The reconcile loop: make the host match the store, level-triggered, for every realiser.

At start every target the store implies is queued (resync) and each realiser collects its garbage (host
objects no record implies, e.g. left by a `kill -9`); afterwards every committed change queues the targets
it affects, and a periodic resync catches drift nobody reported (a container that died, a link someone
deleted). Workers converge one target at a time in a thread; a `Transient` failure is retried with
exponential backoff, a `RealiseError` waits for the next change or resync.
"""

from __future__ import annotations

import asyncio
import logging

from runtime.control.queue import WorkQueue
from runtime.control.realiser import Realiser, Target
from runtime.errors import RealiseError, Transient
from runtime.state import Key, KeyFeed, Store

LOG = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, store: Store, realisers: list[Realiser], *, workers: int = 2,
                 resync_seconds: float = 60.0) -> None:
        self.store = store
        self.realisers = {r.name: r for r in realisers}
        self.workers = workers
        self.resync_seconds = resync_seconds
        self.queue: WorkQueue[Target] = WorkQueue()
        self.converged = 0
        self.failures: dict[Target, str] = {}
        self._idle = asyncio.Event()
        self._started = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled. Owns its tasks: cancelling `run` cancels every worker."""
        feed = KeyFeed(self.store)
        try:
            await self.resync(collect=True)
            self._started.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._follow(feed))
                group.create_task(self._periodic_resync())
                for _ in range(self.workers):
                    group.create_task(self._work())
        finally:
            feed.close()
            self.queue.close()

    async def resync(self, *, collect: bool = False) -> None:
        for realiser in self.realisers.values():
            if collect:
                try:
                    removed = await asyncio.to_thread(realiser.collect_garbage, self.store)
                    if removed:
                        LOG.info("%s: removed leftovers %s", realiser.name, removed)
                except Exception:
                    LOG.exception("%s: garbage collection failed", realiser.name)
            for target in await asyncio.to_thread(realiser.all_targets, self.store):
                self.queue.add(target)

    def enqueue_keys(self, keys: set[Key]) -> None:
        for realiser in self.realisers.values():
            for key in keys:
                for target in realiser.targets_for(self.store, key):
                    self.queue.add(target)

    async def _follow(self, feed: KeyFeed) -> None:
        while True:
            self.enqueue_keys(await feed.get())

    async def _periodic_resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            await self.resync()

    async def _work(self) -> None:
        while True:
            target = await self.queue.get()
            realiser = self.realisers[target[0]]
            failed = False
            try:
                await asyncio.to_thread(realiser.converge, self.store, target)
                self.failures.pop(target, None)
                self.converged += 1
            except Transient as exc:
                failed = True
                self.failures[target] = str(exc)
                LOG.warning("%s: transient failure, will retry: %s", target, exc)
            except RealiseError as exc:
                self.failures[target] = str(exc)
                LOG.error("%s: cannot realise: %s", target, exc)
            except Exception as exc:
                failed = True
                self.failures[target] = repr(exc)
                LOG.exception("%s: unexpected failure, will retry", target)
            self.queue.done(target, failed=failed)
            if self.queue.pending() == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until nothing is queued or being worked on (tests and `terrarium down` use it)."""
        async def idle() -> None:
            await self._started.wait()
            while self.queue.pending():
                self._idle.clear()
                await self._idle.wait()
        await asyncio.wait_for(idle(), timeout)
