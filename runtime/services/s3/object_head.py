"""One object's backend headers, for operations the gateway answers itself about an existing object (its ACL,
its attributes): the object, or the version asked for, must exist, with S3's errors when it does not."""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.services.s3.buckets import unavailable
from runtime.services.s3.names import check_version_id
from runtime.services.s3.records import get_bucket
from runtime.state import Store


async def head_object(store: Store, backend: Backend, params: dict,
                      headers: dict[str, str] | None = None) -> tuple[object, dict[str, str]]:
    """(bucket record, the backend's HEAD headers) of `params`' Bucket, Key and VersionId."""
    record = get_bucket(store, params["Bucket"])
    version = params.get("VersionId")
    check_version_id(record, version)
    query = [("versionId", version)] if version else []
    try:
        reply = await backend.request("HEAD", record.spec["backend"], params["Key"], query, dict(headers or {}))
    except BackendUnavailable as exc:
        raise unavailable() from exc
    try:
        status, found = reply.status, dict(reply.headers.items())
    finally:
        reply.release()
    if status == 404 and version:
        raise AwsError("NoSuchVersion", "The specified version does not exist.", 404, Key=params["Key"],
                       VersionId=version)
    if status == 404:
        raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=params["Key"])
    if status >= 400:
        raise AwsError("InternalError", "We encountered an internal error. Please try again.", 500,
                       sender_fault=False)
    return record, found
