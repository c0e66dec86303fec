"""What a function writes lands in CloudWatch Logs with the time it happened: START at the start, REPORT at the
end, and the handler's lines in between, each when it was written (GetLogEvents and FilterLogEvents alike)."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest
from botocore.config import Config

pytestmark = pytest.mark.host

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
APP = ("import time\n\n\ndef handler(event, context):\n    print('before sleep')\n    time.sleep(1.0)\n"
       "    print('after sleep')\n    return 'ok'\n")


def deploy(server, source: str, **extra) -> tuple[object, str]:
    """A Lambda client (no retries) and an Active python3.11 function running `source` as app.handler."""
    lam = server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    name = f"fn-{uuid.uuid4().hex[:8]}"
    role = server.client("iam").create_role(RoleName=f"{name}-exec", AssumeRolePolicyDocument=json.dumps(TRUST))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", source)
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role["Role"]["Arn"], Handler="app.handler",
                        Code={"ZipFile": buf.getvalue()}, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return lam, name


@pytest.fixture(scope="module")
def events(server):
    """The events of the function's second (warm) invocation, from GetLogEvents and from FilterLogEvents."""
    lam, name = deploy(server, APP)
    lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    request_id = lam.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    logs = server.client("logs")
    group = f"/aws/lambda/{name}"
    deadline = time.monotonic() + 20
    while True:
        mine = _invocation(logs.filter_log_events(logGroupName=group)["events"], request_id)
        if mine and mine[-1]["message"].startswith("REPORT") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    got = logs.get_log_events(logGroupName=group, logStreamName=mine[0]["logStreamName"], startFromHead=True)
    return {"filter": mine, "get": _invocation(got["events"], request_id)}


def _invocation(events: list[dict], request_id: str) -> list[dict]:
    """The events from this request's START to its REPORT."""
    start = next((i for i, e in enumerate(events) if e["message"].startswith(f"START RequestId: {request_id}")), None)
    if start is None:
        return []
    end = next((i for i, e in enumerate(events[start:], start)
                if e["message"].startswith(f"REPORT RequestId: {request_id}")), len(events) - 1)
    return events[start:end + 1]


def _at(events: list[dict], prefix: str) -> int:
    return next(e["timestamp"] for e in events if e["message"].startswith(prefix))


@pytest.mark.parametrize("api", ["get", "filter"])
def test_start_before_handler_lines_before_report(events, api):
    got = events[api]
    start, before, report = _at(got, "START"), _at(got, "before sleep"), _at(got, "REPORT")
    assert start <= before <= report
    assert report - start >= 1000, "START must carry the start time and REPORT the end, 1 s of sleep apart"
    assert [e["timestamp"] for e in got] == sorted(e["timestamp"] for e in got)


@pytest.mark.parametrize("api", ["get", "filter"])
def test_each_handler_line_carries_the_time_it_was_written(events, api):
    got = events[api]
    start, before, after = _at(got, "START"), _at(got, "before sleep"), _at(got, "after sleep")
    end, report = _at(got, "END"), _at(got, "REPORT")
    assert start <= before < after <= end <= report
    assert after - before >= 700, "stamped when written, not when the invocation ended (1 s of sleep apart)"
    assert before - start < 500 and report - after < 500
