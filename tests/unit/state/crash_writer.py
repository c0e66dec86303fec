"""Writes multi-record transactions forever; `test_store_crash.py` kills it with SIGKILL.

Batch b, in one transaction: a `test.batch` record, ITEMS child records, the counter of live batches,
one job, and `next_batch = b + 1` in meta. Every third batch also deletes batch b-2, and every batch
opens an inner savepoint that always fails (its `test.ghost` record must never be seen). After each
commit the batch number is printed, so the test knows a lower bound of what was committed.
Usage: python crash_writer.py DB
"""

from __future__ import annotations

import sys

from runtime.state import SqliteStore

ACCOUNT = "123456789012"
ITEMS = 5


class Abandon(Exception):
    pass


def write_batch(store: SqliteStore, b: int) -> None:
    with store.transaction():
        store.put("test.batch", f"b{b}", ACCOUNT, {"batch": b})
        for i in range(ITEMS):
            store.put("test.item", f"b{b}-{i}", ACCOUNT, {"batch": b, "i": i, "pad": "x" * 2000},
                      parent=f"b{b}", name=f"item-{b}-{i}")
        delta = 1
        if b % 3 == 0 and b >= 2:
            for i in range(ITEMS):
                store.delete("test.item", f"b{b - 2}-{i}")
            store.delete("test.batch", f"b{b - 2}")
            delta = 0
        try:
            with store.transaction():
                store.put("test.ghost", f"g{b}", ACCOUNT, {})
                raise Abandon
        except Abandon:
            pass
        store.update_spec("test.counter", "live", lambda spec: {"batches": spec["batches"] + delta})
        store.enqueue("test", {"batch": b})
        store.set_meta("next_batch", b + 1)


def main(path: str) -> None:
    store = SqliteStore(path)
    with store.transaction():
        if store.get_meta("next_batch") is None:
            store.put("test.counter", "live", ACCOUNT, {"batches": 0})
            store.set_meta("next_batch", 0)
    b = store.get_meta("next_batch")
    while True:
        write_batch(store, b)
        print(b, flush=True)
        b += 1


if __name__ == "__main__":
    main(sys.argv[1])
