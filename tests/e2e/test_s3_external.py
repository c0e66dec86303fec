"""Terrarium in front of an external S3-compatible store chosen by configuration (`TERRARIUM_S3_BACKEND_URL`
with its keys) instead of the embedded one: a separate SeaweedFS that requires authentication, started here on
loopback (and a MinIO server too when a `minio` binary is on PATH). The same representative S3 operations
run through Terrarium against each; the store must never be used without its keys, and Terrarium must not
start an embedded backend of its own."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import (anonymous_client, bucket_name, public_read_policy, raw, signed,
                                  temporary_bucket)
from tests.server import start_server

BACKENDS = ["seaweedfs"] + (["minio"] if shutil.which("minio") else [])


@dataclass
class Store:
    process: subprocess.Popen
    url: str
    access_key: str
    secret_key: str

    def client(self, **overrides):
        params = {"endpoint_url": self.url, "region_name": "us-east-1", "aws_access_key_id": self.access_key,
                  "aws_secret_access_key": self.secret_key, "config": Config(retries={"max_attempts": 1})}
        params.update(overrides)
        return boto3.client("s3", **params)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _weed() -> str:
    local = Path(sys.executable).with_name("weed")
    return str(local) if local.exists() else shutil.which("weed") or pytest.skip("no SeaweedFS binary")


def _start_seaweedfs(directory: Path, access_key: str, secret_key: str) -> tuple[subprocess.Popen, str]:
    (directory / "data").mkdir(parents=True)
    (directory / "s3.json").write_text(json.dumps({"identities": [{
        "name": "external", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    (directory / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\n"
                                           "copy_other = 1\n")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    command = [_weed(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
               f"-dir={directory / 'data'}", "-volume.max=500", "-master.volumeSizeLimitMB=256",
               f"-master.port={master}", f"-master.port.grpc={master_grpc}", f"-volume.port={volume}",
               f"-volume.port.grpc={volume_grpc}", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
               "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
               f"-s3.config={directory / 's3.json'}"]
    log = open(directory / "weed.log", "ab")
    process = subprocess.Popen(command, cwd=directory, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    return process, f"http://127.0.0.1:{s3}"


def _start_minio(directory: Path, access_key: str, secret_key: str) -> tuple[subprocess.Popen, str]:
    (directory / "data").mkdir(parents=True)
    api, console = _free_ports(2)
    env = {**os.environ, "MINIO_ROOT_USER": access_key, "MINIO_ROOT_PASSWORD": secret_key,
           "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}
    log = open(directory / "minio.log", "ab")
    process = subprocess.Popen([shutil.which("minio"), "server", str(directory / "data"), "--address",
                                f"127.0.0.1:{api}", "--console-address", f"127.0.0.1:{console}"],
                               env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    log.close()
    return process, f"http://127.0.0.1:{api}"


def _wait_until_serving(store: Store) -> None:
    """Up means: an authenticated call succeeds (SeaweedFS answers before its volumes are writable, so a write
    is part of the check)."""
    s3 = store.client()
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.create_bucket(Bucket="tr-probe")
            s3.put_object(Bucket="tr-probe", Key="probe", Body=b"ok")
            s3.delete_object(Bucket="tr-probe", Key="probe")
            s3.delete_bucket(Bucket="tr-probe")
            return
        except Exception:
            if store.process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module", params=BACKENDS)
def external(request, tmp_path_factory):
    """(the external store, a Terrarium configured to use it)."""
    base = tmp_path_factory.mktemp(f"external-{request.param}")
    access_key, secret_key = "TREXT" + secrets.token_hex(6).upper(), secrets.token_urlsafe(24)
    start = _start_seaweedfs if request.param == "seaweedfs" else _start_minio
    process, url = start(base / "store", access_key, secret_key)
    store = Store(process, url, access_key, secret_key)
    running = None
    try:
        _wait_until_serving(store)
        running = start_server(base / "data", log_path=base / "server.log", extra_env={
            "TERRARIUM_S3_BACKEND_URL": url, "TERRARIUM_S3_BACKEND_ACCESS_KEY": access_key,
            "TERRARIUM_S3_BACKEND_SECRET_KEY": secret_key, "TERRARIUM_S3_BACKEND_KIND": request.param})
        yield store, running
    finally:
        if running is not None:
            running.stop()
        os.killpg(process.pid, signal.SIGKILL)  # SeaweedFS can hang on SIGTERM
        process.wait()


@pytest.fixture()
def bucket(external):
    _, running = external
    with temporary_bucket(running.client("s3"), "ext") as name:
        yield name


def test_the_store_requires_its_keys_and_no_embedded_backend_runs(external, bucket):
    store, running = external
    status, _, body = raw("GET", store.url + "/")
    assert status == 403, body
    with pytest.raises(ClientError) as caught:
        store.client(aws_access_key_id=running.access_key, aws_secret_access_key=running.secret_key).list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert not (running.data_dir / "s3backend").exists()
    # Terrarium's bucket lives in the external store under a name of Terrarium's own choosing
    running.client("s3").put_object(Bucket=bucket, Key="marker", Body=b"here")
    backend_buckets = [b["Name"] for b in store.client().list_buckets()["Buckets"]]
    holders = [b for b in backend_buckets
               if [o["Key"] for o in store.client().list_objects_v2(Bucket=b).get("Contents", [])] == ["marker"]]
    assert len(holders) == 1 and holders[0] != bucket


def test_objects_ranges_listing_copy_and_tags(external, bucket):
    _, running = external
    s3 = running.client("s3")
    data = os.urandom(50_000)
    put = s3.put_object(Bucket=bucket, Key="dir/a.bin", Body=data, Metadata={"owner": "ext"},
                        ContentType="application/x-test", Tagging="team=a")
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a.bin")
    assert got["Body"].read() == data and got["Metadata"] == {"owner": "ext"}
    assert got["ContentType"] == "application/x-test"
    assert s3.get_object(Bucket=bucket, Key="dir/a.bin", Range="bytes=10-19")["Body"].read() == data[10:20]
    assert s3.head_object(Bucket=bucket, Key="dir/a.bin")["ContentLength"] == len(data)
    s3.copy_object(Bucket=bucket, Key="dir/sub/b.bin", CopySource={"Bucket": bucket, "Key": "dir/a.bin"})
    s3.put_object(Bucket=bucket, Key="top.txt", Body=b"t")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a.bin"]
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/sub/"]
    assert s3.get_object_tagging(Bucket=bucket, Key="dir/a.bin")["TagSet"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="missing")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "top.txt"}, {"Key": "dir/sub/b.bin"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["dir/sub/b.bin", "top.txt"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/a.bin"]
    for key in ("dir-x", "dir.txt"):  # sorting before `dir/`, which SeaweedFS lists first
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    paged = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert [o["Key"] for page in paged for o in page["Contents"]] == ["dir-x", "dir.txt", "dir/a.bin"]


def test_multipart_with_checksums(external, bucket):
    _, running = external
    s3 = running.client("s3")
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1024)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big", ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for number, part in enumerate(parts, 1):
        crc = base64.b64encode(zlib.crc32(part).to_bytes(4, "big")).decode()
        reply = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=number, Body=part,
                               ChecksumCRC32=crc)
        assert reply["ChecksumCRC32"] == crc
        done.append({"PartNumber": number, "ETag": reply["ETag"], "ChecksumCRC32": crc})
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(parts)


def test_versioning_policy_presign_and_signatures(external, bucket):
    _, running = external
    s3 = running.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=first)["Body"].read() == b"one"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]) == 2
    anonymous = anonymous_client(running)
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=bucket, Key="v")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    try:
        assert anonymous.get_object(Bucket=bucket, Key="v")["Body"].read() == b"two"
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "v"}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as reply:
        assert reply.read() == b"two"
    status, _, body = signed(running, "GET", f"/{bucket}/v", secret="wrong-secret")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body


def test_cors_preflight(external, bucket):
    _, running = external
    running.client("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET"]}]})
    status, headers, _ = raw("OPTIONS", f"{running.endpoint}/{bucket}/k", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_bucket_errors_come_from_terrarium(external):
    _, running = external
    s3 = running.client("s3")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket_name("missing"), Key="k", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"
    try:
        urllib.request.urlopen(f"{running.endpoint}/{bucket_name('missing')}/k", timeout=30)
    except urllib.error.HTTPError as error:
        assert error.code == 403  # anonymous: no bucket policy can grant it
    else:
        raise AssertionError("anonymous read of a missing bucket succeeded")
