"""CloudWatch Logs: log groups, streams and events, as Lambda functions and users write them.

Groups (`logs.group`, id = the group's ARN) and streams (`logs.stream`, children of their group, named
`<group>:<stream>` since a stream name is unique only within its group) are records; events live in the
store's `log_events` table. Tokens are opaque to clients and made of event sequence numbers (`f/<seq>`).
"""

from __future__ import annotations

import shlex
import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns
from runtime.state import Record, Store

GROUP = "logs.group"
STREAM = "logs.stream"
RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653}
MAX_EVENTS = 10000


def now_ms() -> int:
    return int(time.time() * 1000)


def _group_resource(ctx: RequestContext, params: dict) -> list[str]:
    name = params.get("logGroupName") or params.get("logGroupIdentifier") or "*"
    return [arns.log_group_arn(ctx.region, ctx.account, name)]


def _not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The specified {what} does not exist.")


def matches_pattern(message: str, pattern: str | None) -> bool:
    """The term form of CloudWatch filter patterns: all terms must appear, `?t` terms any-of, `-t` none."""
    if not pattern or not pattern.strip():
        return True
    try:
        terms = shlex.split(pattern)
    except ValueError:
        terms = pattern.split()
    required = [t for t in terms if not t.startswith(("?", "-"))]
    optional = [t[1:] for t in terms if t.startswith("?")]
    excluded = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]
    return (all(t in message for t in required) and (not optional or any(t in message for t in optional))
            and not any(t in message for t in excluded))


class LogsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _group(self, ctx: RequestContext, name: str | None) -> Record:
        record = self.store.find(GROUP, ctx.account, name or "")
        if record is None:
            raise _not_found("log group")
        return record

    def _stream(self, ctx: RequestContext, group: str, stream: str) -> Record:
        record = self.store.find(STREAM, ctx.account, f"{group}:{stream}")
        if record is None:
            raise _not_found("log stream")
        return record

    def ensure_stream(self, account: str, region: str, group: str, stream: str) -> None:
        """Create the group and stream if needed (Lambda does this for its functions)."""
        with self.store.transaction():
            record = self.store.find(GROUP, account, group)
            if record is None:
                record = self.store.put(GROUP, arns.log_group_arn(region, account, group), account,
                                        {"logGroupName": group, "creationTime": now_ms()}, name=group)
            if self.store.find(STREAM, account, f"{group}:{stream}") is None:
                self.store.put(STREAM, f"{record.id}:log-stream:{stream}", account,
                               {"logStreamName": stream, "creationTime": now_ms()},
                               name=f"{group}:{stream}", parent=record.id)

    def write(self, account: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        if not events:
            return
        self.store.append_log_events(account, group, stream, events)
        record = self.store.find(STREAM, account, f"{group}:{stream}")
        if record is not None:
            first = record.status.get("firstEventTimestamp") or min(t for t, _ in events)
            self.store.update_status(STREAM, record.id, {
                "firstEventTimestamp": first, "lastEventTimestamp": max(t for t, _ in events),
                "lastIngestionTime": now_ms()})

    @operation("CreateLogGroup", resources=_group_resource)
    def create_log_group(self, ctx: RequestContext, params: dict) -> dict:
        name = params["logGroupName"]
        if self.store.find(GROUP, ctx.account, name) is not None:
            raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists")
        self.store.put(GROUP, arns.log_group_arn(ctx.region, ctx.account, name), ctx.account,
                       {"logGroupName": name, "creationTime": now_ms()}, name=name, tags=params.get("tags"))
        return {}

    @operation("DeleteLogGroup", resources=_group_resource)
    def delete_log_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self._group(ctx, params["logGroupName"])
        with self.store.transaction():
            for stream in self.store.list(STREAM, ctx.account, parent=group.id):
                self.store.delete(STREAM, stream.id)
            self.store.delete(GROUP, group.id)
            self.store.delete_log_events(ctx.account, group.name)
        return {}

    @operation("PutRetentionPolicy", resources=_group_resource)
    def put_retention_policy(self, ctx: RequestContext, params: dict) -> dict:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise AwsError("InvalidParameterException",
                           f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
                           f"constraint: Member must satisfy enum value set: {sorted(RETENTION_DAYS)}")
        group = self._group(ctx, params["logGroupName"])
        self.store.update_spec(GROUP, group.id, {**group.spec, "retentionInDays": days})
        return {}

    @operation("DeleteRetentionPolicy", resources=_group_resource)
    def delete_retention_policy(self, ctx: RequestContext, params: dict) -> dict:
        group = self._group(ctx, params["logGroupName"])
        self.store.update_spec(GROUP, group.id, {k: v for k, v in group.spec.items() if k != "retentionInDays"})
        return {}

    def _group_shape(self, record: Record) -> dict:
        return {"logGroupName": record.name, "creationTime": record.spec["creationTime"], "arn": f"{record.id}:*",
                "logGroupArn": record.id, "storedBytes": 0, "metricFilterCount": 0,
                **({"retentionInDays": record.spec["retentionInDays"]} if "retentionInDays" in record.spec else {})}

    @operation("DescribeLogGroups", resources=lambda ctx, p: [arns.log_group_arn(ctx.region, ctx.account, "*")])
    def describe_log_groups(self, ctx: RequestContext, params: dict) -> dict:
        prefix = params.get("logGroupNamePrefix") or ""
        pattern = params.get("logGroupNamePattern")
        groups = sorted((r for r in self.store.list(GROUP, ctx.account)
                         if r.name.startswith(prefix) and (not pattern or pattern.lower() in r.name.lower())),
                        key=lambda r: r.name)
        after = params.get("nextToken")
        if after:
            groups = [g for g in groups if g.name > after]
        limit = params.get("limit") or 50
        page = groups[:limit]
        result = {"logGroups": [self._group_shape(g) for g in page]}
        if len(groups) > limit:
            result["nextToken"] = page[-1].name
        return result

    @operation("CreateLogStream", resources=_group_resource)
    def create_log_stream(self, ctx: RequestContext, params: dict) -> dict:
        group = self._group(ctx, params["logGroupName"])
        stream = params["logStreamName"]
        if ":" in stream or "*" in stream:
            raise AwsError("InvalidParameterException", "Log stream name must not contain ':' or '*'")
        if self.store.find(STREAM, ctx.account, f"{group.name}:{stream}") is not None:
            raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")
        self.store.put(STREAM, f"{group.id}:log-stream:{stream}", ctx.account,
                       {"logStreamName": stream, "creationTime": now_ms()},
                       name=f"{group.name}:{stream}", parent=group.id)
        return {}

    @operation("DeleteLogStream", resources=_group_resource)
    def delete_log_stream(self, ctx: RequestContext, params: dict) -> dict:
        record = self._stream(ctx, params["logGroupName"], params["logStreamName"])
        with self.store.transaction():
            self.store.delete(STREAM, record.id)
            self.store.delete_log_events(ctx.account, params["logGroupName"], params["logStreamName"])
        return {}

    @operation("DescribeLogStreams", resources=_group_resource)
    def describe_log_streams(self, ctx: RequestContext, params: dict) -> dict:
        group = self._group(ctx, params.get("logGroupName") or params.get("logGroupIdentifier"))
        prefix = params.get("logStreamNamePrefix") or ""
        order = params.get("orderBy", "LogStreamName")
        if order == "LastEventTime" and prefix:
            raise AwsError("InvalidParameterException",
                           "Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [r for r in self.store.list(STREAM, ctx.account, parent=group.id)
                   if r.spec["logStreamName"].startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda r: (r.status.get("lastEventTimestamp", 0), r.spec["logStreamName"]))
        else:
            streams.sort(key=lambda r: r.spec["logStreamName"])
        if params.get("descending"):
            streams.reverse()
        offset = int(params.get("nextToken") or 0)
        limit = params.get("limit") or 50
        page = streams[offset:offset + limit]
        result = {"logStreams": [{
            "logStreamName": r.spec["logStreamName"], "creationTime": r.spec["creationTime"],
            "arn": f"{r.id}", "storedBytes": 0, **{k: v for k, v in r.status.items()
                                                  if k in ("firstEventTimestamp", "lastEventTimestamp",
                                                           "lastIngestionTime")}} for r in page]}
        if offset + limit < len(streams):
            result["nextToken"] = str(offset + limit)
        return result

    @operation("PutLogEvents", resources=_group_resource)
    def put_log_events(self, ctx: RequestContext, params: dict) -> dict:
        self._stream(ctx, params["logGroupName"], params["logStreamName"])
        events = [(e["timestamp"], e["message"]) for e in params["logEvents"]]
        if any(a[0] > b[0] for a, b in zip(events, events[1:])):
            raise AwsError("InvalidParameterException",
                           "Log events in a single PutLogEvents request must be in chronological order.")
        self.write(ctx.account, params["logGroupName"], params["logStreamName"], events)
        return {"nextSequenceToken": str(now_ms())}

    @operation("GetLogEvents", resources=_group_resource)
    def get_log_events(self, ctx: RequestContext, params: dict) -> dict:
        group = params.get("logGroupName") or params.get("logGroupIdentifier")
        self._stream(ctx, group, params["logStreamName"])
        limit = min(params.get("limit") or MAX_EVENTS, MAX_EVENTS)
        token = params.get("nextToken") or ""
        window = dict(streams=[params["logStreamName"]], start=params.get("startTime"), end=params.get("endTime"))
        if token.startswith("f/"):
            events = self.store.read_log_events(ctx.account, group, after_seq=int(token[2:]), limit=limit,
                                                **window)
        elif params.get("startFromHead"):
            events = self.store.read_log_events(ctx.account, group, limit=limit, **window)
        else:
            events = list(reversed(self.store.read_log_events(ctx.account, group, limit=limit,
                                                              descending=True, **window)))
        last = events[-1].seq if events else int(token[2:] or 0) if token.startswith("f/") else 0
        first = events[0].seq if events else last
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion}
                           for e in events],
                "nextForwardToken": f"f/{last:056d}", "nextBackwardToken": f"b/{first:056d}"}

    @operation("FilterLogEvents", resources=_group_resource)
    def filter_log_events(self, ctx: RequestContext, params: dict) -> dict:
        group = params.get("logGroupName") or params.get("logGroupIdentifier")
        self._group(ctx, group)
        streams = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if prefix:
            streams = [r.spec["logStreamName"] for r in self.store.list(STREAM, ctx.account)
                       if r.name.startswith(f"{group}:{prefix}")]
        limit = min(params.get("limit") or MAX_EVENTS, MAX_EVENTS)
        after = int(params.get("nextToken") or 0)
        matched, last_seq = [], after
        while len(matched) < limit:
            batch = self.store.read_log_events(ctx.account, group, streams=streams, start=params.get("startTime"),
                                               end=params.get("endTime"), after_seq=last_seq, limit=1000)
            if not batch:
                break
            for event in batch:
                last_seq = event.seq
                if matches_pattern(event.message, params.get("filterPattern")):
                    matched.append(event)
                    if len(matched) == limit:
                        break
        result = {"events": [{"logStreamName": e.log_stream, "timestamp": e.timestamp, "message": e.message,
                              "ingestionTime": e.ingestion, "eventId": f"{e.seq:056d}"} for e in matched],
                  "searchedLogStreams": []}
        if len(matched) == limit:
            result["nextToken"] = str(last_seq)
        return result
