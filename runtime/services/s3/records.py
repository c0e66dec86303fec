"""The `s3.bucket` record: what Terrarium keeps about a bucket that the backend lacks or must not see.

id = name = the bucket name (global, as in AWS); account = the owner; spec keys: `backend` (backend bucket
name), `region`, `policy` (JSON text), `notification`, `cors`, `website`, `lifecycle`, `public_access_block`,
`versioning`, `tags`, `storage_classes` ({key: class} for objects stored with a class other than STANDARD).
"""

from __future__ import annotations

import hashlib

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
    try:
        found = store.get(BUCKET, name)
    except NotFound:
        found = None
    if cache is not None:
        cache[key] = found
    return found


def canonical_user_id(account: str) -> str:
    """S3's 64-hex canonical user id of an account (stable, derived)."""
    return hashlib.sha256(f"terrarium-canonical:{account}".encode()).hexdigest()


def owner(account: str) -> dict:
    return {"ID": canonical_user_id(account), "DisplayName": account}
