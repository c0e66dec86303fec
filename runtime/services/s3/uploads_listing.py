"""ListMultipartUploads pages in S3's order, built by the gateway for the embedded SeaweedFS.

SeaweedFS keeps uploads in one folder by upload id, and its listing follows that: uploads come in upload-id
order rather than by key, `delimiter` is ignored (no common prefixes), `key-marker` does not skip the marker's
own uploads, no `NextKeyMarker` is given, and Owner, Initiator and StorageClass are missing (found by a random
search against S3's rules). It does filter by prefix, so the gateway asks for every upload under the prefix in
one answer and cuts the page itself: uploads by key bytes, one key's uploads by initiation time, then the
markers, the delimiter's common prefixes and max-uploads. More in-progress uploads under one prefix than one
backend answer holds (10000) is answered `NotImplemented` rather than listed wrong."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runtime.errors import AwsError
from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import delimiter_encoding_truncation, key_bytes, listing_text
from runtime.services.s3.listing_walk import Listed, Page, backend_listing, cut_page

BACKEND_ANSWER = 10000  # the most uploads SeaweedFS returns in one answer
_UPLOAD = re.compile(rb"<Upload>(.*?)</Upload>", re.S)
_FIELD = re.compile(rb"<(Key|UploadId|Initiated)>(.*?)</\1>", re.S)
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")


@dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str
    initiated: str  # ISO 8601, as the backend wrote it


@dataclass
class UploadsQuery:
    """A ListMultipartUploads request's paging parameters."""
    prefix: str
    delimiter: str
    key_marker: str
    upload_id_marker: str
    max_uploads: int
    url_encoded: bool


async def _uploads(backend: Backend, bucket: str, prefix: str) -> list[Upload]:
    data = await backend_listing(backend, bucket, [("uploads", ""), ("prefix", prefix),
                                                   ("max-uploads", str(BACKEND_ANSWER))])
    if _TRUNCATED.search(data):
        raise AwsError("NotImplemented", f"Terrarium's S3 backend cannot list more than {BACKEND_ANSWER} "
                       f"multipart uploads in progress under one prefix ('{prefix}'); list a narrower prefix.",
                       501)
    uploads = []
    for match in _UPLOAD.finditer(data):
        fields = {name.decode(): html.unescape(value.decode()) for name, value in _FIELD.findall(match.group(1))}
        uploads.append(Upload(fields.get("Key", ""), fields.get("UploadId", ""), fields.get("Initiated", "")))
    return sorted(uploads, key=lambda u: (key_bytes(u.key), u.initiated, u.upload_id))


def _after_markers(uploads: list[Upload], query: UploadsQuery) -> list[Upload]:
    """The uploads after the key marker and, for the marker's own key, after the upload-id marker: after that
    upload where the key has it (so pages follow on), else those with a greater upload id (S3's rule)."""
    if not query.key_marker:
        return uploads
    marker = key_bytes(query.key_marker)
    after = [u for u in uploads if key_bytes(u.key) > marker]
    if not query.upload_id_marker:
        return after
    own = [u for u in uploads if u.key == query.key_marker]
    ids = [u.upload_id for u in own]
    if query.upload_id_marker in ids:
        own = own[ids.index(query.upload_id_marker) + 1:]
    else:
        own = [u for u in own if u.upload_id > query.upload_id_marker]
    return own + after


async def uploads_page(backend: Backend, bucket: str, query: UploadsQuery, owner: dict,
                       classes: dict[str, str]) -> bytes:
    """A ListMultipartUploadsResult document for `query`, in the backend bucket's name (the caller renames
    it); `owner` ({ID, DisplayName}) is the bucket owner's, who is every upload's owner and initiator here."""
    person = b"<ID>%s</ID><DisplayName>%s</DisplayName>" % (listing_text(owner["ID"], False),
                                                          listing_text(owner["DisplayName"], False))
    listed = [Listed(upload.key, upload.upload_id, 0,
                     b"<Upload><Key>%s</Key><UploadId>%s</UploadId><Initiator>%s</Initiator><Owner>%s</Owner>"
                     b"<StorageClass>%s</StorageClass><Initiated>%s</Initiated></Upload>" % (
                         listing_text(upload.key, query.url_encoded), listing_text(upload.upload_id, False),
                         person, person, classes.get(upload.key, "STANDARD").encode(),
                         listing_text(upload.initiated, False)))
              for upload in _after_markers(await _uploads(backend, bucket, query.prefix), query)]

    async def in_turn() -> AsyncIterator[Listed]:
        for entry in listed:
            yield entry
    page = await cut_page(in_turn(), [query.key_marker], query.prefix, query.delimiter, query.key_marker,
                          query.max_uploads, query.url_encoded, lambda _: True)
    return _document(bucket, query, page)


def _document(bucket: str, query: UploadsQuery, page: Page) -> bytes:
    enc = query.url_encoded
    head = [b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            b"<Bucket>%s</Bucket>" % listing_text(bucket, False),
            b"<KeyMarker>%s</KeyMarker>" % listing_text(query.key_marker, enc),
            b"<UploadIdMarker>%s</UploadIdMarker>" % listing_text(query.upload_id_marker, False)]
    if page.truncated and page.last is not None:
        head.append(b"<NextKeyMarker>%s</NextKeyMarker>" % listing_text(page.last[0], enc))
        if page.last[1] is not None:
            head.append(b"<NextUploadIdMarker>%s</NextUploadIdMarker>" % listing_text(page.last[1], False))
    head += [b"<Prefix>%s</Prefix>" % listing_text(query.prefix, enc),
             b"<MaxUploads>%d</MaxUploads>" % query.max_uploads]
    head += delimiter_encoding_truncation(query.delimiter, enc, page.truncated)
    return b"".join(head + page.items + [b"</ListMultipartUploadsResult>"])
