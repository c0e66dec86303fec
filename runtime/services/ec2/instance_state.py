"""The EC2 instance state machine: names, codes and which requests are legal from which state. (The running time
that per-second billing counts is kept by the instance realiser, runtime/control/instances.py.)"""

from __future__ import annotations

import time

CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
LIVE = ("pending", "running", "stopping", "stopped", "shutting-down")
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
