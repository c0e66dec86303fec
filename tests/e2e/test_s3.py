"""S3 through Terrarium with boto3: buckets, objects, multipart, presigned URLs, errors, notifications."""

from __future__ import annotations

import hashlib
import time
import zlib
import base64
import io
import json
import sqlite3
import zipfile
from urllib.parse import unquote_plus

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import bucket_name, error_code, raw, signed, temporary_bucket


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture()
def bucket(s3):
    with temporary_bucket(s3) as name:
        yield name


def code_of(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def test_bucket_lifecycle_and_errors(server, s3):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.create_bucket(Bucket=name)  # us-east-1 keeps its legacy answer: 200 for the owner
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket=name)
    assert code_of(caught.value) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket=name)
    assert caught.value.response["Error"]["Code"] == "404"
    for bad in ("UPPER", "a", "has..dots", "192.168.1.1", "xn--bucket", "bucket-s3alias"):
        with pytest.raises(ClientError) as caught:
            s3.create_bucket(Bucket=bad)
        assert code_of(caught.value) == "InvalidBucketName", bad
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket_name("missing"), Key="k", Body=b"x")
    assert code_of(caught.value) == "NoSuchBucket"


def test_list_buckets_pages_and_filters(server, s3):
    prefix = bucket_name("lb")
    names = [f"{prefix}-{n}" for n in ("a", "b", "c")]
    west = server.client("s3", region_name="eu-west-1")
    for name in names[:2]:
        s3.create_bucket(Bucket=name)
    west.create_bucket(Bucket=names[2], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        pages = list(s3.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 1}))
        assert [[b["Name"] for b in page["Buckets"]] for page in pages] == [[n] for n in names]
        assert all(page["Prefix"] == prefix for page in pages) and "ContinuationToken" not in pages[-1]
        regional = s3.list_buckets(Prefix=prefix, BucketRegion="eu-west-1")["Buckets"]
        assert [(b["Name"], b["BucketRegion"]) for b in regional] == [(names[2], "eu-west-1")]
        with pytest.raises(ClientError) as caught:
            s3.list_buckets(ContinuationToken="not-ours")
        assert code_of(caught.value) == "InvalidArgument"
    finally:
        for name in names[:2]:
            s3.delete_bucket(Bucket=name)
        west.delete_bucket(Bucket=names[2])


def test_region_rules(server):
    west = server.client("s3", region_name="eu-west-1")
    name = bucket_name()
    with pytest.raises(ClientError) as caught:
        west.create_bucket(Bucket=name)
    assert code_of(caught.value) == "IllegalLocationConstraintException"
    for invalid in ("us-east-1", "mars-1"):  # us-east-1 is named by leaving the constraint out
        with pytest.raises(ClientError) as caught:
            server.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": invalid})
        assert (code_of(caught.value), caught.value.response["Error"].get("LocationConstraint")) == \
            ("InvalidLocationConstraint", invalid)
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        assert west.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        with pytest.raises(ClientError) as caught:
            west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert code_of(caught.value) == "BucketAlreadyOwnedByYou"
    finally:
        west.delete_bucket(Bucket=name)


def test_objects_round_trip(s3, bucket):
    body = bytes(range(256)) * 40
    put = s3.put_object(Bucket=bucket, Key="dir/a b+c.bin", Body=body, Metadata={"colour": "blue"},
                        ContentType="application/x-test", StorageClass="STANDARD_IA")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"colour": "blue"}
    assert got["ContentType"] == "application/x-test"
    assert got["StorageClass"] == "STANDARD_IA"
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["StorageClass"]) for o in listed] == [("dir/a b+c.bin", "STANDARD_IA")]
    head = s3.head_object(Bucket=bucket, Key="dir/a b+c.bin")
    assert head["ContentLength"] == len(body)
    assert s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", Range="bytes=10-19")["Body"].read() == body[10:20]
    for ignored in (f"bytes={len(body) + 5}-3", "bytes=5-1", "bytes=-", "bytes=0-1,3-4", "bytes=x"):
        whole = s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", Range=ignored)  # S3 ignores such a Range
        assert (whole["ResponseMetadata"]["HTTPStatusCode"], whole["Body"].read()) == (200, body), ignored
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", Range=f"bytes={len(body)}-")
    assert code_of(caught.value) == "InvalidRange"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", IfNoneMatch=put["ETag"])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="dir/a b+c.bin", IfMatch='"0000"')
    assert code_of(caught.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code_of(caught.value) == "NoSuchKey"
    assert caught.value.response["Error"]["BucketName"] == bucket
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "dir/a b+c.bin"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == body
    s3.put_object_tagging(Bucket=bucket, Key="copy", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="copy")["TagSet"] == [{"Key": "t", "Value": "v"}]


def test_empty_objects_and_folder_markers(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    for key in ("empty", "folder/"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b""
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == 0
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("empty", 0), ("folder/", 0)]


def test_keys_the_backend_cannot_hold_are_not_implemented_rather_than_altered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"the real a")
    for key, body in (("/a", b"x"), ("a//b", b"x"), ("/", b"x"), ("back\\slash", b"x"), ("dir/", b"data")):
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        assert code_of(caught.value) == "NotImplemented", key
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="/a")  # would otherwise read "a"
    assert code_of(caught.value) == "NotImplemented"
    with pytest.raises(ClientError) as caught:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "/a"}]})  # would otherwise delete "a"
    assert code_of(caught.value) == "NotImplemented"
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}//a")
    assert code_of(caught.value) == "NotImplemented"
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")  # an empty folder marker is fine
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="a/", Body=b"")  # but not beside an object "a"
    assert code_of(caught.value) == "NotImplemented"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a", "dir/"]
    for write in (lambda: s3.put_object(Bucket=bucket, Key="dir", Body=b"x"),  # nor an object beside "dir/"
                  lambda: s3.copy_object(Bucket=bucket, Key="dir", CopySource={"Bucket": bucket, "Key": "a"}),
                  lambda: s3.create_multipart_upload(Bucket=bucket, Key="dir")):
        with pytest.raises(ClientError) as caught:
            write()
        assert code_of(caught.value) == "NotImplemented"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a", "dir/"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dir/"}]})
    s3.put_object(Bucket=bucket, Key="dir", Body=b"x")  # the marker gone, the name is free
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a", "dir"]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"the real a"


def test_user_metadata_is_limited_to_2_kb(s3, bucket):
    fits = {"k": "v" * 2047}  # 1 + 2047 bytes: exactly the limit
    s3.put_object(Bucket=bucket, Key="fits", Body=b"x", Metadata=fits)
    assert s3.head_object(Bucket=bucket, Key="fits")["Metadata"] == fits
    for call in (lambda md: s3.put_object(Bucket=bucket, Key="big", Body=b"x", Metadata=md),
                 lambda md: s3.create_multipart_upload(Bucket=bucket, Key="big", Metadata=md),
                 lambda md: s3.copy_object(Bucket=bucket, Key="big", CopySource=f"{bucket}/fits", Metadata=md,
                                           MetadataDirective="REPLACE")):
        with pytest.raises(ClientError) as caught:
            call({"k": "v" * 2048})
        assert code_of(caught.value) == "MetadataTooLarge"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["fits"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_utf8_header_values_come_back_byte_for_byte(server, bucket):
    sent = {"Content-Type": "text/plain; name=café", "x-amz-meta-city": "Zürich"}
    assert signed(server, "PUT", f"/{bucket}/utf8", body=b"x", headers=sent)[0] == 200
    status, headers, _ = signed(server, "GET", f"/{bucket}/utf8")
    got = {k.lower(): v.encode("latin-1") for k, v in headers.items()}
    assert status == 200 and got["content-type"] == "text/plain; name=café".encode()
    assert got["x-amz-meta-city"] == "Zürich".encode()


def test_a_prefix_is_listed_only_while_something_is_stored_under_it(s3, bucket):
    s3.put_object(Bucket=bucket, Key="gone/deep/x", Body=b"1")
    s3.put_object(Bucket=bucket, Key="kept dir/y", Body=b"2")
    s3.delete_object(Bucket=bucket, Key="gone/deep/x")
    v2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["kept dir/"] and v2["KeyCount"] == 1
    assert [p["Prefix"] for p in s3.list_objects(Bucket=bucket, Delimiter="/")["CommonPrefixes"]] == ["kept dir/"]
    encoded = s3.list_objects_v2(Bucket=bucket, Delimiter="/", EncodingType="url")
    assert [unquote_plus(p["Prefix"]) for p in encoded["CommonPrefixes"]] == ["kept dir/"]
    assert "CommonPrefixes" not in s3.list_objects_v2(Bucket=bucket, Prefix="gone/", Delimiter="/")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="versioned/z", Body=b"3")
    s3.delete_object(Bucket=bucket, Key="versioned/z")  # a delete marker: no current object, two versions
    assert [p["Prefix"] for p in s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"]] == \
        ["kept dir/"]
    listed = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["kept dir/", "versioned/"]


def test_a_listing_page_is_in_byte_order(s3, bucket):
    keys = ["a/b", "a-c", "a b", "a.d", "a/b/c", "a0", "é", "Z", "x y/k", "x/k"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    ordered = sorted(keys, key=str.encode)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ordered
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ordered
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]] == ordered
    prefixes = s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"]
    assert [p["Prefix"] for p in prefixes] == ["a/", "x y/", "x/"]


def test_a_percent_escape_in_a_query_value_is_signed_and_read_as_sent(s3, bucket):
    """The client signs `prefix=%2541`; the gateway must check that, and read the prefix `%41`, not `A`."""
    for key in ("%41", "A", "a%2Fb", "x%20y"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="%41")["Contents"]] == ["%41"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="a%2F")["Contents"]] == ["a%2Fb"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="x%20")["Contents"]] == ["x%20y"]


def test_object_bytes_are_never_rewritten(server, s3, bucket):
    """The gateway puts its own bucket name, endpoint and request id into the backend's XML answers; an
    object's content that happens to contain the backend's names must come back byte for byte."""
    ports = json.loads((server.data_dir / "s3backend" / "ports.json").read_text())
    db = sqlite3.connect(f"file:{server.data_dir / 'state.db'}?mode=ro", uri=True)
    try:
        spec = db.execute("SELECT spec FROM records WHERE kind = 's3.bucket' AND id = ?", (bucket,)).fetchone()[0]
    finally:
        db.close()
    backend_bucket = json.loads(spec)["backend"]
    body = (f"see http://127.0.0.1:{ports['s3']}/{backend_bucket}/x <Name>{backend_bucket}</Name> "
            f"<RequestId>0123456789ABCDEF</RequestId>").encode()
    s3.put_object(Bucket=bucket, Key="doc.xml", Body=body)
    assert s3.get_object(Bucket=bucket, Key="doc.xml")["Body"].read() == body


def test_listing_prefix_delimiter_pagination(s3, bucket):
    keys = [f"logs/2026/{i:02d}.txt" for i in range(7)] + ["logs/top.txt", "other.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert listed["Name"] == bucket
    assert [c["Prefix"] for c in listed["CommonPrefixes"]] == ["logs/2026/"]
    assert [o["Key"] for o in listed["Contents"]] == ["logs/top.txt"]
    seen, token = [], None
    while True:
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **({"ContinuationToken": token} if token else {}))
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    v1 = s3.list_objects(Bucket=bucket, Prefix="logs/2026/", MaxKeys=2)
    assert v1["IsTruncated"] and len(v1["Contents"]) == 2
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_multipart_with_checksums(s3, bucket):
    parts_data = [bytes([i]) * (5 * 1024 * 1024) for i in (1, 2)] + [b"tail" * 100]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ChecksumAlgorithm="CRC32")
    assert upload["Bucket"] == bucket
    parts = []
    for number, data in enumerate(parts_data, start=1):
        reply = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"], PartNumber=number,
                               Body=data, ChecksumAlgorithm="CRC32")
        expected = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        assert reply["ChecksumCRC32"] == expected
        parts.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumCRC32": reply["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"])
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-3"') and done["Bucket"] == bucket
    assert "127.0.0.1" not in done.get("Location", "") or str(s3.meta.endpoint_url) in done["Location"]
    whole = b"".join(parts_data)
    assert hashlib.sha256(s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()).digest() == \
        hashlib.sha256(whole).digest()
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="gone")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=aborted["UploadId"])
    with pytest.raises(ClientError) as caught:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=aborted["UploadId"])
    assert code_of(caught.value) == "NoSuchUpload"


def test_crc32c_and_crc64nvme_uploads_are_verified_and_come_back(s3, server, bucket):
    data = bytes(range(256)) * 12289  # ~3 MiB: many pieces through the verifier
    for algorithm in ("CRC32C", "CRC64NVME"):
        put = s3.put_object(Bucket=bucket, Key=algorithm, Body=data, ChecksumAlgorithm=algorithm)
        got = s3.get_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")
        assert got["Body"].read() == data
        assert got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"] and got["ChecksumType"] == "FULL_OBJECT"
    status, _, body = signed(server, "PUT", f"/{bucket}/wrong", body=b"data",
                             headers={"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="})
    assert (status, error_code(body)) == (400, "BadDigest")


def test_a_malformed_content_md5_and_an_unknown_storage_class_get_their_own_errors(s3, bucket):
    for call, expected in ((lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentMD5="notbase64!"),
                            "InvalidDigest"),
                           (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentMD5="AAAA"),
                            "InvalidDigest"),
                           (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                                                  ContentMD5="AAAAAAAAAAAAAAAAAAAAAA=="), "BadDigest"),
                           (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="COLD"),
                            "InvalidStorageClass"),
                           (lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", StorageClass="COLD"),
                            "InvalidStorageClass")):
        with pytest.raises(ClientError) as caught:
            call()
        assert (code_of(caught.value), caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == \
            (expected, 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_a_configuration_outside_s3s_schema_is_malformed_xml(s3, bucket):
    """S3 checks configuration documents against its schema: a value outside an enumeration inside one is
    MalformedXML, not a validation message; a notification event it does not know is named as such."""
    for call in (lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "On"}),
                 lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
                     {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""},
                      "Transitions": [{"Days": 30, "StorageClass": "COLD"}]}]}),
                 lambda: s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [
                     {"ObjectOwnership": "Mine"}]})):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == "MalformedXML"
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                              "Events": ["s3:ObjectMoved:*"]}]})
    assert (code_of(caught.value), caught.value.response["Error"]["Message"]) == \
        ("InvalidArgument", "The event is not supported for notifications")
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    with pytest.raises(ClientError) as caught:  # a header list is no document: the generic answer stands
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Colour"])
    assert code_of(caught.value) == "InvalidArgument"


def test_a_multi_object_delete_needs_a_checksum_of_its_body(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    body = b"<Delete><Object><Key>kept</Key></Object></Delete>"
    status, _, reply = signed(server, "POST", f"/{bucket}?delete", body=body)
    assert (status, error_code(reply)) == (400, "InvalidRequest")
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    status, _, reply = signed(server, "POST", f"/{bucket}?delete", body=body, headers={"Content-MD5": md5})
    assert status == 200 and b"<Deleted><Key>kept</Key>" in reply


def test_a_head_with_a_range_answers_for_the_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ten", Body=b"0123456789")
    head = s3.head_object(Bucket=bucket, Key="ten", Range="bytes=2-4")
    assert (head["ResponseMetadata"]["HTTPStatusCode"], head["ContentLength"]) == (206, 3)
    assert head["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes 2-4/10"
    assert s3.head_object(Bucket=bucket, Key="ten", Range="bytes=-3")["ContentLength"] == 3
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="ten", Range="bytes=10-")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert s3.head_object(Bucket=bucket, Key="ten", Range="bytes=5-1")["ContentLength"] == 10  # ignored, as GET


def test_encryption_and_object_lock_it_cannot_honour_are_refused_not_ignored(s3, bucket):
    s3.put_object(Bucket=bucket, Key="s3-managed", Body=b"x", ServerSideEncryption="AES256")
    for call, expected in (
            (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms"),
             "NotImplemented"),
            (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                                   SSECustomerKey="k" * 32), "NotImplemented"),
            (lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "s3-managed"},
                                    ServerSideEncryption="aws:kms"), "NotImplemented"),
            (lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ServerSideEncryption="aws:kms:dsse"),
             "NotImplemented"),
            (lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON"),
             "InvalidRequest"),
            (lambda: s3.create_bucket(Bucket=bucket_name("locked"), ObjectLockEnabledForBucket=True),
             "NotImplemented")):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == expected
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["s3-managed"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_the_checksum_type_is_named_with_the_checksum(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="whole", Body=b"hello", ChecksumAlgorithm="CRC32")
    got = s3.get_object(Bucket=bucket, Key="whole", ChecksumMode="ENABLED")
    got["Body"].read()
    head = s3.head_object(Bucket=bucket, Key="whole", ChecksumMode="ENABLED")
    assert [r["ChecksumType"] for r in (put, got, head)] == ["FULL_OBJECT"] * 3
    assert "ChecksumType" not in s3.head_object(Bucket=bucket, Key="whole")  # no checksum asked for, none named
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts", ChecksumAlgorithm="CRC32")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"p",
                          ChecksumAlgorithm="CRC32")
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]})
    head = s3.head_object(Bucket=bucket, Key="parts", ChecksumMode="ENABLED")
    assert (head["ChecksumType"], head["ChecksumCRC32"].endswith("-1")) == ("COMPOSITE", True)


def test_conditional_writes_make_a_lock(s3, bucket):
    """The lock-file pattern (Terraform's S3 backend, Delta Lake): create only if absent, replace or delete only
    what was read."""
    def refused(call) -> int:
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == "PreconditionFailed"
        return caught.value.response["ResponseMetadata"]["HTTPStatusCode"]

    taken = s3.put_object(Bucket=bucket, Key="state.lock", Body=b"holder-1", IfNoneMatch="*")
    assert refused(lambda: s3.put_object(Bucket=bucket, Key="state.lock", Body=b"holder-2", IfNoneMatch="*")) == 412
    renewed = s3.put_object(Bucket=bucket, Key="state.lock", Body=b"holder-1 again", IfMatch=taken["ETag"])
    refused(lambda: s3.put_object(Bucket=bucket, Key="state.lock", Body=b"stale", IfMatch=taken["ETag"]))
    s3.put_object(Bucket=bucket, Key="other", Body=b"z")
    refused(lambda: s3.copy_object(Bucket=bucket, Key="other", CopySource={"Bucket": bucket, "Key": "state.lock"},
                                   IfNoneMatch="*"))
    upload = s3.create_multipart_upload(Bucket=bucket, Key="state.lock")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="state.lock", UploadId=upload, PartNumber=1, Body=b"parts")
    refused(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="state.lock", UploadId=upload, IfNoneMatch="*",
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}))
    s3.abort_multipart_upload(Bucket=bucket, Key="state.lock", UploadId=upload)
    refused(lambda: s3.delete_object(Bucket=bucket, Key="state.lock", IfMatch=taken["ETag"]))
    assert s3.get_object(Bucket=bucket, Key="state.lock")["Body"].read() == b"holder-1 again"
    assert s3.get_object(Bucket=bucket, Key="other")["Body"].read() == b"z"
    s3.delete_object(Bucket=bucket, Key="state.lock", IfMatch=renewed["ETag"])
    s3.put_object(Bucket=bucket, Key="state.lock", Body=b"holder-2", IfNoneMatch="*")


def test_a_version_id_on_a_bucket_never_versioned_is_an_invalid_argument(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"current")
    for call in (lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="garbage"),
                 lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="garbage")):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == "InvalidArgument"
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key="k", VersionId="garbage")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"current"


def test_tag_sets_follow_s3s_rules(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bad = [
        (lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]}), "BadRequest"),
        (lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
            {"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}]}), "InvalidTag"),
        (lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", Tagging="aws:cost=1"), "InvalidTag"),
        (lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(51)]}), "BadRequest"),
    ]
    for call, expected in bad:
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == expected
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_lifecycle_and_website_configurations_are_checked_before_they_are_stored(s3, bucket):
    for call in (lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
                     {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}]}),
                 lambda: s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
                     "ErrorDocument": {"Key": "e.html"}})):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == "InvalidArgument"
    for call, missing in ((lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket),
                           "NoSuchLifecycleConfiguration"),
                          (lambda: s3.get_bucket_website(Bucket=bucket), "NoSuchWebsiteConfiguration")):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == missing


def test_multipart_errors(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=n,
                                                      Body=b"tiny")["ETag"]} for n in (1, 2)]
    cases = [
        (lambda: s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=0, Body=b"x"), "InvalidArgument"),
        (lambda: s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=10001, Body=b"x"),
         "InvalidArgument"),
        (lambda: s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                              MultipartUpload={"Parts": []}), "MalformedXML"),
        (lambda: s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                              MultipartUpload={"Parts": parts[::-1]}), "InvalidPartOrder"),
        (lambda: s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                              MultipartUpload={"Parts": parts}), "EntityTooSmall"),
        (lambda: s3.list_parts(Bucket=bucket, Key="m", UploadId="no-such-upload"), "NoSuchUpload"),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == expected
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"]] == [1, 2]
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload)


def test_wrong_checksum_is_bad_digest(server, bucket):
    status, _, body = signed(server, "PUT", f"/{bucket}/k", body=b"hello",
                             headers={"x-amz-checksum-crc32": "AAAAAA=="})
    assert (status, error_code(body)) == (400, "BadDigest")
    status, _, body = signed(server, "GET", f"/{bucket}/k")
    assert (status, error_code(body)) == (404, "NoSuchKey")


def test_versioning_cannot_be_undone(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"2")
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"1"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_an_object_sent_without_a_type_is_binary_and_its_checksum_comes_back(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"some text", ChecksumAlgorithm="SHA256")
    typed = s3.put_object(Bucket=bucket, Key="typed", Body=b"x", ContentType="text/x-typed")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "typed"},
                   MetadataDirective="REPLACE")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "typed"})
    assert {k: s3.head_object(Bucket=bucket, Key=k)["ContentType"] for k in ("plain", "parts", "replaced", "copied")} \
        == {"plain": "binary/octet-stream", "parts": "binary/octet-stream", "replaced": "binary/octet-stream",
            "copied": "text/x-typed"}
    got = s3.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    assert (got["Body"].read(), got["ChecksumSHA256"]) == (b"some text", put["ChecksumSHA256"])
    assert s3.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED", Range="bytes=0-3")["Body"].read() == \
        b"some"
    assert typed["ETag"] == s3.head_object(Bucket=bucket, Key="typed", ChecksumMode="ENABLED")["ETag"]


def test_delete_markers_are_named_when_read(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="gone", Body=b"1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="gone")["VersionId"]
    for read in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as caught:
            read(Bucket=bucket, Key="gone")
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert (caught.value.response["ResponseMetadata"]["HTTPStatusCode"], headers["x-amz-delete-marker"],
                headers["x-amz-version-id"]) == (404, "true", marker)
        with pytest.raises(ClientError) as caught:
            read(Bucket=bucket, Key="gone", VersionId=marker)
        headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
        assert (caught.value.response["ResponseMetadata"]["HTTPStatusCode"], headers["x-amz-delete-marker"],
                headers["allow"]) == (405, "true", "DELETE")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="gone", VersionId=marker)
    assert code_of(caught.value) == "MethodNotAllowed"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="never")
    assert "x-amz-delete-marker" not in caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert s3.get_object(Bucket=bucket, Key="gone", VersionId=kept)["Body"].read() == b"1"


def test_copy_results_quote_the_etag_and_name_the_source_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="src", Body=b"first")
    s3.put_object(Bucket=bucket, Key="src", Body=b"second")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src",
                                                                  "VersionId": first["VersionId"]})
    assert copied["CopyObjectResult"]["ETag"] == first["ETag"] == s3.head_object(Bucket=bucket, Key="dst")["ETag"]
    assert copied["CopySourceVersionId"] == first["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    try:
        part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
                                   CopySource={"Bucket": bucket, "Key": "src", "VersionId": first["VersionId"]})
        assert (part["CopyPartResult"]["ETag"], part["CopySourceVersionId"]) == (first["ETag"], first["VersionId"])
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)


def test_a_copy_of_the_current_version_names_it(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="what?.txt", Body=b"first")
    current = s3.put_object(Bucket=bucket, Key="what?.txt", Body=b"second")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "what?.txt"})
    assert copied["CopySourceVersionId"] == current["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"second"
    s3.delete_object(Bucket=bucket, Key="what?.txt")  # the current version is now a delete marker
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "what?.txt"})
    assert code_of(caught.value) == "NoSuchKey"


def test_a_copy_from_an_unversioned_bucket_names_no_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"only")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert "CopySourceVersionId" not in copied
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"only"


def test_presigned_get_and_expiry(server, bucket):
    s3 = server.client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=2)
    status, _, body = raw("GET", url)
    assert (status, body) == (200, b"shared")
    time.sleep(3)
    status, _, body = raw("GET", url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert b"Request has expired" in body
    too_long = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"},
                                         ExpiresIn=604801)
    status, _, body = raw("GET", too_long)
    assert (status, error_code(body)) == (400, "AuthorizationQueryParametersError")
    legacy = server.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "shared.txt"},
                                                       ExpiresIn=60)
    assert "AWSAccessKeyId=" in legacy  # boto3's default presigner: Signature Version 2
    assert raw("GET", legacy)[::2] == (200, b"shared")
    status, _, body = raw("GET", legacy.replace("Signature=", "Signature=x"))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    listing = server.client("s3").generate_presigned_url("list_objects", Params={"Bucket": bucket}, ExpiresIn=60)
    assert raw("GET", listing)[0] == 200, "SigV2 signs a bucket as /bucket/"
    tagging = server.client("s3").generate_presigned_url("get_object_tagging", ExpiresIn=60,
                                                         Params={"Bucket": bucket, "Key": "shared.txt"})
    assert raw("GET", tagging)[0] == 200, "SigV2 signs the ?tagging subresource without '='"


def test_bad_signatures_and_malformed_xml(server, bucket):
    status, _, body = signed(server, "GET", f"/{bucket}", secret="wrong" * 8)
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    status, _, body = raw("GET", f"{server.endpoint}/{bucket}", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIANOBODY/20260101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=00", "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert (status, error_code(body)) == (403, "InvalidAccessKeyId")
    status, _, body = signed(server, "PUT", f"/{bucket}?tagging", body=b"<Tagging><TagSet><Tag>")
    assert (status, error_code(body)) == (400, "MalformedXML")
    status, _, body = signed(server, "PUT", f"/{bucket}/lie", body=b"real body",
                             signed_body=b"other body")
    assert (status, error_code(body)) == (400, "XAmzContentSHA256Mismatch")
    status, _, body = signed(server, "GET", f"/{bucket}/lie")
    assert status == 404, "a body that failed verification must not be stored"


def test_bucket_configurations(s3, bucket):
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=bucket)
    assert code_of(caught.value) == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy="{not json")
    assert code_of(caught.value) == "MalformedPolicy"
    cors = {"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == cors["CORSRules"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_cors(Bucket=bucket)
    assert code_of(caught.value) == "NoSuchCORSConfiguration"
    rules = [{"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "old/"},
              "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "archive"
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    assert s3.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "a"}]
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def make_function(server, name: str) -> str:
    """A Lambda function record to aim notifications at (its code never needs to run here)."""
    iam = server.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return server.client("lambda").create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                                   Handler="app.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]


def test_notification_configuration_validated(server, s3, bucket):
    name = bucket_name("fn")
    arn = f"arn:aws:lambda:us-east-1:{server.account_id}:function:{name}"
    config = {"LambdaFunctionConfigurations": [{
        "Id": "thumbs", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"}]}}}]}
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert code_of(caught.value) == "InvalidArgument"
    assert make_function(server, name) == arn
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]
    assert (got["Id"], got["LambdaFunctionArn"], got["Events"]) == ("thumbs", arn, ["s3:ObjectCreated:*"])
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:Nope"]}]})
    assert code_of(caught.value) == "InvalidArgument"
    for unreachable, expected in (  # no SQS, SNS or EventBridge here: never stored as if delivered
            ({"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:us-east-1:{server.account_id}:q",
                                       "Events": ["s3:ObjectCreated:*"]}]}, "InvalidArgument"),
            ({"TopicConfigurations": [{"TopicArn": f"arn:aws:sns:us-east-1:{server.account_id}:t",
                                       "Events": ["s3:ObjectCreated:*"]}]}, "InvalidArgument"),
            ({"EventBridgeConfiguration": {}}, "NotImplemented")):
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=unreachable)
        assert code_of(caught.value) == expected
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0]["Id"] == \
        "thumbs"


def multipart_form(fields: dict, filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "----terrarium" + hashlib.md5(content).hexdigest()
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_presigned_post(server, bucket, signature_version):
    s3 = server.client("s3", config=Config(signature_version=signature_version, retries={"max_attempts": 1}))
    server.client("s3").put_object(Bucket=bucket, Key="uploads/hello.txt", Body=b"", WebsiteRedirectLocation="/x")
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", Fields={"success_action_status": "201"},
                                      Conditions=[["starts-with", "$key", "uploads/"], {"success_action_status": "201"},
                                                  ["content-length-range", 1, 1000]], ExpiresIn=60)
    body, content_type = multipart_form(post["fields"], "hello.txt", b"posted!")
    status, _, reply = raw("POST", post["url"], body=body, headers={"Content-Type": content_type})
    assert status == 201 and b"<Key>uploads/hello.txt</Key>" in reply
    got = server.client("s3").get_object(Bucket=bucket, Key="uploads/hello.txt")
    assert got["Body"].read() == b"posted!" and "WebsiteRedirectLocation" not in got  # the form replaced it all
    too_big, content_type = multipart_form(post["fields"], "big.txt", b"x" * 2000)
    status, _, reply = raw("POST", post["url"], body=too_big, headers={"Content-Type": content_type})
    assert (status, error_code(reply)) == (400, "EntityTooLarge")
    forged = dict(post["fields"], key="elsewhere/${filename}")
    body, content_type = multipart_form(forged, "x.txt", b"x")
    status, _, reply = raw("POST", post["url"], body=body, headers={"Content-Type": content_type})
    assert (status, error_code(reply)) == (403, "AccessDenied")
    tampered = dict(post["fields"], **{"x-amz-signature" if signature_version == "s3v4" else "signature": "0" * 64})
    body, content_type = multipart_form(tampered, "x.txt", b"x")
    status, _, reply = raw("POST", post["url"], body=body, headers={"Content-Type": content_type})
    assert (status, error_code(reply)) == (403, "SignatureDoesNotMatch")
    public = s3.generate_presigned_post(bucket, "uploads/public.txt", Fields={"acl": "public-read"},
                                        Conditions=[{"acl": "public-read"}], ExpiresIn=60)
    body, content_type = multipart_form(public["fields"], "public.txt", b"x")
    status, _, reply = raw("POST", public["url"], body=body, headers={"Content-Type": content_type})
    assert (status, error_code(reply)) == (400, "AccessControlListNotSupported"), "ACLs are disabled"
