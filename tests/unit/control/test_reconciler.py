"""The reconcile loop against a real SQLite store and a recording realiser whose "host" is a dict."""

from __future__ import annotations

import asyncio

import pytest

from runtime.control.reconciler import Reconciler
from runtime.errors import RealiseError, Transient
from runtime.state import SqliteStore


class DictRealiser:
    """Realises `test.thing` records into `host`; `faults` scripts failures per target id."""

    name = "dict"

    def __init__(self, leftovers=None) -> None:
        self.host: dict[str, dict] = dict(leftovers or {})
        self.calls: list[str] = []
        self.writes = 0
        self.faults: dict[str, list[Exception]] = {}

    def targets_for(self, store, key):
        return {(self.name, key[1])} if key[0] == "test.thing" else set()

    def all_targets(self, store):
        return {(self.name, r.id) for r in store.list("test.thing")}

    def converge(self, store, target):
        ident = target[1]
        self.calls.append(ident)
        if self.faults.get(ident):
            raise self.faults[ident].pop(0)
        try:
            desired = store.get("test.thing", ident).spec
        except Exception:
            desired = None
        if desired is None:
            if ident in self.host:
                del self.host[ident]
                self.writes += 1
        elif self.host.get(ident) != desired:
            self.host[ident] = desired
            self.writes += 1

    def collect_garbage(self, store):
        known = {r.id for r in store.list("test.thing")}
        removed = [k for k in self.host if k not in known]
        for k in removed:
            del self.host[k]
        return removed


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "state.db") as s:
        yield s


async def _with_reconciler(store, realiser, body):
    reconciler = Reconciler(store, [realiser], workers=2, resync_seconds=3600)
    task = asyncio.create_task(reconciler.run())
    try:
        await asyncio.sleep(0)
        await reconciler.wait_idle(5)
        await body(reconciler)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_start_resyncs_and_collects_garbage(store):
    store.put("test.thing", "a", "1", {"v": 1})
    realiser = DictRealiser(leftovers={"ghost": {"v": 0}})

    async def body(reconciler):
        assert realiser.host == {"a": {"v": 1}}

    run(_with_reconciler(store, realiser, body))


def test_changes_converge_and_deletes_remove(store):
    realiser = DictRealiser()

    async def body(reconciler):
        store.put("test.thing", "b", "1", {"v": 1})
        await asyncio.sleep(0.05)
        await reconciler.wait_idle(5)
        assert realiser.host == {"b": {"v": 1}}
        store.update_spec("test.thing", "b", {"v": 2})
        await asyncio.sleep(0.05)
        await reconciler.wait_idle(5)
        assert realiser.host == {"b": {"v": 2}}
        store.delete("test.thing", "b")
        await asyncio.sleep(0.05)
        await reconciler.wait_idle(5)
        assert realiser.host == {}

    run(_with_reconciler(store, realiser, body))


def test_converged_world_does_nothing(store):
    store.put("test.thing", "c", "1", {"v": 1})
    realiser = DictRealiser()

    async def body(reconciler):
        writes = realiser.writes
        await reconciler.resync()
        await asyncio.sleep(0.05)
        await reconciler.wait_idle(5)
        assert realiser.writes == writes == 1

    run(_with_reconciler(store, realiser, body))


def test_transient_failures_retry_with_backoff(store):
    realiser = DictRealiser()
    realiser.faults["d"] = [Transient("busy"), Transient("busy again")]

    async def body(reconciler):
        store.put("test.thing", "d", "1", {"v": 1})
        await asyncio.sleep(0.05)
        for _ in range(50):
            if realiser.host.get("d") == {"v": 1}:
                break
            await asyncio.sleep(0.1)
        assert realiser.host == {"d": {"v": 1}}
        assert realiser.calls.count("d") == 3
        assert ("dict", "d") not in reconciler.failures

    run(_with_reconciler(store, realiser, body))


def test_permanent_failure_waits_for_the_next_change(store):
    realiser = DictRealiser()
    realiser.faults["e"] = [RealiseError("bad spec")]

    async def body(reconciler):
        store.put("test.thing", "e", "1", {"v": 1})
        await asyncio.sleep(0.6)
        await reconciler.wait_idle(5)
        assert realiser.calls.count("e") == 1 and "e" not in realiser.host
        assert reconciler.failures[("dict", "e")] == "bad spec"
        store.update_spec("test.thing", "e", {"v": 2})
        await asyncio.sleep(0.05)
        await reconciler.wait_idle(5)
        assert realiser.host == {"e": {"v": 2}}

    run(_with_reconciler(store, realiser, body))
