"""ListObjectVersions pages agree with S3's rules: every version and delete marker exactly once, keys in byte
order across pages, a key's versions newest first, key and version-id markers, delimiters and max-keys, checked
against a model over random key sets built from the characters that sort around `/` (where the embedded
backend's own paging lost keys). The examples are derandomized, so every run tries the same ones."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.s3_helpers import marker_pages, named_entries, temporary_bucket
from tests.e2e.test_s3_listing_model import key, model_listing, storable

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@contextmanager
def versioned_bucket(s3) -> Iterator[str]:
    with temporary_bucket(s3, "versions") as name:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        yield name


def page_entries(page: dict) -> list[tuple[str, str]]:
    return named_entries(page, ("Versions", "DeleteMarkers"), "VersionId")


def all_pages(s3, **args) -> list[dict]:
    return marker_pages(s3.list_object_versions, "VersionIdMarker", **args)


def test_version_listings_match_the_model(s3):
    @settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(keys=st.lists(key, min_size=1, max_size=8).map(storable), data=st.data())
    def check(keys, data):
        with versioned_bucket(s3) as bucket:
            versions: dict[str, list[str]] = {}  # newest first
            markers: set[str] = set()
            for k in keys:
                for _ in range(data.draw(st.integers(1, 2), label="versions")):
                    versions.setdefault(k, []).insert(0, s3.put_object(Bucket=bucket, Key=k, Body=b"v")["VersionId"])
                if data.draw(st.booleans(), label="delete marker"):
                    versions[k].insert(0, s3.delete_object(Bucket=bucket, Key=k)["VersionId"])
                    markers.add(versions[k][0])
            for _ in range(4):
                prefix = data.draw(st.one_of(st.just(""), st.sampled_from(keys).flatmap(
                    lambda k: st.integers(0, len(k)).map(lambda n: k[:n]))), label="prefix")
                delimiter = data.draw(st.sampled_from([None, "/", "-"]), label="delimiter")
                max_keys = data.draw(st.integers(1, 4), label="max_keys")
                model = model_listing(keys, prefix, delimiter)
                expected = [(name, vid) for kind, name in model for vid in (versions[name] if kind == "key" else [""])]
                args = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys,
                        **({"Delimiter": delimiter} if delimiter else {})}
                pages = all_pages(s3, **args)
                got = [page_entries(p) for p in pages]
                assert all(0 < len(entries) <= max_keys for entries in got), got
                joined = [e for entries in got for e in entries]
                assert [name for name, _ in joined] == [name for name, _ in expected]
                assert sorted(joined) == sorted(expected) and len(set(joined)) == len(joined)
                for k in (name for kind, name in model if kind == "key"):  # boto3 keeps delete markers apart
                    assert [v for n, v in joined if n == k and v not in markers] == \
                        [v for v in versions[k] if v not in markers]

    check()


def test_folders_and_names_that_sort_around_slash_page_one_key_at_a_time(s3):
    with versioned_bucket(s3) as bucket:
        keys = ["a.txt", "a/b", "a/c", "a-c", "a0", "a", "a.", "s p+%é"]
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=b"1")
        pages = all_pages(s3, Bucket=bucket, MaxKeys=1)
        assert [e[0] for p in pages for e in page_entries(p)] == sorted(keys, key=str.encode)
        after = s3.list_object_versions(Bucket=bucket, Prefix="a/", KeyMarker="0")  # a marker before the prefix
        assert [v["Key"] for v in after["Versions"]] == ["a/b", "a/c"]
        rolled = all_pages(s3, Bucket=bucket, Delimiter="/", MaxKeys=2)
        assert [e[0] for p in rolled for e in page_entries(p)] == ["a", "a-c", "a.", "a.txt", "a/", "a0", "s p+%é"]
        encoded = s3.list_object_versions(Bucket=bucket, Delimiter="/", EncodingType="url", Prefix="a",
                                          KeyMarker="a.")
        assert [unquote_plus(v["Key"]) for v in encoded["Versions"]] == ["a.txt", "a0"]
        assert [unquote_plus(p["Prefix"]) for p in encoded["CommonPrefixes"]] == ["a/"]


def test_more_versions_than_one_backend_answer_are_listed_through_their_folders(s3):
    with versioned_bucket(s3) as bucket:
        keys = [f"f{i % 3}/k{i:04d}" for i in range(1100)] + ["f1.txt"]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"1"), keys))
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={
            "PageSize": 1000}))
        listed = [v["Key"] for p in pages for v in p["Versions"]]
        assert listed == sorted(keys, key=str.encode) and len(pages) == 2
        middle = s3.list_object_versions(Bucket=bucket, KeyMarker="f1/k0550", MaxKeys=3)
        assert [v["Key"] for v in middle["Versions"]] == ["f1/k0553", "f1/k0556", "f1/k0559"]


def test_a_folder_holding_more_than_one_backend_answer_directly_is_split_by_character(s3):
    with versioned_bucket(s3) as bucket:
        keys = [f"flat/k{i:04d}" for i in range(1001)] + ["flat/", "flat/k-1", "flat/k.1", "flat/k 1", "flat/ké",
                                                          "flat/é", "flat/z", "flat/k0001/x"]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys))
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="flat/",
                                                                      PaginationConfig={"PageSize": 300}))
        assert [v["Key"] for p in pages for v in p["Versions"]] == sorted(keys, key=str.encode)
        after = s3.list_object_versions(Bucket=bucket, Prefix="flat/", KeyMarker="flat/k0999", MaxKeys=4)
        assert [v["Key"] for v in after["Versions"]] == ["flat/k1000", "flat/ké", "flat/z", "flat/é"]
        named_like_prefix = s3.put_object(Bucket=bucket, Key="flat/k", Body=b"")["VersionId"]
        try:
            with pytest.raises(ClientError) as raised:  # no backend answer is sure to hold all of its versions
                s3.list_object_versions(Bucket=bucket, Prefix="flat/k")
            assert raised.value.response["Error"]["Code"] == "NotImplemented"
            assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        finally:
            s3.delete_object(Bucket=bucket, Key="flat/k", VersionId=named_like_prefix)
