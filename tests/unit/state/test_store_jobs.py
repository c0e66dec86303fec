"""The durable job queue: due times, leases that expire when a worker dies, retries, durability."""

from __future__ import annotations

from runtime.state import SqliteStore


def test_a_job_is_claimed_once_while_its_lease_holds(store):
    job_id = store.enqueue("lambda.invoke", {"fn": "f", "payload": "{}"})
    job = store.claim("lambda.invoke", now=100.0, lease_seconds=30)
    assert (job.id, job.topic, job.payload, job.attempts) == (job_id, "lambda.invoke", {"fn": "f", "payload": "{}"}, 1)
    assert job.lease_until == 130.0
    assert store.claim("lambda.invoke", now=129.9, lease_seconds=30) is None


def test_an_expired_lease_makes_the_job_claimable_again(store):
    store.enqueue("t", {"n": 1})
    first = store.claim("t", now=100.0, lease_seconds=10)
    second = store.claim("t", now=110.0, lease_seconds=10)
    assert second.id == first.id and second.attempts == 2 and second.lease_until == 120.0


def test_complete_removes_the_job(store):
    job_id = store.enqueue("t", {})
    store.claim("t", now=1.0, lease_seconds=1)
    store.complete(job_id)
    store.complete(job_id)
    assert store.claim("t", now=1e9, lease_seconds=1) is None


def test_fail_releases_the_lease_until_retry_at(store):
    job_id = store.enqueue("t", {})
    store.claim("t", now=100.0, lease_seconds=60)
    store.fail(job_id, retry_at=105.0)
    assert store.claim("t", now=104.0, lease_seconds=60) is None
    retried = store.claim("t", now=105.0, lease_seconds=60)
    assert retried.id == job_id and retried.attempts == 2


def test_not_before_delays_a_job(store):
    store.enqueue("t", {"late": True}, not_before=500.0)
    assert store.claim("t", now=499.0, lease_seconds=1) is None
    assert store.claim("t", now=500.0, lease_seconds=1).payload == {"late": True}


def test_due_jobs_come_out_in_order_and_topics_are_separate(store):
    store.enqueue("a", {"n": 1})
    store.enqueue("b", {"n": 2})
    store.enqueue("a", {"n": 3})
    store.enqueue("a", {"n": 0}, not_before=0.5)
    got = [store.claim("a", now=10.0, lease_seconds=100).payload["n"] for _ in range(3)]
    assert got == [1, 3, 0]
    assert store.claim("a", now=10.0, lease_seconds=100) is None
    assert store.claim("b", now=10.0, lease_seconds=100).payload == {"n": 2}


def test_jobs_and_leases_survive_reopening(tmp_path):
    path = tmp_path / "jobs.db"
    with SqliteStore(path) as first:
        first.enqueue("t", {"n": 1})
        first.enqueue("t", {"n": 2})
        assert first.claim("t", now=100.0, lease_seconds=30).payload == {"n": 1}
    with SqliteStore(path) as second:  # the worker that claimed n=1 died with its process
        assert second.claim("t", now=101.0, lease_seconds=30).payload == {"n": 2}
        assert second.claim("t", now=101.0, lease_seconds=30) is None
        recovered = second.claim("t", now=130.0, lease_seconds=30)
        assert recovered.payload == {"n": 1} and recovered.attempts == 2


def test_release_leases_makes_a_topics_claimed_jobs_due_now(store):
    claimed = store.enqueue("t", {"n": 1})
    store.enqueue("t", {"n": 2}, not_before=50.0)
    later = store.enqueue("t", {"n": 3}, not_before=500.0)
    other = store.enqueue("other", {"n": 4})
    store.claim("t", now=100.0, lease_seconds=960)
    store.claim("t", now=100.0, lease_seconds=960)
    store.claim("other", now=100.0, lease_seconds=960)
    assert store.release_leases("t", now=101.0) == 2
    assert {store.claim("t", now=101.0, lease_seconds=1).payload["n"] for _ in range(2)} == {1, 2}
    assert store.claim("t", now=101.0, lease_seconds=1) is None  # n=3 was never claimed and is not due yet
    assert store.claim("other", now=101.0, lease_seconds=1) is None
    assert claimed and later and other
