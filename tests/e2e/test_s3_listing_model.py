"""Listings agree with S3's rules, checked against a model: random key sets (the characters that sort around
`/`), random prefixes, delimiters (`/` and others) and page sizes, paged with ListObjectsV2 tokens and ListObjects markers; the
pages together must be what S3 would list.

The order is checked across pages too: where a folder `a/` and a name such as `a-c` share a parent, the
embedded backend lists depth-first (`a/b` before `a-c`) and the gateway cuts the pages itself.

The examples are derandomized, so every run (CI's included) tries the same ones."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
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


def pages_v1(s3, bucket, prefix, delimiter, max_keys):
    args = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys, **({"Delimiter": delimiter} if delimiter else {})}
    for _ in range(MAX_PAGES):
        page = s3.list_objects(**args)
        yield page
        if not page["IsTruncated"]:
            return
        args["Marker"] = page["NextMarker"] if delimiter else page["Contents"][-1]["Key"]
    raise AssertionError(f"still truncated after {MAX_PAGES} pages")


def check_pages(pages: list[dict], expected: list[tuple[str, str]], max_keys: int) -> None:
    got = [page_entries(p) for p in pages]
    assert all(0 < len(entries) <= max_keys for entries in got[:-1]) and len(got[-1]) <= max_keys, got
    assert all(not p["IsTruncated"] for p in pages[-1:]) and all(p["IsTruncated"] for p in pages[:-1])
    assert [e for entries in got for e in entries] == expected


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
            for _ in range(4):
                prefix = data.draw(st.one_of(st.just(""), st.sampled_from(keys).flatmap(
                    lambda k: st.integers(0, len(k)).map(lambda n: k[:n]))), label="prefix")
                delimiter = data.draw(st.sampled_from([None, "/", "-", "a"]), label="delimiter")
                max_keys = data.draw(st.integers(1, 4), label="max_keys")
                expected = model_listing(keys, prefix, delimiter)
                check_pages(list(pages_v2(s3, bucket, prefix, delimiter, max_keys)), expected, max_keys)
                check_pages(list(pages_v1(s3, bucket, prefix, delimiter, max_keys)), expected, max_keys)

    check()


def test_more_keys_than_one_backend_answer_list_in_byte_order_across_pages(s3):
    """A folder `d/` beside `d-x` and `d.txt` whose keys span several pages, and a folder level holding more
    than one backend answer directly (split by character), with a key `d/k` that the backend lists after the
    first answer under `d/k` (versioned, it is stored as `d/k.versions`, after `d/k-...`): every page in S3's
    order, as `aws s3 sync` needs."""
    from concurrent.futures import ThreadPoolExecutor
    with temporary_bucket(s3, "big") as bucket:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        keys = [f"d/k-{i:04d}" for i in range(1005)] + ["d-x", "d.txt", "d/k", "d/k-0001/x", "d/ké", "d/é", "e"]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys))
        ordered = sorted(keys, key=str.encode)
        for method in ("list_objects_v2", "list_objects"):
            pages = list(s3.get_paginator(method).paginate(Bucket=bucket, PaginationConfig={"PageSize": 400}))
            assert [o["Key"] for p in pages for o in p["Contents"]] == ordered, method
        after = s3.list_objects_v2(Bucket=bucket, StartAfter="d-x", MaxKeys=2)
        assert [o["Key"] for o in after["Contents"]] == ["d.txt", "d/k"]
        rolled = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2)
        assert [o["Key"] for o in rolled["Contents"]] == ["d-x", "d.txt"] and rolled["IsTruncated"]
        rest = s3.list_objects_v2(Bucket=bucket, Delimiter="/", ContinuationToken=rolled["NextContinuationToken"])
        assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/"] and [o["Key"] for o in rest["Contents"]] == ["e"]
        with pytest.raises(ClientError) as caught:
            s3.list_objects_v2(Bucket=bucket, ContinuationToken="not-a-token")
        assert caught.value.response["Error"]["Code"] == "InvalidArgument"
        with pytest.raises(ClientError) as caught:  # versions of `d/k` beside more than 1000 entries under it
            s3.list_object_versions(Bucket=bucket, Prefix="d/k")
        assert caught.value.response["Error"]["Code"] == "NotImplemented"
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})
        for key in keys:  # the versions, by id: the whole bucket's version listing would reach `d/k` too
            for version in s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=3).get("Versions", []) + \
                    s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=3).get("DeleteMarkers", []):
                if version["Key"] == key:
                    s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
