"""ListMultipartUploads pages agree with S3's rules: every upload exactly once, keys in byte order across
pages, key and upload-id markers, delimiters with their common prefixes, max-uploads, and the Owner,
Initiator and StorageClass of each upload, checked against a model over random key sets built from the
characters that sort around `/` (the embedded backend listed by upload id and ignored the delimiter)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.s3_helpers import marker_pages, named_entries, temporary_bucket
from tests.e2e.test_s3_listing_model import key, model_listing, storable

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


def test_upload_listings_match_the_model(s3):
    @settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(keys=st.lists(key, min_size=1, max_size=8).map(storable), data=st.data())
    def check(keys, data):
        with temporary_bucket(s3, "uploads") as bucket:
            uploads: dict[str, list[str]] = {}
            for k in keys:
                for _ in range(data.draw(st.integers(1, 2), label="uploads")):
                    uploads.setdefault(k, []).append(s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
            try:
                for _ in range(4):
                    prefix = data.draw(st.one_of(st.just(""), st.sampled_from(keys).flatmap(
                        lambda k: st.integers(0, len(k)).map(lambda n: k[:n]))), label="prefix")
                    delimiter = data.draw(st.sampled_from([None, "/", "-"]), label="delimiter")
                    most = data.draw(st.integers(1, 4), label="max_uploads")
                    expected = [(name, upload) for kind, name in model_listing(keys, prefix, delimiter)
                                for upload in (uploads[name] if kind == "key" else [""])]
                    args = {"Bucket": bucket, "Prefix": prefix, "MaxUploads": most,
                            **({"Delimiter": delimiter} if delimiter else {})}
                    got = [named_entries(p, ("Uploads",), "UploadId")
                           for p in marker_pages(s3.list_multipart_uploads, "UploadIdMarker", **args)]
                    assert all(0 < len(entries) <= most for entries in got), got
                    joined = [e for entries in got for e in entries]
                    assert [name for name, _ in joined] == [name for name, _ in expected]
                    assert sorted(joined) == sorted(expected) and len(set(joined)) == len(joined)
            finally:
                for k, ids in uploads.items():
                    for upload in ids:
                        s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=upload)

    check()


def test_an_upload_lists_its_owner_initiator_and_storage_class(server, s3):
    with temporary_bucket(s3, "uploads") as bucket:
        cold = s3.create_multipart_upload(Bucket=bucket, Key="dir/cold", StorageClass="STANDARD_IA")["UploadId"]
        plain = s3.create_multipart_upload(Bucket=bucket, Key="dir/plain")["UploadId"]
        try:
            listed = s3.list_multipart_uploads(Bucket=bucket)
            assert [(u["Key"], u["StorageClass"]) for u in listed["Uploads"]] == [
                ("dir/cold", "STANDARD_IA"), ("dir/plain", "STANDARD")]
            owner = s3.list_buckets()["Owner"]
            assert all(u["Owner"]["ID"] == owner["ID"] == u["Initiator"]["ID"] for u in listed["Uploads"])
            rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
            assert "Uploads" not in rolled and rolled["CommonPrefixes"] == [{"Prefix": "dir/"}]
            after = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="dir/cold")
            assert [u["Key"] for u in after["Uploads"]] == ["dir/plain"]
        finally:
            s3.abort_multipart_upload(Bucket=bucket, Key="dir/cold", UploadId=cold)
            s3.abort_multipart_upload(Bucket=bucket, Key="dir/plain", UploadId=plain)
