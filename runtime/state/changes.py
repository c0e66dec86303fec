"""`KeyFeed`: store change notifications delivered to one asyncio consumer.

The store calls subscribers from whichever thread committed. A feed hops each notification onto
its event loop and coalesces keys until the consumer asks, so a burst of commits touching the same
record wakes the reconciler once with that key once — the de-duplicating queue the reconcile loop
wants.
"""

from __future__ import annotations

import asyncio

from runtime.state.records import Key
from runtime.state.store import Store


class KeyFeed:
    """Create inside the loop that will consume it; `close()` to unsubscribe."""

    def __init__(self, store: Store) -> None:
        self._loop = asyncio.get_running_loop()
        self._keys: set[Key] = set()
        self._ready = asyncio.Event()
        self._unsubscribe = store.subscribe(self._on_commit)

    def _on_commit(self, keys: frozenset[Key]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._add, keys)
        except RuntimeError:
            pass  # the loop has closed: nobody is left to consume these keys

    def _add(self, keys: frozenset[Key]) -> None:
        self._keys |= keys
        self._ready.set()

    async def get(self) -> set[Key]:
        """Wait until some key has changed; return every key changed since the last call."""
        await self._ready.wait()
        self._ready.clear()
        keys, self._keys = self._keys, set()
        return keys

    def close(self) -> None:
        self._unsubscribe()
