"""S3 pieces without a server: bucket names, notification jobs, payload verification, bucket-policy access."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import zlib
from datetime import datetime, timezone

import pytest
from awscrt import checksums as crt_checksums
from multidict import CIMultiDict

from runtime.api.context import Principal, RequestContext
from runtime.api.dispatch import BoundOperation, OperationSpec
from runtime.api.sigv4 import BytesSource, PayloadVerifier, Signature, signing_key
from runtime.errors import AwsError
from runtime.services.s3.access import S3Access, is_public_policy
from runtime.services.s3.names import byte_range, check_bucket_name, is_single_byte_range
from runtime.services.s3.notifications import TOPIC, check_configuration, enqueue_events
from runtime.services.s3.records import BUCKET
from runtime.state import SqliteStore

ACCOUNT = "123456789012"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "state.db")
    yield s
    s.close()


@pytest.mark.parametrize("name", ["abc", "my.bucket-1", "a" * 63])
def test_valid_bucket_names(name):
    check_bucket_name(name)


@pytest.mark.parametrize("name", ["ab", "a" * 64, "Upper", "-start", "end-", "a..b", "10.0.0.1", "xn--x",
                                  "x-s3alias", "x--ol-s3", "a.-b", "under_score"])
def test_invalid_bucket_names(name):
    with pytest.raises(AwsError) as caught:
        check_bucket_name(name)
    assert caught.value.code == "InvalidBucketName"


def _notifying_bucket(store, arn):
    config = {"LambdaFunctionConfigurations": [{
        "Id": "resize", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "images/"},
                                           {"Name": "suffix", "Value": ".jpg"}]}}}]}
    return store.put(BUCKET, "photos", ACCOUNT, {"backend": "tr-x", "region": "us-east-1",
                                                 "notification": config}, name="photos")


def test_notification_job_is_aws_event_record(store):
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:resize"
    record = _notifying_bucket(store, arn)
    queued = enqueue_events(store, record, region="us-east-1", event_name="ObjectCreated:Put",
                            principal_id="AIDAEXAMPLE", source_ip="127.0.0.1", request_id="C3D13FE58DE4C810",
                            objects=[("images/red flower.jpg", 1024, '"d41d8cd98f00b204e9800998ecf8427e"', None),
                                     ("images/notes.txt", 1, None, None), ("other/a.jpg", 1, None, None)])
    assert queued == 1
    job = store.claim(TOPIC, now=1e12, lease_seconds=10)
    data = job.payload
    assert (data["function_arn"], data["source"], data["source_arn"], data["source_account"]) == (
        arn, "s3", "arn:aws:s3:::photos", ACCOUNT)
    event = json.loads(data["payload"])["Records"][0]
    assert event["eventVersion"] == "2.1" and event["eventSource"] == "aws:s3"
    assert event["eventName"] == "ObjectCreated:Put" and event["awsRegion"] == "us-east-1"
    assert event["eventTime"].endswith("Z") and len(event["eventTime"]) == 24
    assert event["userIdentity"] == {"principalId": "AIDAEXAMPLE"}
    assert event["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert event["responseElements"]["x-amz-request-id"] == "C3D13FE58DE4C810"
    s3 = event["s3"]
    assert s3["s3SchemaVersion"] == "1.0" and s3["configurationId"] == "resize"
    assert s3["bucket"]["name"] == "photos" and s3["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert s3["object"]["key"] == "images/red+flower.jpg"
    assert s3["object"]["size"] == 1024 and s3["object"]["eTag"] == "d41d8cd98f00b204e9800998ecf8427e"
    assert "versionId" not in s3["object"] and int(s3["object"]["sequencer"], 16) > 0
    assert store.claim(TOPIC, now=1e12, lease_seconds=10) is None


def test_removed_events_do_not_match_created_configuration(store):
    record = _notifying_bucket(store, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:resize")
    assert enqueue_events(store, record, region="us-east-1", event_name="ObjectRemoved:Delete",
                          principal_id="p", source_ip="127.0.0.1", request_id="r",
                          objects=[("images/a.jpg", None, None, None)]) == 0


def test_notification_destination_must_exist(store):
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:resize"
    config = {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    with pytest.raises(AwsError) as caught:
        check_configuration(store, ACCOUNT, config)
    assert caught.value.code == "InvalidArgument"
    store.put("lambda.function", arn, ACCOUNT, {}, name="resize")
    check_configuration(store, ACCOUNT, config)


def _drain(verifier, data: bytes) -> bytes:
    return asyncio.run(verifier.read_all(BytesSource(data)))


def test_hex_payload_hash_verified():
    body = b"x" * 1000
    good = CIMultiDict({"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    assert _drain(PayloadVerifier(good), body) == body
    with pytest.raises(AwsError) as caught:
        _drain(PayloadVerifier(good), body + b"!")
    assert caught.value.code == "XAmzContentSHA256Mismatch"


def test_last_piece_is_held_back_until_verified():
    body = b"y" * (600 * 1024)
    headers = CIMultiDict({"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()})
    released = []

    async def consume():
        async for piece in PayloadVerifier(headers).iterate(BytesSource(body)):
            released.append(piece)
    with pytest.raises(AwsError):
        asyncio.run(consume())
    assert sum(map(len, released)) < len(body)


def _chunked(body: bytes, secret: str, sig: Signature, trailer: str | None = None) -> bytes:
    key = signing_key(secret, sig.date, sig.region, sig.service)
    scope = f"{sig.date}/{sig.region}/{sig.service}/aws4_request"
    stamp = sig.timestamp.strftime("%Y%m%dT%H%M%SZ")
    previous, out = sig.signature, b""
    for chunk in [body[i:i + 65536] for i in range(0, len(body), 65536)] + [b""]:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
    if trailer is not None:
        out = out[:-2] + trailer.encode() + b"\r\n\r\n"
    return out


def _signature() -> Signature:
    return Signature("AKID", "20260101", "us-east-1", "s3", ("host",), "a" * 64,
                     datetime(2026, 1, 1, tzinfo=timezone.utc), False, None, None)


def test_signed_aws_chunked_decoded_and_verified():
    body = bytes(range(256)) * 600
    sig = _signature()
    headers = CIMultiDict({"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                           "x-amz-decoded-content-length": str(len(body))})
    wire = _chunked(body, "secret", sig)
    assert _drain(PayloadVerifier(headers, sig, "secret"), wire) == body
    with pytest.raises(AwsError) as caught:
        _drain(PayloadVerifier(headers, sig, "wrong"), wire)
    assert caught.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("name, crc", [("crc32", lambda data: zlib.crc32(data).to_bytes(4, "big")),
                                       ("crc64nvme", lambda data: crt_checksums.crc64nvme(data).to_bytes(8, "big"))])
def test_unsigned_trailer_checksum_verified(name, crc):
    body = os.urandom(3 * 256 * 1024 + 7)  # more than one read of the verifier
    good = base64.b64encode(crc(body)).decode()
    bad = base64.b64encode(bytes(len(crc(b"")))).decode()
    headers = CIMultiDict({"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                           "x-amz-trailer": f"x-amz-checksum-{name}"})

    def wire(checksum):
        return f"{len(body):x}\r\n".encode() + body + f"\r\n0\r\nx-amz-checksum-{name}:{checksum}\r\n\r\n".encode()
    verifier = PayloadVerifier(headers)
    assert _drain(verifier, wire(good)) == body
    assert verifier.checksums == {name: good}
    with pytest.raises(AwsError) as caught:
        _drain(PayloadVerifier(headers), wire(bad))
    assert caught.value.code == "BadDigest"


def test_crc32c_and_crc64nvme_header_checksums():
    body = b"123456789"  # the check values of CRC-32C and CRC-64/NVME
    for name, value in (("crc32c", (0xE3069283).to_bytes(4, "big")),
                        ("crc64nvme", (0xAE8B14860A799888).to_bytes(8, "big"))):
        headers = CIMultiDict({f"x-amz-checksum-{name}": base64.b64encode(value).decode()})
        assert _drain(PayloadVerifier(headers), body) == body


def test_public_policy_detection():
    public = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    scoped = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
                             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}
    assert is_public_policy(json.dumps(public)) and not is_public_policy(json.dumps(scoped))


def _ctx(kind: str, source_ip: str = "127.0.0.1") -> RequestContext:
    principal = Principal(f"arn:aws:iam::{ACCOUNT}:root" if kind == "root" else "*", "id", ACCOUNT, kind, kind)
    return RequestContext("s3", "GetObject", "us-east-1", "rid", principal, None, source_ip)


def _get_object() -> BoundOperation:
    spec = OperationSpec("GetObject", "s3:GetObject",
                         lambda ctx, p: [f"arn:aws:s3:::{p['Bucket']}/{p['Key']}"], None)
    return BoundOperation("s3", spec, lambda ctx, p: {})


async def _allow(ctx, op, params):
    return None


def test_anonymous_needs_a_public_grant_and_root_meets_explicit_denies(store):
    store.put(BUCKET, "pub", ACCOUNT, {"backend": "tr-a", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::pub/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.9.9.9/32"}}}]})}, name="pub")
    store.put(BUCKET, "priv", ACCOUNT, {"backend": "tr-b"}, name="priv")
    access = S3Access(store, _allow)
    run = lambda ctx, bucket: asyncio.run(access(ctx, _get_object(), {"Bucket": bucket, "Key": "k"}))  # noqa: E731
    assert run(_ctx("anonymous"), "pub") is None
    assert run(_ctx("anonymous"), "priv") is not None
    assert run(_ctx("anonymous", "10.9.9.9"), "pub").explicit
    assert run(_ctx("root"), "priv") is None
    assert run(_ctx("root", "10.9.9.9"), "pub").explicit
    store.update_spec(BUCKET, "pub", lambda s: {**s, "public_access_block": {"RestrictPublicBuckets": True}})
    assert run(_ctx("anonymous"), "pub") is not None


@pytest.mark.parametrize("method,path,query,headers,expected", [
    ("PUT", "/b/k", "", {}, "PutObject"),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, "UploadPart"),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "a/b"}, "CopyObject"),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", {"x-amz-copy-source": "a/b"}, "UploadPartCopy"),
    ("GET", "/b/k", "uploadId=u", {}, "ListParts"),
    ("DELETE", "/b/k", "", {}, "DeleteObject"),
    ("DELETE", "/b/k", "uploadId=u", {}, "AbortMultipartUpload"),
    ("PUT", "/b", "lifecycle", {}, "PutBucketLifecycleConfiguration"),
    ("PUT", "/b", "notification", {}, "PutBucketNotificationConfiguration"),
    ("GET", "/b", "list-type=2", {}, "ListObjectsV2"),
])
def test_s3_operation_from_method_path_query_headers(method, path, query, headers, expected):
    from runtime.api import specs
    from runtime.api.gateway import s3_operation
    from runtime.api.http import HttpRequest
    model = specs.service_model("s3")
    http = HttpRequest(method, path, query, CIMultiDict(headers))
    assert s3_operation(model, specs.protocol_for(model).operation_for(model, http), http).name == expected


@pytest.mark.parametrize("host,path,expected", [
    ("photos.s3.localhost:4566", "/cat.jpg", "/photos/cat.jpg"),
    ("photos.localhost:4566", "/", "/photos"),
    ("my.dotted.bucket.s3.us-east-1.amazonaws.com", "/k", "/my.dotted.bucket/k"),
    ("127.0.0.1:4566", "/photos/cat.jpg", "/photos/cat.jpg"),
    ("localhost:4566", "/photos", "/photos"),
])
def test_virtual_hosted_requests_become_path_style(host, path, expected):
    from runtime.api.gateway import s3_path_style
    from runtime.api.http import HttpRequest
    assert s3_path_style(HttpRequest("GET", path, "", CIMultiDict({"Host": host}))).path == expected


def test_external_backend_from_environment():
    from runtime.host.s3backend.config import external_endpoint
    assert external_endpoint({}) is None
    found = external_endpoint({"TERRARIUM_S3_BACKEND_URL": "http://127.0.0.1:9000/",
                               "TERRARIUM_S3_BACKEND_ACCESS_KEY": "minio", "TERRARIUM_S3_BACKEND_SECRET_KEY": "s"})
    assert (found.url, found.access_key, found.secret_key, found.netloc) == (
        "http://127.0.0.1:9000", "minio", "s", "127.0.0.1:9000")


def test_backend_requests_verify_with_the_gateways_sigv4_checker():
    """The backend signer and the gateway's verifier (which every boto3 e2e test exercises) agree."""
    from runtime.api.http import HttpRequest
    from runtime.api.sigv4 import read_signature, signature_matches
    from runtime.host.s3backend.client import BackendEndpoint, canonical_query, object_path, sign
    endpoint = BackendEndpoint("http://127.0.0.1:9000", "AK", "SK")
    path, query = object_path("tr-x", "dir/a b+c.txt"), canonical_query([("uploadId", "u/1"), ("partNumber", "2")])
    headers = sign(endpoint, "PUT", path, query, datetime.now(timezone.utc), {"x-amz-meta-colour": "blue"})
    request = HttpRequest("PUT", path, query, CIMultiDict({**headers, "Host": endpoint.netloc,
                                                           "x-amz-meta-colour": "blue"}))
    signature = read_signature(request)
    assert signature.signed_headers == ("host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-colour")
    assert signature_matches(request, signature, "SK")
    assert not signature_matches(request, signature, "other")


def test_only_one_well_formed_byte_range_is_honoured():
    for honoured in ("bytes=0-1", "bytes=3-3", "bytes=3-", "bytes=-5", "bytes=-0", "bytes=0-99999999999999999999"):
        assert is_single_byte_range(honoured), honoured
    for ignored in ("bytes=5-1", "bytes=-", "bytes=0-1,3-4", "bytes=a-b", "items=0-1", "", "bytes=1-2-3"):
        assert not is_single_byte_range(ignored), ignored


def test_the_bytes_a_range_selects():
    assert [byte_range(text, 10) for text in ("bytes=2-4", "bytes=7-", "bytes=5-100", "bytes=-3", "bytes=-30")] == \
        [(2, 4), (7, 9), (5, 9), (7, 9), (0, 9)]
    assert [byte_range(text, 10) for text in ("bytes=10-", "bytes=-0")] == [None, None]
    assert byte_range("bytes=0-0", 0) is None and byte_range("bytes=-1", 0) is None
