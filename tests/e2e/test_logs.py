"""CloudWatch Logs through boto3: groups, streams, events, filters, tokens, errors."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_groups_streams_and_events(server):
    logs = server.client("logs")
    logs.create_log_group(logGroupName="/app/web")
    assert code_of(lambda: logs.create_log_group(logGroupName="/app/web")) == "ResourceAlreadyExistsException"
    logs.put_retention_policy(logGroupName="/app/web", retentionInDays=7)
    assert code_of(lambda: logs.put_retention_policy(logGroupName="/app/web", retentionInDays=8)) == \
        "InvalidParameterException"
    group = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"][0]
    assert group["logGroupName"] == "/app/web" and group["retentionInDays"] == 7
    assert group["arn"].endswith(":log-group:/app/web:*")
    logs.create_log_stream(logGroupName="/app/web", logStreamName="s1")
    base = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/web", logStreamName="s1",
                        logEvents=[{"timestamp": base + i, "message": f"line {i} {'ERROR' if i % 3 == 0 else 'ok'}"}
                                   for i in range(10)])
    head = logs.get_log_events(logGroupName="/app/web", logStreamName="s1", startFromHead=True, limit=4)
    assert [e["message"] for e in head["events"]] == ["line 0 ERROR", "line 1 ok", "line 2 ok", "line 3 ERROR"]
    rest = logs.get_log_events(logGroupName="/app/web", logStreamName="s1", nextToken=head["nextForwardToken"])
    assert len(rest["events"]) == 6
    empty = logs.get_log_events(logGroupName="/app/web", logStreamName="s1", nextToken=rest["nextForwardToken"])
    assert empty["events"] == [] and empty["nextForwardToken"] == rest["nextForwardToken"]
    tail = logs.get_log_events(logGroupName="/app/web", logStreamName="s1", limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 8 ok", "line 9 ERROR"]
    errors = logs.filter_log_events(logGroupName="/app/web", filterPattern="ERROR")["events"]
    assert [e["message"] for e in errors] == ["line 0 ERROR", "line 3 ERROR", "line 6 ERROR", "line 9 ERROR"]
    stream = logs.describe_log_streams(logGroupName="/app/web")["logStreams"][0]
    assert stream["logStreamName"] == "s1" and stream["lastEventTimestamp"] == base + 9
    assert code_of(lambda: logs.get_log_events(logGroupName="/app/web", logStreamName="nope")) == \
        "ResourceNotFoundException"
    logs.delete_log_group(logGroupName="/app/web")
    assert code_of(lambda: logs.describe_log_streams(logGroupName="/app/web")) == "ResourceNotFoundException"


def test_describe_log_groups_paginates(server):
    logs = server.client("logs")
    for i in range(7):
        logs.create_log_group(logGroupName=f"/page/g{i}")
    pages = list(logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/page/",
                                                                    PaginationConfig={"PageSize": 3}))
    assert [len(p["logGroups"]) for p in pages] == [3, 3, 1]
    for i in range(7):
        logs.delete_log_group(logGroupName=f"/page/g{i}")
