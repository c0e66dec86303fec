"""Work the S3 service does on its own schedule (lifecycle rules, storage measurement): one pass at start,
then one per interval; a pass that fails is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import logging
import time

from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.state import Store

LOG = logging.getLogger(__name__)


class BackgroundPass:
    """Subclasses name their work (`what`) and implement `run_once()`."""

    what = "S3 background pass"

    def __init__(self, store: Store, backend: Backend, clock=time.time) -> None:
        self.store = store
        self.backend = backend
        self.clock = clock

    async def run_once(self) -> None:
        raise NotImplementedError

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.run_once()
            except BackendUnavailable:
                LOG.info("%s skipped: the S3 backend is unavailable", self.what)
            except Exception:
                LOG.exception("%s failed", self.what)
            await asyncio.sleep(interval)
