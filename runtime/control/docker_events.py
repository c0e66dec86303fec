"""Docker's start/die events for instance containers feed the reconciler, so an instance that powers itself
off, crashes or reboots is noticed at once rather than at the next periodic resync."""

from __future__ import annotations

import asyncio
import logging
import threading

from runtime.control.reconciler import Reconciler
from runtime.errors import TerrariumError
from runtime.host.docker import containers

LOG = logging.getLogger(__name__)
RETRY_S = 5.0


async def follow(reconciler: Reconciler, owner: str, realiser_name: str = "instance") -> None:
    """Run until cancelled; reconnects when the engine goes away."""
    loop = asyncio.get_running_loop()
    stopped = threading.Event()

    def on_event(instance_id: str, action: str) -> None:
        LOG.debug("container event %s %s", instance_id, action)
        loop.call_soon_threadsafe(reconciler.queue.add, (realiser_name, instance_id))

    try:
        while True:
            try:
                await asyncio.to_thread(containers.watch, owner, on_event, stopped)
            except TerrariumError as exc:
                LOG.warning("docker events unavailable, retrying: %s", exc)
            await asyncio.sleep(RETRY_S)
    finally:
        stopped.set()
