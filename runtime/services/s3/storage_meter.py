"""S3 storage for the bill: every bucket's bytes per storage class, measured in the backend and integrated
over time into byte-hours per UTC day, as AWS meters `TimedStorage-ByteHrs`.

`StorageMeter.run_once()` lists every version of every object of every bucket in the backend (noncurrent
versions are billed on AWS too) and books the bytes of the previous sample for the time since it; between two
samples a bucket is taken to hold what the earlier one measured. The bill adds the open interval from the
last sample to "now", so it is current up to the last sample's contents. Classes come from the bucket record's
`storage_classes` (set at upload or by lifecycle transitions); everything else is STANDARD.

Two kinds of meta values, like Lambda's billing ledger (meta writes wake no reconciler):
`s3.storage/<YYYY-MM>` = {account: {bucket: {day: {class: byte_hours}}}}, and `s3.storage/last` =
{account: {bucket: {"at": epoch, "bytes": {class: bytes}}}}.
"""

from __future__ import annotations

import os
from xml.etree.ElementTree import fromstring

from runtime.services._shared.days import seconds_by_utc_day
from runtime.errors import AwsError
from runtime.services.s3.background import BackgroundPass
from runtime.services.s3.records import BUCKET
from runtime.services.s3.versions_listing import all_versions
from runtime.state import Store

INTERVAL_ENV = "TERRARIUM_S3_STORAGE_INTERVAL"
META_PREFIX = "s3.storage/"
LAST = META_PREFIX + "last"
# us-east-1 list prices per GB-month (first 50 TB); GB = 2^30 bytes, month = its hours.
PRICE_PER_GB_MONTH = {"STANDARD": 0.023, "INTELLIGENT_TIERING": 0.023, "REDUCED_REDUNDANCY": 0.024,
                      "STANDARD_IA": 0.0125, "ONEZONE_IA": 0.01, "GLACIER_IR": 0.004, "GLACIER": 0.0036,
                      "DEEP_ARCHIVE": 0.00099}
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

Sizes = dict[str, int]  # storage class -> bytes


def storage_interval() -> float:
    """Seconds between measurements: 5 minutes by default, shorter for tests."""
    return float(os.environ.get(INTERVAL_ENV, "300"))


def record_sample(store: Store, now: float, measured: dict[tuple[str, str], Sizes]) -> None:
    """Book each bucket's previous sample up to `now`, then keep `measured` ({(account, bucket): sizes}) as
    the new last sample. Buckets missing from `measured` are closed at `now`."""
    with store.transaction():
        last = store.get_meta(LAST, {})
        months: dict[str, dict] = {}
        for account, buckets in last.items():
            for bucket, previous in buckets.items():
                for day, seconds in seconds_by_utc_day(previous["at"], now).items():
                    month = months.setdefault(day[:7], store.get_meta(META_PREFIX + day[:7], {}))
                    booked = month.setdefault(account, {}).setdefault(bucket, {}).setdefault(day, {})
                    for klass, size in previous["bytes"].items():
                        booked[klass] = booked.get(klass, 0.0) + size * seconds / 3600
        for month, ledger in months.items():
            store.set_meta(META_PREFIX + month, ledger)
        fresh: dict[str, dict] = {}
        for (account, bucket), sizes in measured.items():
            fresh.setdefault(account, {})[bucket] = {"at": now, "bytes": sizes}
        store.set_meta(LAST, fresh)


def byte_hours(store: Store, account: str, months: list[str], now: float) -> dict[tuple[str, str, str], float]:
    """{(bucket, day, class): byte-hours} of `account` in `months` (YYYY-MM), the open interval since the
    last sample included."""
    out: dict[tuple[str, str, str], float] = {}
    for month in months:
        for bucket, days in store.get_meta(META_PREFIX + month, {}).get(account, {}).items():
            for day, classes in days.items():
                for klass, hours in classes.items():
                    out[(bucket, day, klass)] = out.get((bucket, day, klass), 0.0) + hours
    for bucket, previous in store.get_meta(LAST, {}).get(account, {}).items():
        for day, seconds in seconds_by_utc_day(previous["at"], now).items():
            if day[:7] in months:
                for klass, size in previous["bytes"].items():
                    out[(bucket, day, klass)] = out.get((bucket, day, klass), 0.0) + size * seconds / 3600
    return out


class StorageMeter(BackgroundPass):
    what = "storage measurement"

    async def run_once(self) -> None:
        measured = {}
        for record in self.store.list(BUCKET):
            classes = record.spec.get("storage_classes") or {}
            sizes: Sizes = {}
            for key, size in await self._versions(record.spec["backend"]):
                klass = classes.get(key, "STANDARD")
                sizes[klass] = sizes.get(klass, 0) + size
            measured[(record.account, record.id)] = sizes
        record_sample(self.store, self.clock(), measured)

    async def _versions(self, backend_bucket: str) -> list[tuple[str, int]]:
        """(key, size) of every object version in the backend bucket (delete markers have no size). On a
        depth-first backend its own paging loses keys, so the gateway's walk (versions_listing) counts them,
        except where one folder holds more than that walk can split: there the backend's paging has to do."""
        if self.backend.endpoint.gateway_pages_listings:
            try:
                return [(entry.key, entry.size) async for entry in all_versions(self.backend, backend_bucket)]
            except AwsError as error:
                if error.code == "NoSuchBucket":
                    return []  # deleted since it was listed
                if error.code != "NotImplemented":
                    raise
        return [item async for item in self._backend_paged_versions(backend_bucket)]

    async def _backend_paged_versions(self, backend_bucket: str):
        markers: list[tuple[str, str]] = []
        while True:
            reply = await self.backend.request("GET", backend_bucket, None, [("versions", ""), *markers], {})
            try:
                document = await reply.read()
            finally:
                reply.release()
            if reply.status == 404:
                return  # deleted since it was listed
            if reply.status != 200:  # never book a failed listing as an empty bucket: skip this sample
                raise RuntimeError(f"listing the versions of {backend_bucket}: HTTP {reply.status}")
            root = fromstring(document)
            for item in root.iter(f"{_NS}Version"):
                yield item.findtext(f"{_NS}Key") or "", int(item.findtext(f"{_NS}Size") or 0)
            if root.findtext(f"{_NS}IsTruncated") != "true":
                return
            markers = [("key-marker", root.findtext(f"{_NS}NextKeyMarker") or ""),
                       ("version-id-marker", root.findtext(f"{_NS}NextVersionIdMarker") or "")]
