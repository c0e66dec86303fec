"""The async worker against a recording sandbox: retries, destinations, event age, throttles, restarts."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile

import pytest

from runtime.iam.credentials import SessionIssuer
from runtime.sandbox.fake import RecordingSandbox, echo_result, error_result
from runtime.services.lambda_ import shapes
from runtime.services.lambda_.async_worker import AsyncWorker
from runtime.services.lambda_.billing import Ledger
from runtime.services.lambda_.code import CodeStore
from runtime.services.lambda_.roles import RoleCredentials
from runtime.services.lambda_.runtimes import HostRuntime
from runtime.services.lambda_.service import ASYNC_TOPIC, LambdaService
from runtime.services.logs.provider import LogsProvider
from runtime.state import SqliteStore

ACCOUNT = "123456789012"


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "db")
    yield store
    store.close()


def build(store, tmp_path, sandbox, clock=None):
    code = CodeStore(tmp_path / "data", tmp_path / "cache")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def h(e, c): return e\n")
    info = code.save(buf.getvalue())
    for name in ("f", "sink"):
        spec = {"FunctionName": name, "FunctionArn": arn(name), "Runtime": "python3.11",
                "Role": f"arn:aws:iam::{ACCOUNT}:role/none", "Handler": "app.h", "Timeout": 3, "MemorySize": 128,
                "CodeHex": info.sha_hex, "CodeSha256": info.sha_b64, "CodeSize": info.size, "LastModified": 0,
                "RevisionId": "r", "EphemeralStorage": 512, "Policy": {}, "EventInvokeConfigs": {}}
        store.put(shapes.FUNCTION, arn(name), ACCOUNT, spec, name=name)
        store.update_status(shapes.FUNCTION, arn(name), {"State": "Active", "LastUpdateStatus": "Successful"})
    service = LambdaService(store, region="us-east-1", code=code, runtimes=HostRuntime(), sandbox=sandbox,
                            credentials=RoleCredentials(store, SessionIssuer(store)), logs=LogsProvider(store),
                            ledger=Ledger(store), function_url_base="http://127.0.0.1:4566")
    worker = AsyncWorker(service, workers=1, retry_base_s=0.01, poll_s=0.02, **({"clock": clock} if clock else {}))
    return service, worker


def configure(store, **config):
    store.update_spec(shapes.FUNCTION, arn("f"), lambda s: {**s, "EventInvokeConfigs": {"$LATEST": config}})


async def run_until(predicate, worker, service, timeout=5.0, settle=0.2):
    """Run the worker until `predicate()` holds, then `settle` seconds more (to finish the job in hand)."""
    await service.start()
    await worker.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            assert asyncio.get_running_loop().time() < deadline, "worker did not get there"
            await asyncio.sleep(0.02)
        await asyncio.sleep(settle)
    finally:
        await worker.close()
        await service.close()


def test_failing_event_runs_three_times_then_on_failure(store, tmp_path):
    sandbox = RecordingSandbox(behaviour=lambda fn, payload, rid: (
        error_result(fn, rid, "RuntimeError", "boom") if fn.name == "f" else echo_result(fn, payload, rid)))
    service, worker = build(store, tmp_path, sandbox)
    configure(store, DestinationConfig={"OnFailure": {"Destination": arn("sink")}})
    service.enqueue_async(arn("f"), b'{"n": 1}', request_id="req-1")
    asyncio.run(run_until(lambda: any(i.fn.name == "sink" for i in sandbox.invokes), worker, service))
    assert [i.fn.name for i in sandbox.invokes] == ["f", "f", "f", "sink"]
    record = json.loads(sandbox.invokes[-1].payload)
    assert record["requestContext"] == {"requestId": "req-1", "functionArn": f"{arn('f')}:$LATEST",
                                        "approximateInvokeCount": 3, "condition": "RetriesExhausted"}
    assert record["requestPayload"] == {"n": 1} and record["responsePayload"]["errorType"] == "RuntimeError"
    assert store.claim(ASYNC_TOPIC, now=1e12, lease_seconds=1) is None


def test_retries_follow_maximum_retry_attempts(store, tmp_path):
    sandbox = RecordingSandbox(behaviour=lambda fn, payload, rid: error_result(fn, rid, "E", "x"))
    service, worker = build(store, tmp_path, sandbox)
    configure(store, MaximumRetryAttempts=0)
    service.enqueue_async(arn("f"), b"{}")
    asyncio.run(run_until(lambda: len(sandbox.invokes) == 1, worker, service))
    assert len(sandbox.invokes) == 1 and store.claim(ASYNC_TOPIC, now=1e12, lease_seconds=1) is None


def test_success_goes_to_on_success(store, tmp_path):
    sandbox = RecordingSandbox()
    service, worker = build(store, tmp_path, sandbox)
    configure(store, DestinationConfig={"OnSuccess": {"Destination": arn("sink")}})
    service.enqueue_async(arn("f"), b'{"ok": true}')
    asyncio.run(run_until(lambda: bool(sandbox.invokes) and sandbox.invokes[-1].fn.name == "sink", worker, service))
    assert json.loads(sandbox.invokes[-1].payload)["responsePayload"] == {"ok": True}


def test_a_job_claimed_by_a_server_that_is_gone_runs_at_the_next_start(store, tmp_path):
    sandbox = RecordingSandbox()
    service, worker = build(store, tmp_path, sandbox)
    service.enqueue_async(arn("f"), b'{"n": 1}')
    assert store.claim(ASYNC_TOPIC, now=time.time(), lease_seconds=960) is not None  # its claimer then died
    asyncio.run(run_until(lambda: bool(sandbox.invokes), worker, service))
    assert json.loads(sandbox.invokes[0].payload) == {"n": 1}


def test_expired_event_is_not_run(store, tmp_path):
    now = [1_000_000.0]
    sandbox = RecordingSandbox()
    service, worker = build(store, tmp_path, sandbox, clock=lambda: now[0])
    configure(store, MaximumEventAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": arn("sink")}})
    store.enqueue(ASYNC_TOPIC, {"function_arn": arn("f"), "payload": "{}", "enqueued_at": now[0] - 61})
    asyncio.run(run_until(lambda: bool(sandbox.invokes), worker, service))
    assert [i.fn.name for i in sandbox.invokes] == ["sink"]
    assert json.loads(sandbox.invokes[0].payload)["requestContext"]["condition"] == "EventAgeExceeded"


def test_throttled_event_stays_queued(store, tmp_path):
    sandbox = RecordingSandbox(throttle=True)
    service, worker = build(store, tmp_path, sandbox)
    service.enqueue_async(arn("f"), b"{}")
    asyncio.run(run_until(lambda: bool(sandbox.invokes), worker, service))
    job = store.claim(ASYNC_TOPIC, now=1e12, lease_seconds=1)
    assert job is not None and job.payload["throttles"] >= 1


def test_s3_event_needs_the_functions_resource_policy(store, tmp_path):
    sandbox = RecordingSandbox()
    service, worker = build(store, tmp_path, sandbox)
    event = {"function_arn": arn("f"), "payload": '{"Records": []}', "source": "s3",
             "source_arn": "arn:aws:s3:::bucket", "source_account": ACCOUNT}
    store.enqueue(ASYNC_TOPIC, event)
    asyncio.run(run_until(lambda: True, worker, service, settle=0.5))
    assert sandbox.invokes == [] and store.claim(ASYNC_TOPIC, now=1e12, lease_seconds=1) is None
    statement = {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "lambda:InvokeFunction", "Resource": arn("f"),
                 "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"},
                               "StringEquals": {"AWS:SourceAccount": ACCOUNT}}}
    store.update_spec(shapes.FUNCTION, arn("f"), lambda s: {**s, "Policy": {"$LATEST": [statement]}})
    store.enqueue(ASYNC_TOPIC, {**event, "source_arn": "arn:aws:s3:::other"})
    store.enqueue(ASYNC_TOPIC, event)
    asyncio.run(run_until(lambda: bool(sandbox.invokes), worker, service))
    assert len(sandbox.invokes) == 1 and sandbox.invokes[0].payload == b'{"Records": []}'
