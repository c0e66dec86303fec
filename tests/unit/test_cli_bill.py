"""`terrarium bill` books EC2 seconds on the UTC days they ran: every run period the instance kept (closed
ones in `RunPeriods`, the open one from `RunningSince`) is split at midnight, a period shorter than the 60 s
minimum is topped up on its first day, and seconds closed before periods were kept land on the last update."""

from __future__ import annotations

from calendar import timegm

import pytest

from runtime import operator
from runtime.config import Settings
from runtime.iam import account as accounts
from runtime.services._shared.days import utc_day
from runtime.services.ec2.instance_types import TYPES
from runtime.services.s3 import storage_meter
from runtime.state import SqliteStore

MIDNIGHT = timegm((2026, 11, 28, 0, 0, 0))


@pytest.fixture
def settings(tmp_path):
    settings = Settings(data_dir=tmp_path)
    accounts.load_or_create(tmp_path)
    return settings


def instance(settings: Settings, instance_id: str, status: dict) -> None:
    with SqliteStore(settings.db_path) as store:
        store.put("ec2.instance", instance_id, "123456789012", {"InstanceType": "t3.micro"})
        store.update_status("ec2.instance", instance_id, status)


def ec2_rows(settings: Settings, now: float) -> dict[str, float]:
    return {r["Day"]: r["Quantity"] for r in operator.bill(settings, now=now)["Rows"] if r["Service"] == "ec2"}


def test_closed_periods_are_split_at_midnight(settings):
    periods = [[MIDNIGHT - 100, MIDNIGHT + 300], [MIDNIGHT + 3600, MIDNIGHT + 3610]]  # the second is 10 s
    instance(settings, "i-0000000000000001a", {"RunPeriods": periods, "BilledSeconds": 400.0 + 60.0})
    assert ec2_rows(settings, now=MIDNIGHT + 7200) == {"2026-11-27": 100.0, "2026-11-28": 300.0 + 60.0}


def test_open_period_and_closed_ones_add_up_per_day(settings):
    instance(settings, "i-0000000000000002a", {"RunPeriods": [[MIDNIGHT - 3000, MIDNIGHT - 2000]],
                                               "BilledSeconds": 1000.0, "RunningSince": MIDNIGHT - 50})
    rows = operator.bill(settings, now=MIDNIGHT + 30)["Rows"]  # the open period: 50 s before midnight, 30 after
    assert {r["Day"]: r["Quantity"] for r in rows} == {"2026-11-27": 1050.0, "2026-11-28": 30.0}
    assert rows[0]["CostUsd"] == round(1050 / 3600 * TYPES["t3.micro"].hourly_usd, 6)


def test_a_young_open_period_is_billed_the_minimum(settings):
    instance(settings, "i-0000000000000004a", {"RunningSince": MIDNIGHT + 10})
    assert ec2_rows(settings, now=MIDNIGHT + 40) == {"2026-11-28": 60.0}


def test_seconds_closed_before_periods_were_kept_land_on_the_last_update(settings):
    instance(settings, "i-0000000000000003a", {"BilledSeconds": 120.0})
    with SqliteStore(settings.db_path) as store:
        updated = store.get("ec2.instance", "i-0000000000000003a").updated
    assert ec2_rows(settings, now=updated) == {utc_day(updated): 120.0}


GIB = 1 << 30


def test_s3_storage_is_integrated_per_day_and_class_between_samples(settings):
    account = accounts.load_or_create(settings.data_dir).account_id
    with SqliteStore(settings.db_path) as store:
        storage_meter.record_sample(store, MIDNIGHT - 3600, {(account, "photos"): {"STANDARD": 2 * GIB}})
        storage_meter.record_sample(store, MIDNIGHT + 7200, {(account, "photos"): {"STANDARD": GIB,
                                                                                  "GLACIER": 4 * GIB}})
    rows = operator.bill(settings, now=MIDNIGHT + 10800)["Rows"]
    s3 = {(r["Day"], r["Detail"]): r for r in rows if r["Service"] == "s3"}
    hours_in_november = 30 * 24
    # 2 GiB for the hour before midnight, then 2 hours more; since the second sample, 1 GiB + 4 GiB for an hour
    assert s3[("2026-11-27", "storage STANDARD")]["Quantity"] == round(2 * 1 / hours_in_november, 9)
    assert s3[("2026-11-28", "storage STANDARD")]["Quantity"] == round((2 * 2 + 1) / hours_in_november, 9)
    glacier = s3[("2026-11-28", "storage GLACIER")]
    assert glacier["Quantity"] == round(4 / hours_in_november, 9) and glacier["Unit"] == "GB-month"
    assert glacier["CostUsd"] == round(4 / hours_in_november * storage_meter.PRICE_PER_GB_MONTH["GLACIER"], 6)
    assert all(r["Resource"] == "photos" for r in s3.values())


def test_a_bucket_no_longer_measured_stops_accruing(settings):
    account = accounts.load_or_create(settings.data_dir).account_id
    with SqliteStore(settings.db_path) as store:
        storage_meter.record_sample(store, MIDNIGHT, {(account, "gone"): {"STANDARD": GIB}})
        storage_meter.record_sample(store, MIDNIGHT + 3600, {})
    for now in (MIDNIGHT + 3600, MIDNIGHT + 36000):
        rows = [r for r in operator.bill(settings, now=now)["Rows"] if r["Service"] == "s3"]
        assert [(r["Day"], r["Quantity"]) for r in rows] == [("2026-11-28", round(1 / (30 * 24), 9))]
