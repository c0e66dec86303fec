"""ListObjectVersions pages in S3's order, cut by the gateway from a walk of the backend bucket
(listing_walk): the key marker, the version-id marker within the marker's key, the client's delimiter and
max-keys, and the next markers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import delimiter_encoding_truncation, key_bytes, listing_text
from runtime.services.s3.listing_walk import VERSIONS, Listed, Page, cut_page, in_order


@dataclass
class Query:
    """A ListObjectVersions request's paging parameters."""
    prefix: str
    delimiter: str
    key_marker: str
    version_id_marker: str
    max_keys: int
    url_encoded: bool


def all_versions(backend: Backend, bucket: str) -> AsyncIterator[Listed]:
    """Every version and delete marker in `bucket`, in S3's order."""
    return in_order(backend, bucket, VERSIONS, "", [""], False)


def _after_marker(entry: Listed, query: Query, passed_version: list[bool]) -> bool:
    """Whether `entry` comes after the request's key marker (and version-id marker) in S3's order."""
    key, marker = key_bytes(entry.key), key_bytes(query.key_marker)
    if key != marker:
        return key > marker
    if not query.version_id_marker:
        return False
    if passed_version[0]:
        return True
    passed_version[0] = entry.version_id == query.version_id_marker
    return False


async def versions_page(backend: Backend, bucket: str, query: Query) -> bytes:
    """A ListVersionsResult document for `query`, in the backend's bucket's name (the caller renames it)."""
    floor = [query.key_marker]
    passed_version = [False]
    walk = in_order(backend, bucket, VERSIONS, query.prefix, floor, query.url_encoded)
    page = await cut_page(walk, floor, query.prefix, query.delimiter, query.key_marker, query.max_keys,
                          query.url_encoded, lambda entry: _after_marker(entry, query, passed_version))
    return _document(bucket, query, page)


def _document(bucket: str, query: Query, page: Page) -> bytes:
    enc = query.url_encoded
    head = [b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            b"<Name>%s</Name>" % listing_text(bucket, False), b"<Prefix>%s</Prefix>" % listing_text(query.prefix, enc),
            b"<KeyMarker>%s</KeyMarker>" % listing_text(query.key_marker, enc),
            b"<VersionIdMarker>%s</VersionIdMarker>" % listing_text(query.version_id_marker, False),
            b"<MaxKeys>%d</MaxKeys>" % query.max_keys]
    head += delimiter_encoding_truncation(query.delimiter, enc, page.truncated)
    if page.truncated and page.last is not None:
        head.append(b"<NextKeyMarker>%s</NextKeyMarker>" % listing_text(page.last[0], enc))
        if page.last[1] is not None:
            head.append(b"<NextVersionIdMarker>%s</NextVersionIdMarker>" % listing_text(page.last[1], False))
    return b"".join(head + page.items + [b"</ListVersionsResult>"])
