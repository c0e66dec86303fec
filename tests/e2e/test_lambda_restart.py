"""Queued asynchronous invocations survive a server restart: the queue is the database."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runtime.state import SqliteStore

from tests.e2e.test_lambda import TRUST_LAMBDA, make_zip, wait_for
from tests.server import start_server

pytestmark = pytest.mark.host

APP = '''
import time


def handler(event, context):
    time.sleep(max(0.0, event.get("until", 0) - time.time()))
    print("DONE", event["marker"])
    return event
'''


def _messages(server, name) -> list[str]:
    logs = server.client("logs")
    try:
        return [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    except ClientError:  # the group appears with the first invocation
        return []


def test_restart_loses_no_queued_async_invocation(tmp_path):
    data = tmp_path / "data"
    env = {"TERRARIUM_LAMBDA_RETRY_BASE": "0.3"}
    server = start_server(data, log_path=tmp_path / "first.log", extra_env=env)
    config = Config(retries={"max_attempts": 1})
    try:
        lam = server.client("lambda", config=config)
        role = server.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
        for name in ("held", "busy"):
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"],
                                Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})}, Timeout=30)
            lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
        lam.put_function_concurrency(FunctionName="held", ReservedConcurrentExecutions=0)
        held = [uuid.uuid4().hex for _ in range(3)]
        for marker in held:
            assert lam.invoke(FunctionName="held", InvocationType="Event",
                              Payload=json.dumps({"marker": marker}).encode())["StatusCode"] == 202
        busy = uuid.uuid4().hex
        # "busy" runs until a fixed wall-clock time: well past the stop below however slow it is, and a rerun
        # after the restart ends at the same moment
        lam.invoke(FunctionName="busy", InvocationType="Event",
                   Payload=json.dumps({"marker": busy, "until": time.time() + 15}).encode())
        time.sleep(1.0)  # "busy" is running now; "held" is throttled and waiting in the queue
    finally:
        assert server.stop() == 0
    assert not any(busy in m for m in _messages_offline(data, server.account_id))
    server = start_server(data, log_path=tmp_path / "second.log", extra_env=env)
    try:
        lam = server.client("lambda", config=config)
        lam.delete_function_concurrency(FunctionName="held")
        for marker in held:
            wait_for(lambda: f"DONE {marker}" in _messages(server, "held"), 60)
        wait_for(lambda: f"DONE {busy}" in _messages(server, "busy"), 60)
    finally:
        server.stop()


def _messages_offline(data, account: str) -> list[str]:
    """What the stopped server logged for "busy": its interrupted run never finished."""
    store = SqliteStore(data / "state.db")
    try:
        return [e.message for e in store.read_log_events(account, "/aws/lambda/busy")]
    finally:
        store.close()
