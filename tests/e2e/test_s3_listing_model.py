"""Listings agree with S3's rules, checked against a model: random key sets (the characters that sort around
`/`), random prefixes, delimiters (`/` and others) and page sizes, paged with ListObjectsV2 tokens and ListObjects markers; the
pages together must be what S3 would list.

One difference is known and stated in the README: across pages the backend's depth-first order stands, so
where a folder `a/` and a name such as `a-c` share a parent, the order across pages is only checked to hold
every entry exactly once, each page in byte order. Everything else is exact.

The examples are derandomized, so every run (CI's included) tries the same ones."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.s3_helpers import temporary_bucket

pytestmark = pytest.mark.host

segment = st.text(alphabet="ab-.0", min_size=1, max_size=2).filter(lambda s: s not in (".", ".."))  # README: refused
key = st.lists(segment, min_size=1, max_size=3).map("/".join)
MAX_PAGES = 20  # more than 10 keys at one per page: a listing still truncated then never ends


def storable(keys: list[str]) -> list[str]:
    """The keys a filesystem-shaped backend can hold together: none is a folder of another (`a` and `a/b`)."""
    return sorted({k for k in keys if not any(other.startswith(k + "/") for other in keys)}, key=str.encode)


def model_listing(keys: list[str], prefix: str, delimiter: str | None) -> list[tuple[str, str]]:
    """S3's whole listing, every page joined: ("key", k) and ("prefix", p) entries in byte order."""
    entries: list[tuple[str, str]] = []
    for k in sorted(keys, key=str.encode):
        if not k.startswith(prefix):
            continue
        at = k.find(delimiter, len(prefix)) if delimiter else -1
        if at < 0:
            entries.append(("key", k))
        elif ("prefix", common := k[:at + len(delimiter)]) not in entries:
            entries.append(("prefix", common))
    return entries


def has_shared_parent_folder(keys: list[str]) -> bool:
    """Whether a folder `x/` and a name `x` + (a character sorting before `/`) exist side by side, the one
    case where the backend's depth-first order differs from byte order."""
    folders = {k[:i] for k in keys for i, c in enumerate(k) if c == "/"}
    return any(k.startswith(f) and len(k) > len(f) and k[len(f)] < "/" for f in folders for k in keys)


def page_entries(page: dict) -> list[tuple[str, str]]:
    entries = [("key", o["Key"]) for o in page.get("Contents", [])]
    entries += [("prefix", p["Prefix"]) for p in page.get("CommonPrefixes", [])]
    return sorted(entries, key=lambda e: e[1].encode())


def pages_v2(s3, bucket, prefix, delimiter, max_keys):
    args = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys, **({"Delimiter": delimiter} if delimiter else {})}
    for _ in range(MAX_PAGES):
        page = s3.list_objects_v2(**args)
        assert page["KeyCount"] == len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
        yield page
        if not page["IsTruncated"]:
            return
        args["ContinuationToken"] = page["NextContinuationToken"]
    raise AssertionError(f"still truncated after {MAX_PAGES} pages")


def pages_v1(s3, bucket, prefix, max_keys):
    args = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
    for _ in range(MAX_PAGES):
        page = s3.list_objects(**args)
        yield page
        if not page["IsTruncated"]:
            return
        args["Marker"] = page["Contents"][-1]["Key"]
    raise AssertionError(f"still truncated after {MAX_PAGES} pages")


def check_pages(pages: list[dict], expected: list[tuple[str, str]], max_keys: int, exact_order: bool) -> None:
    got = [page_entries(p) for p in pages]
    assert all(0 < len(entries) <= max_keys for entries in got[:-1]) and len(got[-1]) <= max_keys, got
    assert all(not p["IsTruncated"] for p in pages[-1:]) and all(p["IsTruncated"] for p in pages[:-1])
    joined = [e for entries in got for e in entries]
    if exact_order or len(pages) == 1:
        assert joined == expected
    else:
        assert sorted(joined) == sorted(expected) and len(set(joined)) == len(joined)


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def test_listings_match_the_model(s3):
    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(keys=st.lists(key, min_size=1, max_size=10).map(storable), data=st.data())
    def check(keys, data):
        with temporary_bucket(s3, "model") as bucket:
            for k in keys:
                s3.put_object(Bucket=bucket, Key=k, Body=b"")
            exact = not has_shared_parent_folder(keys)
            for _ in range(4):
                prefix = data.draw(st.one_of(st.just(""), st.sampled_from(keys).flatmap(
                    lambda k: st.integers(0, len(k)).map(lambda n: k[:n]))), label="prefix")
                delimiter = data.draw(st.sampled_from([None, "/", "-", "a"]), label="delimiter")
                max_keys = data.draw(st.integers(1, 4), label="max_keys")
                expected = model_listing(keys, prefix, delimiter)
                check_pages(list(pages_v2(s3, bucket, prefix, delimiter, max_keys)), expected, max_keys, exact)
                if delimiter is None:
                    check_pages(list(pages_v1(s3, bucket, prefix, max_keys)), expected, max_keys, exact)

    check()
