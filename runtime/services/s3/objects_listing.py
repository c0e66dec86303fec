"""ListObjects and ListObjectsV2 pages in S3's order, cut by the gateway from a walk of the backend bucket
(listing_walk), so that the order holds across pages too: `aws s3 sync` merges a listing with a sorted local
tree and takes a key out of order for one missing on one side (with `--delete`, deleting it). The marker is
v1's `marker`, v2's continuation token or `start-after`; a continuation token is Terrarium's own: the last key
or common prefix of the page before, base64-encoded behind a version tag."""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import delimiter_encoding_truncation, key_bytes, listing_text
from runtime.services.s3.listing_walk import OBJECTS, Page, cut_page, in_order
from runtime.services.s3.tokens import name_in, token_for

_OWNER = re.compile(rb"<Owner>.*?</Owner>", re.S)


@dataclass
class ObjectsQuery:
    """A ListObjects (v1) or ListObjectsV2 request's paging parameters."""
    v2: bool
    prefix: str
    delimiter: str
    max_keys: int
    url_encoded: bool
    marker: str = ""              # v1
    start_after: str = ""         # v2
    continuation_token: str = ""  # v2
    fetch_owner: bool = False     # v2; v1 always lists owners


def _resume_after(query: ObjectsQuery) -> str:
    if not query.v2:
        return query.marker
    if not query.continuation_token:
        return query.start_after
    return name_in(query.continuation_token, "continuation-token")


async def objects_page(backend: Backend, bucket: str, query: ObjectsQuery) -> bytes:
    """A ListBucketResult document for `query`, in the backend bucket's name (the caller renames it)."""
    marker = _resume_after(query)
    floor = [marker]
    walk = in_order(backend, bucket, OBJECTS, query.prefix, floor, query.url_encoded)
    page = await cut_page(walk, floor, query.prefix, query.delimiter, marker, query.max_keys, query.url_encoded,
                          lambda entry: key_bytes(entry.key) > key_bytes(marker))
    if query.v2 and not query.fetch_owner:
        page.items = [_OWNER.sub(b"", item) for item in page.items]
    return _document(bucket, query, page)


def _document(bucket: str, query: ObjectsQuery, page: Page) -> bytes:
    enc = query.url_encoded
    head = [b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            b"<Name>%s</Name>" % listing_text(bucket, False), b"<Prefix>%s</Prefix>" % listing_text(query.prefix, enc)]
    if query.v2:
        if query.continuation_token:
            head.append(b"<ContinuationToken>%s</ContinuationToken>" % listing_text(query.continuation_token, False))
        if query.start_after:
            head.append(b"<StartAfter>%s</StartAfter>" % listing_text(query.start_after, enc))
        head.append(b"<KeyCount>%d</KeyCount>" % len(page.items))
    else:
        head.append(b"<Marker>%s</Marker>" % listing_text(query.marker, enc))
    head.append(b"<MaxKeys>%d</MaxKeys>" % query.max_keys)
    head += delimiter_encoding_truncation(query.delimiter, enc, page.truncated)
    if page.truncated and page.last is not None:
        if query.v2:
            head.append(b"<NextContinuationToken>%s</NextContinuationToken>" % token_for(page.last[0]).encode())
        elif query.delimiter:
            head.append(b"<NextMarker>%s</NextMarker>" % listing_text(page.last[0], enc))
    return b"".join(head + page.items + [b"</ListBucketResult>"])
