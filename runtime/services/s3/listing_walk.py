"""Walking a backend bucket in S3's order (keys by UTF-8 bytes), for a backend that lists depth-first.

SeaweedFS walks a bucket folder by folder and keeps an object's versions in a `<key>.versions` folder, so a
page it cuts with `max-keys` is not the first keys in byte order, and its markers skip by folders: paging
`a.txt`, `a/b`, `a-c` one key at a time lost keys, a version marker sorting before the prefix listed
nothing, and across ListObjectsV2 pages `a/b` came before `a-c` (found by random searches against S3's
rules). What it does list right is everything under a prefix when it fits one unpaged answer (1000). So the
gateway asks for exactly that and, where a prefix holds more, splits it by its folders (`delimiter=/`), or
where one folder level alone holds more, by the next character, and descends in byte order, skipping what
sorts wholly before a floor that the page being cut raises as it goes. `cut_page` cuts a page from the walk:
markers, the client's delimiter and its common prefixes, max-keys. Only the versions of a key that is itself
such a prefix, beside more than 1000 entries under it, cannot be listed and are answered `NotImplemented`
(README)."""

from __future__ import annotations

import asyncio
import html
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from runtime.errors import AwsError
from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import key_bytes, listed_name, listing_text
from runtime.services.s3.markers import PAST, rolled_up_prefix

BACKEND_PAGE = 1000  # the most entries SeaweedFS returns in one answer
CACHED_ENTRIES = 64 * BACKEND_PAGE  # listed entries kept in cached backend answers (~0.5 KB each)
PROBES_AT_ONCE = 16  # concurrent backend listings when a prefix is split by its next character
_KEY = re.compile(rb"<Key>(.*?)</Key>", re.S)
_VERSION_ID = re.compile(rb"<VersionId>(.*?)</VersionId>", re.S)
_SIZE = re.compile(rb"<Size>(\d+)</Size>")
_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>(.*?)</Prefix>", re.S)
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")
_ERROR = re.compile(rb"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", re.S)


@dataclass(frozen=True)
class Kind:
    """What is listed: the backend query that lists it, the element of one entry, the marker parameter, and
    whether keys come URL-encoded (SeaweedFS ignores `encoding-type` for versions), and whether a key has one
    entry only (a current object, which a HEAD describes whole)."""
    query: tuple[tuple[str, str], ...]
    entry: re.Pattern
    marker: str
    url_encoded_keys: bool
    one_per_key: bool


VERSIONS = Kind((("versions", ""),), re.compile(rb"<(Version|DeleteMarker)>.*?</\1>", re.S), "key-marker", False,
                False)
OBJECTS = Kind((("list-type", "2"), ("fetch-owner", "true"), ("encoding-type", "url")),
               re.compile(rb"<(Contents)>.*?</\1>", re.S), "start-after", True, True)


@dataclass(frozen=True)
class Listed:
    """One object, version or delete marker: its key, version id, size (0 for a delete marker), and its
    element as the backend wrote it (its key re-encoded when the client asked for `EncodingType=url`)."""
    key: str
    version_id: str
    size: int
    element: bytes

    @property
    def is_delete_marker(self) -> bool:
        return self.element.startswith(b"<DeleteMarker>")

    @property
    def is_latest(self) -> bool:
        return b"<IsLatest>true</IsLatest>" in self.element


@dataclass
class Page:
    """A cut page: entries' elements and common prefixes in order, whether more follow, and the last item
    as (key or prefix, version id or None)."""
    items: list[bytes] = field(default_factory=list)
    truncated: bool = False
    last: tuple[str, str | None] | None = None


Answer = tuple[list[Listed], list[str], bool]  # entries, common prefixes, truncated


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


class _AnswerCache:
    """Backend answers kept while their bucket sees no write, least recently used dropped first once they
    hold more than CACHED_ENTRIES entries: a client paging through a bucket walks again from the top for
    every page, and the folders above its page are the same answers each time."""

    def __init__(self) -> None:
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._entries = 0

    def get(self, key: tuple) -> Answer | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: tuple, answer: Answer) -> None:
        self._answers[key] = answer
        self._entries += _weight(answer)
        while self._entries > CACHED_ENTRIES:
            self._entries -= _weight(self._answers.popitem(last=False)[1])


def _weight(answer: Answer) -> int:
    return 1 + len(answer[0]) + len(answer[1])


_ANSWERS = _AnswerCache()


async def _backend_page(backend: Backend, bucket: str, kind: Kind, prefix: str, delimited: bool,
                        url_encoded: bool, marker: str = "") -> Answer:
    """`_backend_answer`, from the cache while the bucket has seen no write since."""
    writes = backend.writes(bucket)
    key = (backend.endpoint.url, bucket, writes, kind, prefix, delimited, url_encoded, marker)
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = await _backend_answer(backend, bucket, kind, prefix, delimited, url_encoded, marker)
        if writes == backend.writes(bucket):
            _ANSWERS.put(key, answer)
    return answer


async def _backend_answer(backend: Backend, bucket: str, kind: Kind, prefix: str, delimited: bool,
                          url_encoded: bool, marker: str) -> Answer:
    """One unpaged backend answer, each element's key written as the client asked (`EncodingType=url` or
    not). Object keys are asked for URL-encoded, so that control characters survive the backend's XML."""
    query = [*kind.query, ("prefix", prefix), ("max-keys", str(BACKEND_PAGE))]
    if delimited:
        query.append(("delimiter", "/"))
    if marker:
        query.append((kind.marker, marker))
    data = await backend_listing(backend, bucket, query)
    entries = []
    for match in kind.entry.finditer(data):
        element = match.group(0)
        key, version, size = _KEY.search(element), _VERSION_ID.search(element), _SIZE.search(element)
        name = listed_name(key.group(1), kind.url_encoded_keys) if key else ""
        if key and url_encoded != kind.url_encoded_keys:
            element = element[:key.start(1)] + listing_text(name, url_encoded) + element[key.end(1):]
        entries.append(Listed(name, html.unescape(version.group(1).decode()) if version else "null",
                              int(size.group(1)) if size else 0, element))
    prefixes = [listed_name(p, kind.url_encoded_keys) for p in _PREFIX.findall(data)]
    return entries, prefixes, bool(_TRUNCATED.search(data))


async def in_order(backend: Backend, bucket: str, kind: Kind, prefix: str, floor: list[str], url_encoded: bool,
                   first: Answer | None = None) -> AsyncIterator[Listed]:
    """Every entry under `prefix` in S3's order (keys by bytes, one key's versions newest first), skipping
    what sorts wholly before `floor[0]`, which the consumer may raise as it goes. `first` is the unpaged
    answer under `prefix` when the caller has it already."""
    entries, _, truncated = first or await _backend_page(backend, bucket, kind, prefix, False, url_encoded)
    if not truncated:
        for entry in sorted(entries, key=lambda e: key_bytes(e.key)):
            yield entry
        return
    first_entries = entries
    entries, folders, truncated = await _backend_page(backend, bucket, kind, prefix, True, url_encoded)
    if truncated:
        async for entry in _by_next_character(backend, bucket, kind, prefix, first_entries, floor, url_encoded):
            yield entry
        return
    children: list[tuple[str, Listed | None]] = [(e.key, e) for e in entries] + [(f, None) for f in folders]
    for name, entry in sorted(children, key=lambda child: key_bytes(child[0])):
        if entry is not None:
            yield entry
        elif not _wholly_before(name, floor[0]):
            async for nested in in_order(backend, bucket, kind, name, floor, url_encoded):
                yield nested


async def versions_of(backend: Backend, bucket: str, key: str) -> list[Listed]:
    """The versions and delete markers of one key, newest first, from one unpaged backend answer under it:
    all of them unless more than 1000 entries start with the key."""
    entries, _, _ = await _backend_page(backend, bucket, VERSIONS, key, False, False)
    return [entry for entry in entries if entry.key == key]


async def _by_next_character(backend: Backend, bucket: str, kind: Kind, prefix: str,
                             first_entries: list[Listed], floor: list[str], url_encoded: bool
                             ) -> AsyncIterator[Listed]:
    """Every entry under `prefix` when even one folder level of it is more than one backend answer: the
    key equal to `prefix` itself, then the keys continuing with each ASCII character in turn (each listed,
    and split again, on its own), then those continuing with a non-ASCII character, from one answer after a
    marker past ASCII (a marker within one folder level, which SeaweedFS honours). The key equal to `prefix`
    is in none of those: a folder marker is the first thing the backend's walk meets, a current object is
    described by a HEAD, while the versions of any other key named like the prefix are refused, since no
    answer is sure to hold them all."""
    own = [e for e in first_entries if e.key == prefix]
    if prefix and not prefix.endswith("/"):  # (a folder answers a HEAD whether or not it has a marker)
        if kind.one_per_key and not own:
            own = await _current_object(backend, bucket, prefix, url_encoded)
        elif not kind.one_per_key and (own or await _current_object(backend, bucket, prefix, url_encoded)):
            raise _too_many(prefix)
    for entry in own:
        yield entry
    narrower = [prefix + chr(code) for code in range(1, 128) if not _wholly_before(prefix + chr(code), floor[0])
                and not (code == ord("/") and (not prefix or prefix.endswith("/")))]  # SeaweedFS reads `d//`
    # as `d/` and `/` as the whole bucket, and no key here has an empty segment (README)
    limit = asyncio.Semaphore(PROBES_AT_ONCE)

    async def probe(name: str) -> Answer:
        async with limit:
            return await _backend_page(backend, bucket, kind, name, False, url_encoded)
    answers = await asyncio.gather(*(probe(name) for name in narrower))
    for name, answer in zip(narrower, answers):
        if (answer[0] or answer[2]) and not _wholly_before(name, floor[0]):
            async for entry in in_order(backend, bucket, kind, name, floor, url_encoded, answer):
                yield entry
    entries, _, truncated = await _backend_page(backend, bucket, kind, prefix, False, url_encoded,
                                                marker=prefix + "\x7f" + PAST)
    if truncated:
        raise _too_many(prefix)
    for entry in sorted(entries, key=lambda e: key_bytes(e.key)):
        yield entry


async def _current_object(backend: Backend, bucket: str, key: str, url_encoded: bool) -> list[Listed]:
    """`key`'s current object as a listing entry, from a HEAD ([] if there is none). A key whose newest version
    is a delete marker shows only in a listing; the first answer under the prefix holds it unless more than
    1000 names sorting before `<key>.versions` share the prefix."""
    reply = await backend.request("HEAD", bucket, key, [], {})
    reply.release()
    if reply.status != 200:
        return []
    modified = parsedate_to_datetime(reply.headers.get("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT"))
    size = reply.content_length or 0
    element = (b"<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>%s</ETag><Size>%d</Size><Owner>"
               b"</Owner><StorageClass>STANDARD</StorageClass></Contents>" % (
                   listing_text(key, url_encoded), modified.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode(),
                   listing_text(reply.headers.get("ETag", ""), False), size))
    return [Listed(key, reply.headers.get("x-amz-version-id", "null"), size, element)]


def _too_many(prefix: str) -> AwsError:
    return AwsError("NotImplemented", f"Terrarium's S3 backend cannot page through what is listed under "
                    f"'{prefix}' in S3's order; list a narrower prefix.", 501)




async def cut_page(entries: AsyncIterator[Listed], floor: list[str], prefix: str, delimiter: str, marker: str,
                   max_keys: int, url_encoded: bool, after: Callable[[Listed], bool]) -> Page:
    """The first `max_keys` entries and common prefixes of `entries` (a walk sharing `floor`, which starts at
    the marker) that come `after` the marker, rolling keys up by `delimiter`; a common prefix the marker
    itself falls under is done already (S3's rule)."""
    marker_prefix = rolled_up_prefix(marker, prefix, delimiter)
    if marker_prefix:
        floor[0] = marker_prefix + PAST
    page = Page()
    async for entry in entries:
        if not after(entry):
            continue
        common = rolled_up_prefix(entry.key, prefix, delimiter)
        if common is not None and marker_prefix == common:
            continue
        if len(page.items) >= max_keys:
            page.truncated = bool(page.items)
            break
        if common is None:
            page.items.append(entry.element)
            page.last = (entry.key, entry.version_id)
            continue
        page.items.append(b"<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % listing_text(common, url_encoded))
        page.last = (common, None)
        marker_prefix = common
        floor[0] = common + PAST
    return page
