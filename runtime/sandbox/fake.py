"""A recording SandboxPort for service tests that run without root: no processes, scripted results."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.sandbox import report
from runtime.sandbox.ports import FunctionSpec, InvocationResult, SandboxThrottled


@dataclass
class RecordedInvoke:
    fn: FunctionSpec
    payload: bytes
    request_id: str
    client_context: str | None
    deadline_ms: int | None
    invoked_arn: str | None


def echo_result(fn: FunctionSpec, payload: bytes, request_id: str) -> InvocationResult:
    """What a handler returning its event would give, with well-formed log lines and 1 ms billed."""
    logs = [report.start_line(request_id, fn.version), report.end_line(request_id),
            report.report_line(request_id, duration_ms=0.5, billed_ms=1, memory_mb=fn.memory_mb, max_used_mb=1)]
    return InvocationResult(payload=payload or b"{}", function_error=None, log_tail=report.log_tail(logs),
                            logs=logs, duration_ms=0.5, billed_ms=1, max_memory_mb=1, init_duration_ms=None,
                            timed_out=False, memory_size_mb=fn.memory_mb)


def error_result(fn: FunctionSpec, request_id: str, error_type: str, message: str) -> InvocationResult:
    payload = json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id,
                          "stackTrace": []}).encode()
    base = echo_result(fn, payload, request_id)
    return InvocationResult(**{**base.__dict__, "function_error": "Unhandled", "error_type": error_type})


@dataclass
class RecordingSandbox:
    """Records every call; `behaviour` decides each result (default: echo the payload).
    `throttle` makes the next calls raise SandboxThrottled, as an exhausted concurrency limit would."""

    behaviour: Callable[[FunctionSpec, bytes, str], InvocationResult] = echo_result
    throttle: bool = False
    invokes: list[RecordedInvoke] = field(default_factory=list)
    invalidated: list[str] = field(default_factory=list)
    closed: bool = False

    async def invoke(self, fn: FunctionSpec, payload: bytes, *, request_id: str,
                     client_context: str | None = None, deadline_ms: int | None = None,
                     invoked_arn: str | None = None) -> InvocationResult:
        self.invokes.append(RecordedInvoke(fn, payload, request_id, client_context, deadline_ms, invoked_arn))
        if self.throttle:
            raise SandboxThrottled("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")
        return self.behaviour(fn, payload, request_id)

    async def invalidate(self, function_arn: str) -> None:
        self.invalidated.append(function_arn)

    async def activity(self) -> dict:
        return {"environments": [], "invocations": []}

    async def close(self) -> None:
        self.closed = True
