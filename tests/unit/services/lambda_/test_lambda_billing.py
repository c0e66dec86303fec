"""The billing ledger: GB-seconds and prices per aws-spec §2.8."""

import pytest

from runtime.services.lambda_.billing import Ledger, cost, gb_seconds, month_of, usage
from runtime.state import SqliteStore


def test_price_example_from_the_spec():
    # 128 MB, 50 ms, 1M invokes -> 6,250 GB-s ~ $0.104 + $0.20
    gb_s = gb_seconds(128, 50) * 1_000_000
    assert gb_s == pytest.approx(6250)
    assert cost(1_000_000, gb_s, 0) == pytest.approx(0.2 + 0.104, abs=0.001)


def test_ledger_accumulates_per_month_account_function(tmp_path):
    store = SqliteStore(tmp_path / "db")
    ledger = Ledger(store, clock=lambda: 1_800_000_000)
    ledger.record("111111111111", "f", memory_mb=1024, billed_ms=1000)
    ledger.record("111111111111", "f", memory_mb=1024, billed_ms=500, ephemeral_mb=1536)
    row = usage(store, month_of(1_800_000_000))["111111111111"]["f"]
    assert row["requests"] == 2 and row["billed_ms"] == 1500
    assert row["gb_seconds"] == pytest.approx(1.5) and row["ephemeral_gb_seconds"] == pytest.approx(0.5)
    assert row["cost_usd"] == pytest.approx(2 * 0.2e-6 + 1.5 * 0.0000166667 + 0.5 * 0.0000000309)
    store.close()
