"""Common prefixes as AWS lists them: only those under which something is stored.

A filesystem-shaped backend (SeaweedFS) keeps a directory after its last object is deleted, and lists it
as a `CommonPrefixes` entry of a delimiter listing. AWS lists a prefix only while an object (or, in a
version listing, a version or delete marker) has it. So each common prefix of a delimiter listing is
checked with a one-key listing under it, and dropped (with `KeyCount` adjusted) when that finds nothing.
The check costs one backend request per listed prefix, on delimiter listings only.
"""

from __future__ import annotations

import asyncio
import re

from runtime.host.s3backend import Backend
from runtime.services.s3.listing_order import listed_name

_COMMON_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>(.*?)</Prefix>\s*</CommonPrefixes>", re.S)
_KEY_COUNT = re.compile(rb"<KeyCount>(\d+)</KeyCount>")
_HOLDS_SOMETHING = re.compile(rb"<(Contents|Version|DeleteMarker)>")


async def without_empty_prefixes(backend: Backend, backend_bucket: str, data: bytes, *, versions: bool,
                                 url_encoded: bool) -> bytes:
    """`data` (a listing document) without the common prefixes that hold nothing."""
    found = list(_COMMON_PREFIX.finditer(data))
    if not found:
        return data
    prefixes = [listed_name(m.group(1), url_encoded) for m in found]
    held = await asyncio.gather(*(_holds_something(backend, backend_bucket, p, versions) for p in prefixes))
    empty = {m.group(0) for m, keep in zip(found, held) if not keep}
    if not empty:
        return data
    data = _COMMON_PREFIX.sub(lambda m: b"" if m.group(0) in empty else m.group(0), data)
    return _KEY_COUNT.sub(lambda m: b"<KeyCount>%d</KeyCount>" % (int(m.group(1)) - len(empty)), data, count=1)


async def _holds_something(backend: Backend, backend_bucket: str, prefix: str, versions: bool) -> bool:
    query = [("versions", "")] if versions else [("list-type", "2")]
    query += [("prefix", prefix), ("max-keys", "1")]
    reply = await backend.request("GET", backend_bucket, None, query, {})
    try:
        body = await reply.read()
    finally:
        reply.release()
    return not 200 <= reply.status < 300 or bool(_HOLDS_SOMETHING.search(body))
