"""Fixtures for state tests: a real SQLite store on tmp_path with a controllable clock."""

from __future__ import annotations

import pytest

from runtime.state import SqliteStore


class Clock:
    """A clock the test moves by hand, so created/updated are exact."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

@pytest.fixture
def clock() -> Clock:
    return Clock()

@pytest.fixture
def store(tmp_path, clock):
    s = SqliteStore(tmp_path / "state.db", clock=clock)
    yield s
    s.close()
