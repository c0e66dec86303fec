"""AWS's words for what happened: log lines (START/END/REPORT, timeout, exit), error payloads, billing."""

from __future__ import annotations

import json
import math
import signal
import time

LOG_TAIL_BYTES = 4096

# Go's os/exec wording, which the Lambda platform uses in "Runtime exited with error: ...".
_GO_SIGNAL_NAMES = {
    signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception", signal.SIGHUP: "hangup", signal.SIGINT: "interrupt",
    signal.SIGPIPE: "broken pipe", signal.SIGQUIT: "quit", signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGSYS: "bad system call", signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2", signal.SIGXCPU: "CPU time limit exceeded",
}


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id: str, *, duration_ms: float, billed_ms: int, memory_mb: int, max_used_mb: int,
                init_ms: float | None = None, status: str | None = None, error_type: str | None = None) -> str:
    """Tab-separated with a trailing tab; Init Duration only on cold starts; Status on failures."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {max_used_mb} MB\t")
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status:
        line += f"Status: {status}\t"
    if error_type:
        line += f"Error Type: {error_type}\t"
    return line


def billed_ms(duration_ms: float, init_ms: float | None, bill_init: bool) -> int:
    """ceil to 1 ms of the duration as printed (2 decimals), plus Init when Init is billed; at least 1."""
    total = round(duration_ms, 2) + (round(init_ms, 2) if bill_init and init_ms is not None else 0.0)
    return max(1, math.ceil(round(total, 2)))


def timeout_payload(request_id: str, timeout_s: float) -> bytes:
    return json.dumps({"errorType": "Sandbox.Timedout",
                       "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"},
                      separators=(",", ":")).encode()


def timeout_log_line(request_id: str, elapsed_s: float, now: float | None = None) -> str:
    return f"{iso_ms(now)} {request_id} Task timed out after {elapsed_s:.2f} seconds"


def exit_reason(status: int | None) -> str:
    """`status` as from os.waitstatus_to_exitcode: negative is a signal number."""
    if status is None or status == 0:
        return "Runtime exited without providing a reason"
    if status < 0:
        sig = signal.Signals(-status)
        return f"Runtime exited with error: signal: {_GO_SIGNAL_NAMES.get(sig, sig.name)}"
    return f"Runtime exited with error: exit status {status}"


def exit_payload(request_id: str, error_type: str, reason: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {reason}"},
                      separators=(",", ":")).encode()


def response_too_large_payload(size: int, limit: int) -> bytes:
    return json.dumps({"errorType": "Function.ResponseSizeTooLarge",
                       "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload "
                                       f"size ({limit} bytes)."}, separators=(",", ":")).encode()


def iso_ms(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def log_tail(lines: list[str]) -> str:
    """The last 4 KB of the invocation log, as `LogType: Tail` returns it (base64 is the caller's job)."""
    data = "".join(line + "\n" for line in lines).encode()
    return data[-LOG_TAIL_BYTES:].decode(errors="ignore")


def line_times(data: bytes, marks: tuple[tuple[int, float], ...], default: float) -> list[float]:
    """When each of `split_output(data)`'s lines was complete: the time of the first read (`marks`: bytes
    kept so far, epoch seconds) that delivered the line's last byte, else `default`. A newline is never part of
    a multi-byte UTF-8 sequence, so byte lines and decoded lines correspond one to one."""
    ends, pos = [], 0
    for line in data.split(b"\n"):
        pos += len(line) + 1
        ends.append(min(pos, len(data)))
    if data.endswith(b"\n") or not data:
        ends.pop()
    times, i = [], 0
    for end in ends:
        while i < len(marks) and marks[i][0] < end:
            i += 1
        times.append(marks[i][1] if i < len(marks) else default)
    return times


def split_output(data: bytes) -> list[str]:
    """Handler stdout/stderr → one log event per line, as the runtime's stdout reaches CloudWatch."""
    lines = data.decode(errors="replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
