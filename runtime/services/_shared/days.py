"""UTC days and months of epoch times: how billing books usage that spans midnight."""

from __future__ import annotations

import calendar
import time

DAY_S = 86400


def utc_day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def seconds_by_utc_day(start: float, end: float) -> dict[str, float]:
    """Seconds of [start, end) per UTC day."""
    out: dict[str, float] = {}
    while start < end:
        midnight = (int(start // DAY_S) + 1) * DAY_S
        out[utc_day(start)] = out.get(utc_day(start), 0.0) + min(end, midnight) - start
        start = min(end, midnight)
    return out


def hours_in_month(day: str) -> int:
    """Hours in the month of `day` (YYYY-MM-DD): the denominator of AWS's GB-month."""
    year, month = int(day[:4]), int(day[5:7])
    return calendar.monthrange(year, month)[1] * 24
