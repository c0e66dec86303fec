"""`kill -9` at random moments never leaves a corrupt database or a half-written transaction."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from runtime.state import SqliteStore

REPO = Path(__file__).resolve().parents[3]
WRITER = Path(__file__).with_name("crash_writer.py")
ITEMS = 5
KILLS = 8


def _run_and_kill(db: Path, rng: random.Random) -> int:
    """Start the writer, let it commit for a random while, SIGKILL it; returns the last printed batch."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(WRITER), str(db)], stdout=subprocess.PIPE, env=env)
    try:
        first = proc.stdout.readline()  # at least one commit happened in this life
        assert first, "writer died before its first commit"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return int((first + rest).split()[-1])


def _deleted_by_design(b: int, next_batch: int) -> bool:
    later = b + 2
    return later < next_batch and later % 3 == 0


def _assert_consistent(db: Path, last_printed: int) -> None:
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        queued = sorted(json.loads(p)["batch"] for (p,) in raw.execute("SELECT payload FROM jobs"))
    finally:
        raw.close()
    with SqliteStore(db) as store:
        assert store.check() == []
        next_batch = store.get_meta("next_batch")
        assert last_printed < next_batch, "a commit the writer reported was lost"
        batches = {r.spec["batch"] for r in store.list("test.batch")}
        items: dict[int, list] = {}
        for r in store.list("test.item"):
            items.setdefault(r.spec["batch"], []).append(r)
        expected = {b for b in range(next_batch) if not _deleted_by_design(b, next_batch)}
        assert batches == expected
        assert set(items) == expected, "a batch's items outlived or preceded their transaction"
        for b, rows in items.items():
            assert sorted((r.spec["i"], r.name, r.parent) for r in rows) == [
                (i, f"item-{b}-{i}", f"b{b}") for i in range(ITEMS)]
            assert all(r.spec["pad"] == "x" * 2000 for r in rows)
        assert store.get("test.counter", "live").spec == {"batches": len(expected)}
        assert store.list("test.ghost") == []
        assert queued == list(range(next_batch))


def test_sigkill_at_random_points_leaves_complete_transactions(tmp_path):
    rng = random.Random(os.getpid())
    db = tmp_path / "crash.db"
    for _ in range(KILLS):
        last = _run_and_kill(db, rng)
        _assert_consistent(db, last)
