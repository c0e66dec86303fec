"""Atomic groups of writes: commit, rollback, nesting with savepoints, and concurrent threads."""

from __future__ import annotations

import threading

import pytest

from runtime.errors import Conflict, NotFound

ACCOUNT = "123456789012"


class Boom(Exception):
    pass


def test_a_transaction_commits_all_its_writes(store):
    with store.transaction():
        store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
        store.put("ec2.subnet", "subnet-1", ACCOUNT, {}, parent="vpc-1")
        store.enqueue("t", {"n": 1})
        store.set_meta("k", 1)
        assert store.get("ec2.subnet", "subnet-1").parent == "vpc-1"  # reads see own writes
    assert [r.id for r in store.list("ec2.subnet")] == ["subnet-1"]
    assert store.get_meta("k") == 1


def test_an_exception_rolls_back_every_write(store):
    store.put("ec2.vpc", "vpc-0", ACCOUNT, {"v": 0})
    with pytest.raises(Boom):
        with store.transaction():
            store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
            store.update_spec("ec2.vpc", "vpc-0", {"v": 1})
            store.enqueue("t", {})
            store.set_meta("k", 1)
            raise Boom
    assert [r.id for r in store.list("ec2.vpc")] == ["vpc-0"]
    assert store.get("ec2.vpc", "vpc-0").spec == {"v": 0}
    assert store.claim("t", now=1e12, lease_seconds=1) is None
    assert store.get_meta("k") is None


def test_a_failed_inner_block_rolls_back_only_itself(store):
    with store.transaction():
        store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
        with pytest.raises(Boom):
            with store.transaction():
                store.put("ec2.vpc", "vpc-2", ACCOUNT, {})
                with store.transaction():
                    store.put("ec2.vpc", "vpc-3", ACCOUNT, {})
                raise Boom
        store.put("ec2.vpc", "vpc-4", ACCOUNT, {})
    assert [r.id for r in store.list("ec2.vpc")] == ["vpc-1", "vpc-4"]


def test_an_inner_failure_that_escapes_rolls_back_the_outer_block_too(store):
    with pytest.raises(Boom):
        with store.transaction():
            store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
            with store.transaction():
                store.put("ec2.vpc", "vpc-2", ACCOUNT, {})
                raise Boom
    assert store.list("ec2.vpc") == []


def test_a_rejected_write_leaves_the_transaction_usable(store):
    store.put("iam.user", "AIDA1", ACCOUNT, {}, name="alice")
    with store.transaction():
        store.put("iam.user", "AIDA2", ACCOUNT, {}, name="bob")
        with pytest.raises(Conflict):
            store.put("iam.user", "AIDA3", ACCOUNT, {}, name="alice")
        with pytest.raises(NotFound):
            store.update_spec("iam.user", "AIDA9", {})
    assert [r.name for r in store.list("iam.user")] == ["alice", "bob"]


def test_the_store_stays_usable_after_a_rollback(store):
    with pytest.raises(Boom):
        with store.transaction():
            raise Boom
    with store.transaction():
        store.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    assert store.get("ec2.vpc", "vpc-1")


def test_threads_writing_at_once_lose_nothing(store):
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(100):
                with store.transaction():
                    store.put("test.item", f"{n}-{i}", ACCOUNT, {"n": n})
                    store.set_meta(f"last-{n}", i)
                store.update_status("test.item", f"{n}-{i}", {"done": True})
        except BaseException as exc:  # surfaced below: threads swallow exceptions
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.list("test.item", where={"n": 3})) == 100
    assert len(store.list("test.item")) == 600
    assert all(r.status == {"done": True} for r in store.list("test.item"))
    assert [store.get_meta(f"last-{n}") for n in range(6)] == [99] * 6
