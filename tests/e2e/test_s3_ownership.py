"""Every bucket has ACLs disabled (Object Ownership BucketOwnerEnforced), as new S3 buckets do: ACL reads show
the owner's full control, ACL writes that grant anyone else are refused with S3's codes, and the settings
Terrarium does not have read as S3 reads them on a bucket that never had them. GetObjectAttributes too."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import temporary_bucket

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture()
def bucket(s3):
    with temporary_bucket(s3, "own") as name:
        yield name


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_acls_read_as_the_owners_full_control(s3, bucket):
    owner = s3.list_buckets()["Owner"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    for acl in (s3.get_bucket_acl(Bucket=bucket), s3.get_object_acl(Bucket=bucket, Key="k")):
        assert acl["Owner"]["ID"] == owner["ID"]
        assert [(g["Grantee"]["Type"], g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == \
            [("CanonicalUser", owner["ID"], "FULL_CONTROL")]
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert error_of(lambda: s3.get_object_acl(Bucket=bucket, Key="missing")) == ("NoSuchKey", 404)
    assert error_of(lambda: s3.get_bucket_acl(Bucket="tr-no-such-bucket-acl")) == ("NoSuchBucket", 404)


def test_acl_writes_granting_anyone_else_are_refused(s3, bucket):
    owner_id = s3.list_buckets()["Owner"]["ID"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", ACL="bucket-owner-full-control")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, GrantFullControl=f'id="{owner_id}"')
    refused = [
        lambda: s3.put_object(Bucket=bucket, Key="public", Body=b"1", ACL="public-read"),
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"},
                               ACL="authenticated-read"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", GrantRead='uri="http://acs.amazonaws.com/'
                                                                               'groups/global/AllUsers"'),
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read-write"),
        lambda: s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={
            "Owner": {"ID": owner_id}, "Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/"
                                                                                      "groups/global/AllUsers"},
                                                   "Permission": "READ"}]}),
    ]
    for call in refused:
        assert error_of(call) == ("AccessControlListNotSupported", 400)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert error_of(lambda: s3.create_bucket(Bucket=f"{bucket}-pub", ACL="public-read")) == \
        ("InvalidBucketAclWithObjectOwnership", 400)
    assert error_of(lambda: s3.head_bucket(Bucket=f"{bucket}-pub"))[1] == 404
    assert error_of(lambda: s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})) == ("NotImplemented", 501)
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})


def test_policy_status_follows_the_bucket_policy(s3, bucket):
    assert error_of(lambda: s3.get_bucket_policy_status(Bucket=bucket)) == ("NoSuchBucketPolicy", 404)
    private = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                       "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
                                                       "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(private))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


def test_settings_terrarium_lacks_read_as_never_configured(s3, bucket):
    assert error_of(lambda: s3.get_bucket_encryption(Bucket=bucket)) == \
        ("ServerSideEncryptionConfigurationNotFoundError", 404)
    assert error_of(lambda: s3.get_bucket_replication(Bucket=bucket)) == ("ReplicationConfigurationNotFoundError", 404)
    assert error_of(lambda: s3.get_object_lock_configuration(Bucket=bucket)) == \
        ("ObjectLockConfigurationNotFoundError", 404)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert error_of(lambda: s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})) == ("NotImplemented", 501)
    assert error_of(lambda: s3.get_bucket_logging(Bucket="tr-no-such-bucket-log")) == ("NoSuchBucket", 404)


def test_object_attributes_answer_what_is_asked(s3, bucket):
    body = b"attributes"
    put = s3.put_object(Bucket=bucket, Key="a.txt", Body=body, StorageClass="STANDARD_IA", ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="a.txt",
                                   ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "Checksum"])
    assert got["ETag"] == put["ETag"].strip('"') and got["ObjectSize"] == len(body)
    assert got["StorageClass"] == "STANDARD_IA" and got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert got["LastModified"] == s3.head_object(Bucket=bucket, Key="a.txt")["LastModified"]
    assert set(s3.get_object_attributes(Bucket=bucket, Key="a.txt", ObjectAttributes=["ObjectSize"])) & {
        "ETag", "StorageClass", "Checksum"} == set()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                                                       Body=data)["ETag"]}
             for n, data in ((1, b"x" * (5 << 20)), (2, b"tail"))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    assert s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"])["ObjectParts"][
        "TotalPartsCount"] == 2
    assert error_of(lambda: s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])) == \
        ("NoSuchKey", 404)
    assert error_of(lambda: s3.get_object_attributes(Bucket=bucket, Key="a.txt", ObjectAttributes=["Colour"])) == \
        ("InvalidArgument", 400)


def test_listings_name_the_bucket_owner(s3, bucket):
    owner = s3.list_buckets()["Owner"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    assert s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"] == owner
    assert s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"] == owner
    assert s3.list_object_versions(Bucket=bucket)["Versions"][0]["Owner"] == owner
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    try:
        for number in (1, 2):
            s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=number, Body=b"p")
        parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
        assert (parts["Owner"], parts["Initiator"], parts["MaxParts"]) == (owner, owner, 1000)
        first = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload, MaxParts=1)
        rest = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload, PartNumberMarker=first["NextPartNumberMarker"])
        assert [p["PartNumber"] for p in first["Parts"] + rest["Parts"]] == [1, 2] and not rest["IsTruncated"]
        assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["Owner"] == owner
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)
