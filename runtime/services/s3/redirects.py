"""Object website redirects (`x-amz-website-redirect-location`), which SeaweedFS accepts and drops.

S3 keeps the location with the object, returns it on GET and HEAD, and its website endpoint answers a GET of
the object with 301 to it. Terrarium keeps them in the bucket record (`website_redirects`: {key: location}),
set by PutObject, CopyObject and CreateMultipartUpload (a later write of the key without one, a form upload
included, clears it) and dropped when the key is deleted or expired by a lifecycle rule.
"""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.services.s3.records import BUCKET
from runtime.state import Store

HEADER = "x-amz-website-redirect-location"
_MAX_LENGTH = 2048


def check_redirect_location(value: str) -> None:
    if not value.startswith(("/", "http://", "https://")) or len(value.encode()) > _MAX_LENGTH:
        raise AwsError("InvalidRedirectLocation", "The website redirect location must have a prefix of "
                                                  "'http://' or 'https://' or '/'.", 400)


def redirect_of(record, key: str) -> str | None:
    return (record.spec.get("website_redirects") or {}).get(key)


def note_redirects(store: Store, record, written: dict[str, str | None]) -> None:
    """Record `written` ({key: location, or None for a key written without one or deleted})."""
    held = record.spec.get("website_redirects") or {}
    if all(held.get(key) == location for key, location in written.items()):
        return  # the common case (no redirects anywhere): no write

    def update(spec: dict) -> dict:
        redirects = dict(spec.get("website_redirects") or {})
        for key, location in written.items():
            if location:
                redirects[key] = location
            else:
                redirects.pop(key, None)
        return {**spec, "website_redirects": redirects}
    store.update_spec(BUCKET, record.id, update)
