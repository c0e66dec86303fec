"""Resuming a delimited listing past a common prefix, which the embedded SeaweedFS gets wrong.

In S3, a listing with a delimiter that resumes after a marker (`marker`, `start-after`, `key-marker`, or a v2
continuation) never lists the keys rolled up into the marker's own common prefix again: that prefix sorts at
or before the marker, so it is done. SeaweedFS resumes at the next key instead; with a delimiter other than
`/` that key rolls up into the same prefix, so a page ending with a common prefix was followed by that same
page again, forever (found by tests/e2e/test_s3_listing_model.py). Here the marker is moved past everything
under its prefix before the backend sees it, and a v2 continuation token that is the backend's bare common
prefix is handed to the client already moved (any other token, such as MinIO's opaque ones, passes as is)."""

from __future__ import annotations

import html
import re

from runtime.services.s3.listing_order import listed_name

PAST = "\U0010ffff"  # sorts after every character a key can hold next
_MARKERS = ("marker", "start-after", "key-marker")
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_PREFIX = re.compile(rb"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>")


def rolled_up_prefix(marker: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix `marker` itself falls under in a listing of `prefix` by `delimiter`, if any."""
    if not delimiter or not marker.startswith(prefix):
        return None
    at = marker.find(delimiter, len(prefix))
    return None if at < 0 else marker[:at + len(delimiter)]


def resume_past_prefixes(query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A listing request's query with each marker moved past the keys its common prefix rolled up."""
    given = dict(query)
    prefix, delimiter = given.get("prefix", ""), given.get("delimiter", "")
    moved = []
    for name, value in query:
        common = rolled_up_prefix(value, prefix, delimiter) if name in _MARKERS else None
        moved.append((name, common + PAST if common else value))
    return moved


def token_past_prefix(data: bytes, url_encoded: bool) -> bytes:
    """A ListObjectsV2 page whose continuation token names one of its common prefixes, with the token moved
    past that prefix's keys."""
    token = _TOKEN.search(data)
    if token is None or not _TRUNCATED.search(data):
        return data
    text = html.unescape(token.group(1).decode())
    if text not in {listed_name(p, url_encoded) for p in _PREFIX.findall(data)}:
        return data
    moved = html.escape(text + PAST, quote=False).encode()
    return data[:token.start(1)] + moved + data[token.end(1):]
