"""Real sandboxes on the real kernel: results, isolation, timeouts, memory, billing, errors, confinement."""

from __future__ import annotations

import asyncio
import errno
import json
import math
import os
import re
import time
import uuid
from pathlib import Path

import pytest

from runtime.sandbox.ports import SandboxThrottled

pytestmark = pytest.mark.host

REPORT = re.compile(r"^REPORT RequestId: (?P<id>[0-9a-f-]+)\tDuration: (?P<d>\d+\.\d{2}) ms\t"
                    r"Billed Duration: (?P<b>\d+) ms\tMemory Size: (?P<m>\d+) MB\tMax Memory Used: (?P<u>\d+) MB\t"
                    r"(Init Duration: (?P<i>\d+\.\d{2}) ms\t)?(Status: (?P<s>\w+)\t)?(Error Type: (?P<e>[\w.]+)\t)?$")


def _report(result) -> re.Match:
    match = REPORT.match(result.logs[-1])
    assert match, result.logs[-1]
    return match


def _processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass  # exited while we looked
    return found


def test_round_trip_with_aws_log_lines(lab):
    fn = lab.fn("app.echo")
    rid = str(uuid.uuid4())
    cold = lab.invoke(fn, b'{"hello": "world", "n": [1, 2]}', request_id=rid)
    assert json.loads(cold.payload) == {"hello": "world", "n": [1, 2]}
    assert cold.function_error is None and not cold.timed_out
    assert cold.logs[0] == "init says hello"
    start = cold.logs.index(f"START RequestId: {rid} Version: $LATEST")
    assert cold.logs[start + 1] == 'echo got {"hello": "world", "n": [1, 2]}'
    assert cold.logs[-2] == f"END RequestId: {rid}"
    report = _report(cold)
    assert report["id"] == rid and report["m"] == "128"
    assert cold.init_duration_ms is not None and float(report["i"]) == cold.init_duration_ms

    warm = lab.invoke(fn, b"")
    assert json.loads(warm.payload) == {}
    assert warm.init_duration_ms is None and _report(warm)["i"] is None
    assert warm.logs[0].startswith("START RequestId: ")
    assert warm.log_tail.endswith(warm.logs[-1] + "\n")


def test_globals_tmp_and_environment_never_leak(lab):
    fn = lab.fn("app.leak")
    for _ in range(3):
        result = json.loads(lab.invoke(fn).payload)
        assert result == {"counter": 1, "tmp": [], "env_leak": None}


def test_timeout_kills_a_sleep_and_its_children_at_the_deadline(lab):
    fn = lab.fn("app.sleep", timeout_s=1.0)
    marker = f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10 ** 6}"
    rid = str(uuid.uuid4())
    deadline_ms = int(time.time() * 1000) + 1000
    result = lab.invoke(fn, json.dumps({"child": marker}).encode(), request_id=rid, deadline_ms=deadline_ms)
    late_ms = time.time() * 1000 - deadline_ms
    assert late_ms < 50, f"returned {late_ms:.1f} ms after the deadline"
    assert result.timed_out and result.function_error == "Unhandled"
    assert json.loads(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    assert result.payload.startswith(b'{"errorType":"Sandbox.Timedout"')
    assert any(re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1\.\d\d seconds",
                            line) for line in result.logs)
    report = _report(result)
    assert report["d"] == "1000.00" and report["b"] in ("1000", str(1000 + math.ceil(result.init_duration_ms or 0)))
    assert report["s"] == "timeout"
    gone_by = time.monotonic() + 0.5  # SIGKILLed at the deadline; the kernel reaps it right after
    while _processes_with(marker) and time.monotonic() < gone_by:
        time.sleep(0.01)
    assert _processes_with(marker) == []
    assert json.loads(lab.invoke(fn, b'{"seconds": 0.01}').payload) == "woke"


def test_timeout_kills_a_busy_loop(lab):
    fn = lab.fn("app.spin", timeout_s=1.0)
    lab.invoke(fn, b'{"warm": 1}', deadline_ms=int(time.time() * 1000) + 50)
    deadline_ms = int(time.time() * 1000) + 1000
    result = lab.invoke(fn, deadline_ms=deadline_ms)
    assert time.time() * 1000 - deadline_ms < 50
    assert result.timed_out and result.duration_ms == 1000.0 and result.billed_ms == 1000
    assert lab.invoke(lab.fn("app.echo"), b'{"after": "spin"}').payload == b'{"after": "spin"}'


def test_memory_limit_kills_and_reports(lab):
    rid = str(uuid.uuid4())
    result = lab.invoke(lab.fn("app.allocate", memory_mb=128, timeout_s=20), b'{"mb": 300}', request_id=rid)
    assert result.function_error == "Unhandled" and not result.timed_out
    assert json.loads(result.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
    assert result.max_memory_mb == 128
    assert f"RequestId: {rid} Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory" in result.logs
    report = _report(result)
    assert report["u"] == "128" and report["s"] == "error" and report["e"] == "Runtime.OutOfMemory"


def test_memory_within_limit_passes_and_peak_is_measured(lab):
    result = lab.invoke(lab.fn("app.allocate", memory_mb=256, timeout_s=20), b'{"mb": 100}')
    assert json.loads(result.payload) == {"allocated_mb": 100}
    assert 100 <= result.max_memory_mb <= 256
    assert int(_report(result)["u"]) == result.max_memory_mb


def test_cpu_is_capped_in_proportion_to_memory(lab):
    small = json.loads(lab.invoke(lab.fn("app.burn", memory_mb=128), b'{"seconds": 0.5}').payload)["cpu_share"]
    large = json.loads(lab.invoke(lab.fn("app.burn", memory_mb=1769), b'{"seconds": 0.5}').payload)["cpu_share"]
    assert small < 128 / 1769 * 1.5, small
    assert large > 3 * small, (small, large)


def test_billing_is_the_measured_duration_rounded_up_to_1ms(lab):
    fn = lab.fn("app.sleep", memory_mb=1769)  # a whole vCPU: the CPU cap has its own test
    lab.invoke(fn, b'{"seconds": 0}')
    for seconds in (0.05, 0.123):
        t0 = time.monotonic()
        result = lab.invoke(fn, json.dumps({"seconds": seconds}).encode())
        wall_ms = (time.monotonic() - t0) * 1000
        assert seconds * 1000 <= result.duration_ms < seconds * 1000 + 25  # wall clock, on a shared host
        assert result.duration_ms <= wall_ms
        assert result.billed_ms == math.ceil(result.duration_ms)
        report = _report(result)
        assert float(report["d"]) == result.duration_ms and int(report["b"]) == result.billed_ms


def test_handler_exception_has_awslambdaric_shape(lab):
    rid = str(uuid.uuid4())
    result = lab.invoke(lab.fn("app.boom"), b'{"x": 1}', request_id=rid)
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "'missing'" and error["errorType"] == "KeyError" and error["requestId"] == rid
    assert len(error["stackTrace"]) == 1
    assert error["stackTrace"][0].startswith('  File "/var/task/app.py", line ')
    assert error["stackTrace"][0].endswith(', in boom\n    return event["missing"]\n')
    entry = next(line for line in result.logs if line.startswith("[ERROR]"))
    assert entry.startswith("[ERROR] KeyError: 'missing'\nTraceback (most recent call last):\n\u00a0\u00a0File ")


@pytest.mark.parametrize("handler,error_type,message", [
    ("bad.handler", "Runtime.ImportModuleError",
     "Unable to import module 'bad': No module named 'nonexistent_module_xyz'"),
    ("app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
    ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots': not enough values to unpack (expected 2, got 1)"),
])
def test_init_errors_have_aws_shapes(lab, handler, error_type, message):
    fn = lab.fn(handler)
    for _ in range(2):  # Init is retried on the next invocation, and fails the same way
        result = lab.invoke(fn)
        assert result.function_error == "Unhandled"
        assert json.loads(result.payload) == {"errorMessage": message, "errorType": error_type,
                                              "requestId": "", "stackTrace": []}
        assert f"[ERROR] {error_type}: {message}" in "\n".join(result.logs)
        assert _report(result)["e"] == error_type


def test_syntax_error_and_failing_init(lab):
    syntax = json.loads(lab.invoke(lab.fn("syn.handler")).payload)
    assert syntax["errorType"] == "Runtime.UserCodeSyntaxError"
    assert syntax["errorMessage"].startswith("Syntax error in module 'syn': ")
    assert syntax["stackTrace"][0].startswith('  File "/var/task/syn.py" Line 1\n')
    init = json.loads(lab.invoke(lab.fn("initfail.handler")).payload)
    assert init["errorType"] == "ValueError" and init["errorMessage"] == "init exploded"
    assert init["stackTrace"][-1].startswith('  File "/var/task/initfail.py", line 1, in <module>')


def test_init_beyond_memory_size_is_killed_and_reported(lab):
    result = lab.invoke(lab.fn("inithog.handler", memory_mb=128))
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload) == {"errorType": "Runtime.OutOfMemory",
                                          "errorMessage": "Runtime exited with error: signal: killed"}
    big = lab.invoke(lab.fn("inithog.handler", memory_mb=512))
    assert json.loads(big.payload) == 300 << 20 and big.max_memory_mb >= 300


def test_marshal_and_exit_errors(lab):
    marshal = json.loads(lab.invoke(lab.fn("app.unserialisable")).payload)
    assert marshal["errorType"] == "Runtime.MarshalError"
    assert marshal["errorMessage"] == "Unable to marshal response: Object of type object is not JSON serializable"
    rid = str(uuid.uuid4())
    exited = lab.invoke(lab.fn("app.exits"), request_id=rid)
    assert json.loads(exited.payload) == {"errorType": "Runtime.ExitError",
                                          "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}


@pytest.mark.parametrize("size", [7 * 1024 * 1024, 20 * 1024 * 1024])
def test_oversized_response_is_refused_with_its_size(lab, size):
    result = lab.invoke(lab.fn("app.huge", memory_mb=512), json.dumps({"bytes": size}).encode())
    assert result.function_error == "Unhandled"
    assert result.payload == (b'{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size ('
                              + str(size + 2).encode() + b' bytes) exceeded maximum allowed payload size '
                              b'(6291556 bytes)."}')
    ok = lab.invoke(lab.fn("app.huge", memory_mb=512), json.dumps({"bytes": 6 * 1024 * 1024}).encode())
    assert ok.function_error is None and len(ok.payload) == 6 * 1024 * 1024 + 2


def test_sandbox_is_confined(lab):
    seen = json.loads(lab.invoke(lab.fn("app.probe")).payload)
    assert seen["uid"] == seen["euid"] == 993
    assert seen["pid"] == 1 and seen["pids"] == [1]
    assert seen["cap_eff"] == "0000000000000000" and seen["no_new_privs"] == "1"
    assert seen["write_task"] == errno.EROFS and seen["write_etc"] == errno.EROFS
    assert seen["write_root"] == errno.EROFS and seen["write_tmp"] == "written"
    assert seen["interfaces"] == ["lo"]
    assert seen["host_paths"] == []


def test_environment_and_context_are_aws_shaped(lab):
    creds = {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "s3cr3t", "SessionToken": "tok"}
    fn = lab.fn("app.context_env", name="ctx-fn", memory_mb=192, environment={"MY_VAR": "mine"},
                role_credentials=creds)
    rid = str(uuid.uuid4())
    client_context = json.dumps({"client": {"app_title": "demo"}, "custom": {"k": "v"}, "env": {}})
    result = lab.invoke(fn, request_id=rid, client_context=client_context, invoked_arn=fn.arn + ":live")
    seen = json.loads(result.payload)
    stream = result.log_stream_name
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", stream)
    assert seen["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "ctx-fn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ctx-fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime", "_HANDLER": "app.context_env",
        "TZ": ":UTC", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLEEXAMPLE12", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "AWS_SESSION_TOKEN": "tok", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "MY_VAR": "mine"}
    assert seen["function_name"] == "ctx-fn" and seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "192" and seen["aws_request_id"] == rid
    assert seen["invoked_function_arn"] == fn.arn + ":live"
    assert seen["log_group_name"] == "/aws/lambda/ctx-fn" and seen["log_stream_name"] == stream
    assert lab.invoke(fn).log_stream_name == stream
    assert 2500 < seen["remaining"] <= 3000
    assert seen["identity_id"] is None
    assert seen["client_custom"] == {"k": "v"} and seen["client_app_title"] == "demo"
    assert seen["cwd"] == "/var/task"
    leaked = [pid for pid in _processes_with("s3cr3t")]
    assert leaked == [], "a credential is visible in a world-readable command line"


def test_stdout_stderr_and_logging_become_log_lines(lab):
    rid = str(uuid.uuid4())
    result = lab.invoke(lab.fn("app.logs"), request_id=rid)
    body = result.logs[result.logs.index(f"START RequestId: {rid} Version: $LATEST") + 1:-2]
    assert re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tinformative", body[0])
    assert body[1:] == ["line one", "line two", "to stderr"]


def test_reserved_concurrency_throttles(lab):
    fn = lab.fn("app.sleep", reserved_concurrency=1, name="one-at-a-time")

    async def two_at_once():
        first = asyncio.ensure_future(lab.manager.invoke(fn, b'{"seconds": 0.5}', request_id=str(uuid.uuid4())))
        await asyncio.sleep(0.1)
        try:
            await lab.manager.invoke(fn, b'{"seconds": 0}', request_id=str(uuid.uuid4()))
        except SandboxThrottled as e:
            return e, await first
        raise AssertionError("second call was not throttled")

    error, first = lab.run(two_at_once())
    assert error.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert json.loads(first.payload) == "woke"


def test_concurrent_invocations_are_separate_sandboxes(lab):
    fn = lab.fn("app.leak", name="parallel")

    async def many():
        return await asyncio.gather(*(lab.manager.invoke(fn, b"{}", request_id=str(uuid.uuid4()))
                                      for _ in range(6)))

    for result in lab.run(many()):
        assert json.loads(result.payload)["counter"] == 1


def test_a_zygote_killed_from_outside_is_replaced(lab):
    fn = lab.fn("app.echo", name="killed-zygote")
    lab.invoke(fn)
    def environ(pid):
        try:
            return Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return b""

    zygotes = [pid for pid in _processes_with("zygote.py") if b"killed-zygote" in environ(pid)]
    assert zygotes
    for pid in zygotes:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    lab.run(asyncio.sleep(0.3))
    result = lab.invoke(fn, b'{"after": "kill"}')
    assert json.loads(result.payload) == {"after": "kill"} and result.init_duration_ms is not None


def test_invalidate_forces_a_new_init(lab):
    fn = lab.fn("app.echo", name="invalidated")
    lab.invoke(fn)
    assert lab.invoke(fn).init_duration_ms is None
    lab.run(lab.manager.invalidate(fn.arn))
    assert lab.invoke(fn).init_duration_ms is not None
