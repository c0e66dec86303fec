"""Change notification: one callback per commit, with exactly the committed keys."""

from __future__ import annotations

import asyncio
import threading

import pytest

from runtime.state import KeyFeed

ACCOUNT = "123456789012"


class Boom(Exception):
    pass


@pytest.fixture
def calls(store):
    seen: list[frozenset] = []
    store.subscribe(seen.append)
    return seen


def test_each_write_outside_a_transaction_notifies_once(store, calls):
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    store.update_spec("ec2.vpc", "vpc-1", {"a": 1})
    store.update_status("ec2.vpc", "vpc-1", {"state": "available"})
    store.set_tags("ec2.vpc", "vpc-1", {"Name": "x"})
    store.delete("ec2.vpc", "vpc-1")
    assert calls == [frozenset({("ec2.vpc", "vpc-1")})] * 5


def test_a_transaction_notifies_once_with_all_its_keys(store, calls):
    with store.transaction():
        store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
        store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-1")
        store.update_spec("ec2.vpc", "vpc-1", {"a": 1})
        with store.transaction():
            store.put("ec2.subnet", "subnet-2", ACCOUNT, {}, parent="vpc-1")
        assert calls == []  # nothing is announced before the commit
    assert calls == [frozenset({("ec2.vpc", "vpc-1"), ("ec2.subnet", "subnet-1"), ("ec2.subnet", "subnet-2")})]


def test_rolled_back_writes_are_never_announced(store, calls):
    with pytest.raises(Boom):
        with store.transaction():
            store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
            raise Boom
    with store.transaction():
        store.put("ec2.vpc", "vpc-2", ACCOUNT, {})
        with pytest.raises(Boom):
            with store.transaction():
                store.put("ec2.vpc", "vpc-3", ACCOUNT, {})
                raise Boom
    assert calls == [frozenset({("ec2.vpc", "vpc-2")})]


def test_no_op_writes_and_queue_writes_are_not_announced(store, calls):
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {"a": 1})
    calls.clear()
    store.update_spec("ec2.vpc", "vpc-1", {"a": 1})
    store.update_status("ec2.vpc", "vpc-1", {})
    store.set_tags("ec2.vpc", "vpc-1", {})
    job = store.enqueue("t", {})
    store.claim("t", now=1.0, lease_seconds=1)
    store.complete(job)
    store.set_meta("k", "v")
    with store.transaction():
        pass
    assert calls == []


def test_a_failing_subscriber_does_not_break_writes_or_other_subscribers(store, calls):
    def broken(keys):
        raise RuntimeError("subscriber bug")

    store.subscribe(broken)
    after: list[frozenset] = []
    store.subscribe(after.append)
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    assert store.get("ec2.vpc", "vpc-1")
    assert len(calls) == len(after) == 1


def test_unsubscribe_stops_callbacks(store):
    seen: list[frozenset] = []
    unsubscribe = store.subscribe(seen.append)
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    unsubscribe()
    unsubscribe()
    store.put("ec2.vpc", "vpc-2", ACCOUNT, {})
    assert seen == [frozenset({("ec2.vpc", "vpc-1")})]


def test_callbacks_run_on_the_committing_thread_and_may_read_the_store(store):
    seen: list[tuple[str, int]] = []
    store.subscribe(lambda keys: seen.append((threading.current_thread().name, len(store.list("ec2.vpc")))))
    worker = threading.Thread(target=store.put, args=("ec2.vpc", "vpc-1", ACCOUNT, {}), name="writer")
    worker.start()
    worker.join()
    assert seen == [("writer", 1)]


def test_key_feed_coalesces_commits_from_other_threads(store):
    asyncio.run(_feed_scenario(store))


async def _feed_scenario(store):
    feed = KeyFeed(store)
    try:
        def burst() -> None:
            store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
            store.update_spec("ec2.vpc", "vpc-1", {"a": 1})
            store.put("ec2.vpc", "vpc-2", ACCOUNT, {})

        await asyncio.to_thread(burst)
        keys = await asyncio.wait_for(feed.get(), 5)
        assert keys == {("ec2.vpc", "vpc-1"), ("ec2.vpc", "vpc-2")}
        store.delete("ec2.vpc", "vpc-2")  # from the loop thread itself
        assert await asyncio.wait_for(feed.get(), 5) == {("ec2.vpc", "vpc-2")}
    finally:
        feed.close()
    store.put("ec2.vpc", "vpc-3", ACCOUNT, {})
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(feed.get(), 0.05)
