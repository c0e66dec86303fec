"""The EC2 instance state machine: names, codes, which requests are legal from which state, and the running
time that per-second billing counts (60 s minimum per start, as AWS bills Linux instances)."""

from __future__ import annotations

import time

CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
LIVE = ("pending", "running", "stopping", "stopped", "shutting-down")
BILLING_MINIMUM_S = 60
TERMINATED_VISIBLE_S = 3600  # terminated instances stay in DescribeInstances for about an hour


def state(name: str) -> dict:
    return {"Code": CODES[name], "Name": name}


def can_start(name: str) -> bool:
    return name in ("stopped", "running", "pending")


def can_stop(name: str) -> bool:
    return name in ("running", "pending", "stopping", "stopped")


def user_reason(now: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(now or time.time()))
    return f"User initiated ({stamp})"


def billed_seconds(status: dict, now: float | None = None) -> float:
    """Seconds billed so far: closed run periods plus the open one, each at least 60 s."""
    total = float(status.get("BilledSeconds", 0.0))
    since = status.get("RunningSince")
    if since:
        total += max(BILLING_MINIMUM_S, (now or time.time()) - since)
    return total


def close_run_period(status: dict, now: float | None = None) -> dict:
    """The status patch that ends the current run period (stop, terminate, shutdown)."""
    if not status.get("RunningSince"):
        return {}
    return {"BilledSeconds": billed_seconds(status, now), "RunningSince": None}
