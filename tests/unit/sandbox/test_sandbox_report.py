"""AWS's log lines, error payloads and billing arithmetic, without a sandbox."""

from __future__ import annotations

import json
import signal

import pytest

from runtime.sandbox import report
from runtime.sandbox.manager import _has_result, _parse_records

RID = "8f507cfc-0000-4697-b07a-ac58fc914c95"


def test_report_line_is_tab_separated_with_trailing_tab():
    assert report.report_line(RID, duration_ms=15.744, billed_ms=16, memory_mb=128, max_used_mb=56,
                              init_ms=130.491) == (
        f"REPORT RequestId: {RID}\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tInit Duration: 130.49 ms\t")
    assert report.report_line(RID, duration_ms=3000, billed_ms=3000, memory_mb=128, max_used_mb=39,
                              status="timeout").endswith("Max Memory Used: 39 MB\tStatus: timeout\t")


def test_start_and_end_lines():
    assert report.start_line(RID, "$LATEST") == f"START RequestId: {RID} Version: $LATEST"
    assert report.end_line(RID) == f"END RequestId: {RID}"


@pytest.mark.parametrize("duration,init,bill_init,billed", [
    (15.74, None, True, 16), (15.0, None, True, 15), (0.004, None, True, 1), (1.001, None, True, 1), (1.006, None, True, 2),
    (900000.0, 544.9, True, 900545), (900000.0, 544.9, False, 900000), (2.3, 0.2, True, 3),
])
def test_billed_is_ceil_of_printed_duration(duration, init, bill_init, billed):
    assert report.billed_ms(duration, init, bill_init) == billed


def test_timeout_payload_and_log_line():
    assert report.timeout_payload(RID, 3) == (
        b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ' + RID.encode()
        + b' Error: Task timed out after 3.00 seconds"}')
    assert report.timeout_log_line(RID, 3.0191, now=1782415378.186) == (
        f"2026-06-25T19:22:58.186Z {RID} Task timed out after 3.02 seconds")


@pytest.mark.parametrize("status,text", [
    (-signal.SIGKILL, "Runtime exited with error: signal: killed"),
    (-signal.SIGSEGV, "Runtime exited with error: signal: segmentation fault"),
    (3, "Runtime exited with error: exit status 3"),
    (0, "Runtime exited without providing a reason"),
])
def test_exit_reasons_use_go_wording(status, text):
    assert report.exit_reason(status) == text


def test_log_tail_is_the_last_4kb():
    lines = [f"line {i:05d} " + "x" * 90 for i in range(100)]
    tail = report.log_tail(lines)
    assert len(tail.encode()) == 4096 and tail.endswith(lines[-1] + "\n")
    assert report.log_tail(["a", "b"]) == "a\nb\n"


def test_split_output_gives_one_event_per_line():
    assert report.split_output(b"a\nb\n") == ["a", "b"]
    assert report.split_output(b"no newline") == ["no newline"]
    assert report.split_output(b"") == []


def test_result_records_parse_in_any_order():
    body = json.dumps({"ok": 1}).encode()
    data = (b'{"kind": "log", "len": 5}\n[ERR]' + b'{"kind": "result", "ok": true, "duration_ns": 5, "len": '
            + str(len(body)).encode() + b"}\n" + body + b'{"kind": "exit", "status": 0}\n')
    rec = _parse_records(data)
    assert rec.result["ok"] and rec.body == body and rec.error_logs == ("[ERR]",) and rec.exit_status == 0
    assert _parse_records(b'{"kind": "exit", "status": -9}\n').result is None


def test_malformed_records_are_ignored_not_raised():
    assert _parse_records(b"garbage\n" + b'{"kind": "exit", "status": 0}\n').exit_status is None
    assert _parse_records(b'{"kind": "result", "ok": true, "duration_ns": "x", "len": 0}\n').result is None
    assert not _has_result(b'{"kind": "result", "duration_ns": 1, "len": 10}\nshort')
    assert not _has_result(b'[1, 2]\n')

