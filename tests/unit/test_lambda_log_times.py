"""Each Lambda log event gets its own time: START when the invocation started, later lines no later than they
were seen, and the sandbox's per-line times whenever it reports them."""

import dataclasses

from runtime.sandbox import report
from runtime.sandbox.ports import InvocationResult
from runtime.services.lambda_.service import event_times

RID = "11111111-2222-3333-4444-555555555555"


def _result(lines: list[str]) -> InvocationResult:
    logs = ["INIT line", report.start_line(RID, "$LATEST"), *lines, report.end_line(RID),
            report.report_line(RID, duration_ms=210.0, billed_ms=211, memory_mb=128, max_used_mb=40)]
    return InvocationResult(payload=b"{}", function_error=None, log_tail="", logs=logs, duration_ms=210.0,
                            billed_ms=211, max_memory_mb=40, init_duration_ms=None, timed_out=False)


def test_start_and_init_at_the_start_the_rest_at_the_end():
    times = event_times(_result(["first", "second"]), 1000, 1250)
    assert times == [1000, 1000, 1250, 1250, 1250, 1250]


def test_per_line_times_from_the_sandbox_are_used():
    timed = dataclasses.replace(_result(["first", "second"]), log_times=(990, 1000, 1001, 1202, 1250, 1250))
    assert event_times(timed, 1000, 1251) == [990, 1000, 1001, 1202, 1250, 1250]


def test_per_line_times_of_the_wrong_length_are_ignored():
    timed = dataclasses.replace(_result([]), log_times=(1,))
    assert event_times(timed, 1000, 1250) == [1000, 1000, 1250, 1250]


def test_each_output_line_gets_the_time_its_last_byte_arrived():
    data = b"first\nsecond\nthird"
    marks = ((3, 10.0), (13, 11.0), (18, 12.0))
    assert report.line_times(data, marks, 99.0) == [11.0, 11.0, 12.0]
    assert report.line_times(b"a\n", ((2, 5.0),), 99.0) == [5.0]
    assert report.line_times(b"a\nb\n", ((2, 5.0),), 99.0) == [5.0, 99.0]
    assert report.line_times(b"", (), 99.0) == []
    assert len(report.line_times(data, marks, 0)) == len(report.split_output(data))
