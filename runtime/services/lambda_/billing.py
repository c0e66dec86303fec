"""The billing ledger: every invocation's requests, billed milliseconds and GB-seconds, priced per aws-spec §2.8.

One meta value per month, `lambda.usage/<YYYY-MM>`, maps account -> function name -> totals; `terrarium bill`
reads it with `usage(store, month)`. Meta writes are not change notifications, so billing never wakes the
reconciler. Prices are the us-east-1 x86 list prices.
"""

from __future__ import annotations

import threading
import time

from runtime.state import Store

PRICE_PER_REQUEST = 0.20 / 1_000_000
PRICE_PER_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_PER_EPHEMERAL_GB_SECOND = 0.0000000309  # above the free 512 MB
META_PREFIX = "lambda.usage/"


def month_of(epoch: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(epoch))


def gb_seconds(memory_mb: int, billed_ms: int) -> float:
    return memory_mb / 1024 * billed_ms / 1000


def cost(requests: int, gb_s: float, ephemeral_gb_s: float, architecture: str = "x86_64") -> float:
    return (requests * PRICE_PER_REQUEST + gb_s * PRICE_PER_GB_SECOND.get(architecture, PRICE_PER_GB_SECOND["x86_64"])
            + ephemeral_gb_s * PRICE_PER_EPHEMERAL_GB_SECOND)


def usage(store: Store, month: str) -> dict:
    """`{account: {function: {requests, billed_ms, gb_seconds, ephemeral_gb_seconds, cost_usd}}}` of a month."""
    return store.get_meta(META_PREFIX + month, {})


class Ledger:
    def __init__(self, store: Store, clock=time.time) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()

    def record(self, account: str, function: str, *, memory_mb: int, billed_ms: int, ephemeral_mb: int = 512,
               architecture: str = "x86_64") -> None:
        """Add one invocation. Blocking (one read-modify-write of the month's meta value)."""
        self.record_many(account, function, [(memory_mb, billed_ms, ephemeral_mb)], architecture)

    def record_many(self, account: str, function: str, invocations: list[tuple[int, int, int]],
                    architecture: str = "x86_64") -> None:
        """Add invocations given as (memory MB, billed ms, ephemeral MB), in one write. Blocking."""
        key = META_PREFIX + month_of(self.clock())
        gb_s = sum(gb_seconds(memory, billed) for memory, billed, _ in invocations)
        eph = sum(max(0, e - 512) / 1024 * billed / 1000 for _, billed, e in invocations)
        with self._lock, self.store.transaction():
            ledger = self.store.get_meta(key, {})
            row = ledger.setdefault(account, {}).setdefault(function, {
                "requests": 0, "billed_ms": 0, "gb_seconds": 0.0, "ephemeral_gb_seconds": 0.0, "cost_usd": 0.0})
            row["requests"] += len(invocations)
            row["billed_ms"] += sum(billed for _, billed, _ in invocations)
            row["gb_seconds"] = round(row["gb_seconds"] + gb_s, 9)
            row["ephemeral_gb_seconds"] = round(row["ephemeral_gb_seconds"] + eph, 12)
            row["cost_usd"] = round(cost(row["requests"], row["gb_seconds"], row["ephemeral_gb_seconds"],
                                         architecture), 12)
            self.store.set_meta(key, ledger)
