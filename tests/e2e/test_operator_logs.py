"""`terrarium logs FUNCTION [--follow]`: a function's log events read from the store, like `aws logs tail`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.e2e.test_operator_cli import terrarium
from tests.server import REPO


@pytest.fixture
def log_group(server):
    logs = server.client("logs")
    group = "/aws/lambda/op-logs"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/11/28/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="2026/11/28/[$LATEST]abc", logEvents=[
        {"timestamp": now - 2000, "message": "START RequestId: 1"},
        {"timestamp": now - 1000, "message": "hello from the handler"}])
    yield logs, group
    logs.delete_log_group(logGroupName=group)


def test_logs_prints_events_oldest_first(server, log_group):
    result = terrarium(server, "logs", "op-logs")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("2026/11/28/[$LATEST]abc START RequestId: 1")
    assert lines[1].endswith("hello from the handler") and "+00:00" in lines[1]


def test_logs_json_and_since(server, log_group):
    events = [json.loads(line) for line in terrarium(server, "logs", "op-logs", "--json").stdout.splitlines()]
    assert [e["message"] for e in events] == ["START RequestId: 1", "hello from the handler"]
    assert terrarium(server, "logs", "/aws/lambda/op-logs", "--since", "1h").stdout.count("\n") == 2
    bad = terrarium(server, "logs", "op-logs", "--since", "soon")
    assert bad.returncode == 1 and "--since" in bad.stderr


def test_logs_unknown_function_fails(server):
    result = terrarium(server, "logs", "no-such-function")
    assert result.returncode == 1 and "/aws/lambda/no-such-function" in result.stderr


def test_logs_follow_prints_new_events(server, log_group):
    logs, group = log_group
    follower = subprocess.Popen([sys.executable, "-m", "runtime", "logs", "op-logs", "--follow", "--interval", "0.2",
                                 "--data-dir", str(server.data_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout.readline().endswith("START RequestId: 1\n")
        assert follower.stdout.readline().endswith("hello from the handler\n")
        logs.put_log_events(logGroupName=group, logStreamName="2026/11/28/[$LATEST]abc",
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": "a later line"}])
        assert follower.stdout.readline().endswith("a later line\n")
        assert follower.poll() is None
    finally:
        follower.send_signal(2)
        assert follower.wait(10) == 0
