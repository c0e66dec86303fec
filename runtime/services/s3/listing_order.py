"""S3's listing order within one page: keys by their UTF-8 bytes.

SeaweedFS lists a bucket depth-first, a folder's keys where the folder's plain name sorts, so `a/b` comes
before `a-c` although `/` sorts after `-`. Within a page the gateway puts entries back in byte order
(`Contents`, `Version`/`DeleteMarker` by key, keeping the backend's newest-first order of one key's
versions, `CommonPrefixes` by prefix). Across pages the backend's order stands (README). A truncated
ListObjects (v1) page keeps the backend's order, since its client resumes after the page's last key.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, unquote_plus

_ENTRY = {
    "Contents": re.compile(rb"<Contents>.*?</Contents>", re.S),
    "Versions": re.compile(rb"<(?:Version|DeleteMarker)>.*?</(?:Version|DeleteMarker)>", re.S),
    "CommonPrefixes": re.compile(rb"<CommonPrefixes>.*?</CommonPrefixes>", re.S),
}
_NAME = re.compile(rb"<(?:Key|Prefix)>(.*?)</(?:Key|Prefix)>", re.S)
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")


def in_byte_order(data: bytes, operation: str, *, url_encoded: bool) -> bytes:
    """`data` (a listing document) with each kind of entry in S3's order."""
    if operation == "ListObjects" and _TRUNCATED.search(data):
        return data
    for pattern in _ENTRY.values():
        data = _sorted(pattern, data, url_encoded)
    return data


def _sorted(pattern: re.Pattern, data: bytes, url_encoded: bool) -> bytes:
    entries = [m.group(0) for m in pattern.finditer(data)]
    if len(entries) < 2:
        return data
    ordered = sorted(entries, key=lambda entry: _name(entry, url_encoded))
    if ordered == entries:
        return data
    replacements = iter(ordered)
    return pattern.sub(lambda _: next(replacements), data)


def listed_name(raw: bytes, url_encoded: bool) -> str:
    """A key or prefix as it appears in a listing document, decoded (XML escapes, then `EncodingType=url`)."""
    text = html.unescape(raw.decode())
    return unquote_plus(text) if url_encoded else text


def key_bytes(text: str) -> bytes:
    """A key as S3 orders it: by its UTF-8 bytes."""
    return text.encode("utf-8", "surrogateescape")


def listing_text(value: str, url_encoded: bool) -> bytes:
    """A key, prefix or marker as a listing document carries it: URL-encoded if asked (`EncodingType=url`),
    then XML-escaped."""
    if url_encoded:
        value = quote(value, safe="/")
    return key_bytes(html.escape(value, quote=False))


def _name(entry: bytes, url_encoded: bool) -> bytes:
    found = _NAME.search(entry)
    return key_bytes(listed_name(found.group(1), url_encoded) if found else "")


def delimiter_encoding_truncation(delimiter: str, url_encoded: bool, truncated: bool) -> list[bytes]:
    """The Delimiter, EncodingType and IsTruncated elements every listing document the gateway writes has."""
    out = [b"<Delimiter>%s</Delimiter>" % listing_text(delimiter, url_encoded)] if delimiter else []
    if url_encoded:
        out.append(b"<EncodingType>url</EncodingType>")
    return out + [b"<IsTruncated>%s</IsTruncated>" % (b"true" if truncated else b"false")]
