"""The `s3.bucket` record: what Terrarium keeps about a bucket that the backend lacks or must not see.

id = name = the bucket name (global, as in AWS); account = the owner; spec keys: `backend` (backend bucket
name), `region`, `policy` (JSON text), `notification`, `cors`, `website`, `lifecycle`, `public_access_block`,
`versioning`, `tags`, `storage_classes` ({key: class} for objects stored with a class other than STANDARD),
`website_redirects` ({key: location}, redirects.py).
"""

from __future__ import annotations

import hashlib
import weakref

from runtime.errors import AwsError, NotFound
from runtime.state import Store
from runtime.state.records import Record

BUCKET = "s3.bucket"


def get_bucket(store: Store, name: str, cache: dict | None = None) -> Record:
    """The bucket record or `NoSuchBucket`; `cache` (a request's `ctx.extras`) saves re-reading it."""
    found = find_bucket(store, name, cache)
    if found is None:
        raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=name)
    return found


def find_bucket(store: Store, name: str, cache: dict | None = None) -> Record | None:
    key = ("s3.bucket", name)
    if cache is not None and key in cache:
        return cache[key]
    found = _bucket_cache(store).get(store, name)
    if cache is not None:
        cache[key] = found
    return found


class _BucketCache:
    """Bucket records kept in memory until the store reports a change to them: every S3 request needs its
    bucket, and a SQLite read was a measurable share of a small GET. Writes made by this process are the only
    writes to buckets, and each is reported after its commit; `generation` keeps a read that raced a write
    from caching what it read."""

    def __init__(self, store: Store) -> None:
        self.records: dict[str, Record | None] = {}
        self.generation = 0
        store.subscribe(self._changed)

    def _changed(self, keys) -> None:
        touched = [id for kind, id in keys if kind == BUCKET]
        if touched:
            self.generation += 1
            for name in touched:
                self.records.pop(name, None)

    def get(self, store: Store, name: str) -> Record | None:
        records = self.records
        if name in records:
            return records[name]
        generation = self.generation
        try:
            found = store.get(BUCKET, name)
        except NotFound:
            found = None
        if generation == self.generation:
            if len(records) >= _CACHE_LIMIT:
                records.clear()
            records[name] = found
        return found


_CACHE_LIMIT = 10000
_CACHES: "weakref.WeakKeyDictionary[Store, _BucketCache]" = weakref.WeakKeyDictionary()


def _bucket_cache(store: Store) -> _BucketCache:
    found = _CACHES.get(store)
    if found is None:
        found = _CACHES[store] = _BucketCache(store)
    return found


def canonical_user_id(account: str) -> str:
    """S3's 64-hex canonical user id of an account (stable, derived)."""
    return hashlib.sha256(f"terrarium-canonical:{account}".encode()).hexdigest()


def owner(account: str) -> dict:
    return {"ID": canonical_user_id(account), "DisplayName": account}
