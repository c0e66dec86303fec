"""ListObjectVersions pages in S3's order, built by the gateway for a backend that lists depth-first.

SeaweedFS walks a bucket folder by folder and keeps an object's versions in a `<key>.versions` folder, so a
page it cuts with `max-keys` is not the first keys in byte order, and its `key-marker` skips by folders: paging
`a.txt`, `a/b`, `a-c` one key at a time lost keys, and a marker sorting before the prefix listed nothing (found
by a random search against S3's rules). What it does list right is every version under a prefix when they fit
one unpaged answer (1000). So the gateway asks for exactly that and, where a prefix holds more, splits it by
its folders (`delimiter=/`), or where one folder level alone holds more, by the next character, and descends
in byte order, skipping what sorts wholly before the marker. The page itself (marker, version-id marker, the
client's delimiter, max-keys, the next markers) is cut here. Only a prefix that is itself a key with more
than 1000 versions and names beside it cannot be split and is answered `NotImplemented` (README)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from runtime.errors import AwsError
from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import key_bytes, listed_name, listing_text
from runtime.services.s3.markers import PAST, rolled_up_prefix

BACKEND_PAGE = 1000  # the most versions SeaweedFS returns in one answer
_ENTRY = re.compile(rb"<(Version|DeleteMarker)>.*?</\1>", re.S)
_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)
_VERSION_ID = re.compile(rb"<VersionId>(.*?)</VersionId>", re.S)
_SIZE = re.compile(rb"<Size>(\d+)</Size>")
_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>(.*?)</Prefix>", re.S)
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")
_ERROR = re.compile(rb"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", re.S)


@dataclass(frozen=True)
class Listed:
    """One version or delete marker: its key, version id, size (0 for a delete marker), and its element as
    the backend wrote it."""
    key: str
    version_id: str
    size: int
    element: bytes


@dataclass
class Query:
    """A ListObjectVersions request's paging parameters."""
    prefix: str
    delimiter: str
    key_marker: str
    version_id_marker: str
    max_keys: int
    url_encoded: bool


def _wholly_before(prefix: str, floor: str) -> bool:
    """Whether every key starting with `prefix` sorts before `floor`."""
    return key_bytes(prefix) < key_bytes(floor) and not floor.startswith(prefix)


async def backend_listing(backend: Backend, bucket: str, query: list[tuple[str, str]]) -> bytes:
    """A listing document from the backend; its error, if it answers one, as an AwsError."""
    reply = await backend.request("GET", bucket, None, query, {})
    try:
        data = await reply.read()
    finally:
        reply.release()
    if not 200 <= reply.status < 300:
        found = _ERROR.search(data)
        code, message = (html.unescape(g.decode()) for g in found.groups()) if found else ("InternalError", "")
        raise AwsError(code, message, reply.status)
    return data


async def _backend_page(backend: Backend, bucket: str, prefix: str, delimited: bool, url_encoded: bool,
                        marker: str = "") -> tuple[list[Listed], list[str], bool]:
    """One unpaged backend answer. Keys are asked for plain (SeaweedFS ignores `encoding-type` here) and
    each element's key is encoded here when the client asked for `EncodingType=url`."""
    query = [("versions", ""), ("prefix", prefix), ("max-keys", str(BACKEND_PAGE))]
    if delimited:
        query.append(("delimiter", "/"))
    if marker:
        query.append(("key-marker", marker))
    data = await backend_listing(backend, bucket, query)
    entries = []
    for match in _ENTRY.finditer(data):
        element = match.group(0)
        key, version, size = _KEY.search(element), _VERSION_ID.search(element), _SIZE.search(element)
        name = listed_name(key.group(1), False) if key else ""
        if key and url_encoded:
            element = element[:key.start(1)] + listing_text(name, True) + element[key.end(1):]
        entries.append(Listed(name, html.unescape(version.group(1).decode()) if version else "null",
                              int(size.group(1)) if size else 0, element))
    prefixes = [listed_name(p, False) for p in _PREFIX.findall(data)]
    return entries, prefixes, bool(_TRUNCATED.search(data))


async def _in_order(backend: Backend, bucket: str, prefix: str, floor: list[str],
                    url_encoded: bool) -> AsyncIterator[Listed]:
    """Every version under `prefix` in S3's order (keys by bytes, one key's versions newest first), skipping
    what sorts wholly before `floor[0]`, which the consumer may raise as it goes."""
    entries, _, truncated = await _backend_page(backend, bucket, prefix, False, url_encoded)
    if not truncated:
        for entry in sorted(entries, key=lambda e: key_bytes(e.key)):
            yield entry
        return
    first_entries = entries
    entries, folders, truncated = await _backend_page(backend, bucket, prefix, True, url_encoded)
    if truncated:
        async for entry in _by_next_character(backend, bucket, prefix, first_entries, floor, url_encoded):
            yield entry
        return
    children: list[tuple[str, Listed | None]] = [(e.key, e) for e in entries] + [(f, None) for f in folders]
    for name, entry in sorted(children, key=lambda child: key_bytes(child[0])):
        if entry is not None:
            yield entry
        elif not _wholly_before(name, floor[0]):
            async for nested in _in_order(backend, bucket, name, floor, url_encoded):
                yield nested


async def _by_next_character(backend: Backend, bucket: str, prefix: str, first_entries: list[Listed],
                             floor: list[str], url_encoded: bool) -> AsyncIterator[Listed]:
    """Every version under `prefix` when even one folder level of it is more than one backend answer: the
    key equal to `prefix` itself, then the keys continuing with each ASCII character in turn (each listed,
    and split again, on its own), then those continuing with a non-ASCII character, from one answer after a
    marker past ASCII (a marker within one folder level, which SeaweedFS honours). The key equal to `prefix`
    is in none of those: a folder marker is the first thing the backend's walk meets, while any other key
    named like the prefix is refused, since no answer is sure to hold all its versions."""
    if prefix and not prefix.endswith("/") and (any(e.key == prefix for e in first_entries)
                                               or await _has_current_version(backend, bucket, prefix)):
        raise _too_many(prefix)
    for entry in first_entries:
        if entry.key == prefix:
            yield entry
    for code in range(1, 128):
        narrower = prefix + chr(code)
        if not _wholly_before(narrower, floor[0]):
            async for entry in _in_order(backend, bucket, narrower, floor, url_encoded):
                yield entry
    entries, _, truncated = await _backend_page(backend, bucket, prefix, False, url_encoded,
                                                marker=prefix + "\x7f" + PAST)
    if truncated:
        raise _too_many(prefix)
    for entry in sorted(entries, key=lambda e: key_bytes(e.key)):
        yield entry


async def _has_current_version(backend: Backend, bucket: str, key: str) -> bool:
    """Whether `key` has a current version. (A key whose newest version is a delete marker shows only in a
    listing; the first answer under the prefix holds it unless more than 1000 names sorting before
    `<key>.versions` share the prefix.)"""
    reply = await backend.request("HEAD", bucket, key, [], {})
    reply.release()
    return reply.status == 200


def _too_many(prefix: str) -> AwsError:
    return AwsError("NotImplemented", f"Terrarium's S3 backend cannot page through the versions under "
                    f"'{prefix}' in S3's order; list a narrower prefix.", 501)


def all_versions(backend: Backend, bucket: str) -> AsyncIterator[Listed]:
    """Every version and delete marker in `bucket`, in S3's order."""
    return _in_order(backend, bucket, "", [""], False)


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
    marker_prefix = rolled_up_prefix(query.key_marker, query.prefix, query.delimiter)
    if marker_prefix:
        floor[0] = marker_prefix + PAST
    passed_version = [False]
    page: list[bytes] = []
    last: tuple[str, str | None] | None = None
    truncated = False
    async for entry in _in_order(backend, bucket, query.prefix, floor, query.url_encoded):
        if not _after_marker(entry, query, passed_version):
            continue
        common = rolled_up_prefix(entry.key, query.prefix, query.delimiter)
        if common is not None and marker_prefix == common:
            continue
        if len(page) >= query.max_keys:
            truncated = bool(page)
            break
        if common is None:
            page.append(entry.element)
            last = (entry.key, entry.version_id)
            continue
        page.append(b"<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % listing_text(common, query.url_encoded))
        last = (common, None)
        marker_prefix = common
        floor[0] = common + PAST
    return _document(bucket, query, page, truncated, last)


def _document(bucket: str, query: Query, page: list[bytes], truncated: bool,
              last: tuple[str, str | None] | None) -> bytes:
    enc = query.url_encoded
    head = [b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
            b"<Name>%s</Name>" % listing_text(bucket, False), b"<Prefix>%s</Prefix>" % listing_text(query.prefix, enc),
            b"<KeyMarker>%s</KeyMarker>" % listing_text(query.key_marker, enc),
            b"<VersionIdMarker>%s</VersionIdMarker>" % listing_text(query.version_id_marker, False),
            b"<MaxKeys>%d</MaxKeys>" % query.max_keys]
    if query.delimiter:
        head.append(b"<Delimiter>%s</Delimiter>" % listing_text(query.delimiter, enc))
    if enc:
        head.append(b"<EncodingType>url</EncodingType>")
    head.append(b"<IsTruncated>%s</IsTruncated>" % (b"true" if truncated else b"false"))
    if truncated and last is not None:
        head.append(b"<NextKeyMarker>%s</NextKeyMarker>" % listing_text(last[0], enc))
        if last[1] is not None:
            head.append(b"<NextVersionIdMarker>%s</NextVersionIdMarker>" % listing_text(last[1], False))
    return b"".join(head + page + [b"</ListVersionsResult>"])
