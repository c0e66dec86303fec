"""Listing pages in S3's byte order (the backend lists depth-first)."""

from __future__ import annotations

import re

from runtime.services.s3.listing_order import in_byte_order


def _doc(body: str, truncated: bool = False) -> bytes:
    return (f"<ListBucketResult><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{body}"
            f"</ListBucketResult>").encode()


def _names(data: bytes, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", data.decode())


def test_contents_and_common_prefixes_come_in_byte_order():
    body = "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in ["a/b", "a/b/c", "a b", "a-c"])
    body += "".join(f"<CommonPrefixes><Prefix>{p}</Prefix></CommonPrefixes>" for p in ["x/", "x y/"])
    out = in_byte_order(_doc(body), "ListObjectsV2", url_encoded=False)
    assert _names(out, "Key") == ["a b", "a-c", "a/b", "a/b/c"]
    assert _names(out, "Prefix") == ["x y/", "x/"]


def test_escaped_and_url_encoded_keys_sort_by_their_bytes():
    escaped = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in ["a/b", "a&amp;c", "é"])
    assert _names(in_byte_order(_doc(escaped), "ListObjectsV2", url_encoded=False), "Key") == \
        ["a&amp;c", "a/b", "é"]
    encoded = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in ["a%2Fb", "a+c"])  # "a/b", "a c"
    assert _names(in_byte_order(_doc(encoded), "ListObjectsV2", url_encoded=True), "Key") == ["a+c", "a%2Fb"]


def test_versions_keep_their_newest_first_order_within_a_key():
    body = ("<Version><Key>a/b</Key><VersionId>2</VersionId></Version>"
            "<DeleteMarker><Key>a-c</Key><VersionId>9</VersionId></DeleteMarker>"
            "<Version><Key>a-c</Key><VersionId>8</VersionId></Version>")
    out = in_byte_order(_doc(body), "ListObjectVersions", url_encoded=False)
    assert _names(out, "VersionId") == ["9", "8", "2"]
    assert out.index(b"<DeleteMarker>") < out.index(b"<Version>")


def test_a_truncated_v1_page_keeps_the_backends_order():
    body = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in ["a/b", "a-c"])
    document = _doc(body, truncated=True)
    assert in_byte_order(document, "ListObjects", url_encoded=False) == document
    assert _names(in_byte_order(document, "ListObjectsV2", url_encoded=False), "Key") == ["a-c", "a/b"]
