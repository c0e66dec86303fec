"""The delete marker behind a GetObject or HeadObject 404, which S3 names and SeaweedFS does not.

On S3, reading a key whose newest version is a delete marker answers 404 with `x-amz-delete-marker: true` and
the marker's `x-amz-version-id`; reading the marker itself by its version id answers 405 MethodNotAllowed
(`Allow: DELETE`). SeaweedFS answers a plain 404 NoSuchKey for both, so after a 404 in a bucket that has had
versioning the gateway looks the key's versions up (`listing_walk.versions_of`, on misses only)."""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.services.s3.listing_walk import versions_of


async def _marker_id(backend: Backend, bucket: str, key: str, version_id: str | None) -> str | None:
    """The version id of `key`'s delete marker: the one named `version_id`, or else the newest version."""
    try:
        versions = await versions_of(backend, bucket, key)
    except (AwsError, BackendUnavailable):
        return None  # the 404 stands as the backend gave it
    for entry in versions:
        if entry.is_delete_marker and (entry.version_id == version_id or (version_id is None and entry.is_latest)):
            return entry.version_id
    return None


async def delete_marker_answer(backend: Backend, bucket: str, key: str, version_id: str | None, method: str,
                               request_id: str) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers to add, body) for a 404 that a delete marker explains, else None."""
    marker = await _marker_id(backend, bucket, key, version_id)
    if marker is None:
        return None
    headers = {"x-amz-delete-marker": "true", "x-amz-version-id": marker}
    if version_id is None:
        return 404, headers, b""
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>MethodNotAllowed</Code><Message>The specified '
            f"method is not allowed against this resource.</Message><Method>{method}</Method><ResourceType>"
            f"DeleteMarker</ResourceType><RequestId>{request_id}</RequestId><HostId>{request_id}</HostId>"
            f"</Error>").encode()
    return 405, {**headers, "Allow": "DELETE", "Content-Type": "application/xml"}, body
