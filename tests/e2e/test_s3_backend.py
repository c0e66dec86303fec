"""The embedded backend under Terrarium: supervised (a killed backend comes back and the data with it),
persistent across Terrarium restarts, reachable only on loopback and only with keys clients never see."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import (bucket_name, pid_with_argument, public_read_policy, retry_unavailable as retry,
                                  website_get)
from tests.server import start_server


def backend_pid(data_dir: Path) -> int:
    """The `weed` process serving this data dir."""
    return pid_with_argument(f"-dir={data_dir / 's3backend' / 'data'}")


@pytest.fixture()
def own_server(tmp_path):
    running = start_server(tmp_path / "data", log_path=tmp_path / "server.log")
    yield running
    running.stop()


def test_backend_killed_mid_run_is_restarted_and_keeps_data(own_server):
    s3 = own_server.client("s3")
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="before", Body=b"kept")
    first = backend_pid(own_server.data_dir)
    os.kill(first, signal.SIGKILL)
    assert retry(lambda: s3.get_object(Bucket=bucket, Key="before"))["Body"].read() == b"kept"
    assert backend_pid(own_server.data_dir) != first
    s3.put_object(Bucket=bucket, Key="after", Body=b"new")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["after", "before"]


def test_data_survives_terrarium_restart_and_backend_stops_with_it(tmp_path):
    first = start_server(tmp_path / "data", log_path=tmp_path / "server.log")
    bucket = bucket_name()
    try:
        s3 = first.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
        s3.put_object(Bucket=bucket, Key="k", Body=b"durable")
        pid = backend_pid(first.data_dir)
    finally:
        first.stop()
    assert not Path(f"/proc/{pid}").exists(), "the backend stops with Terrarium"
    second = start_server(tmp_path / "data", log_path=tmp_path / "server.log")
    try:
        s3 = second.client("s3")
        assert retry(lambda: s3.get_object(Bucket=bucket, Key="k"))["Body"].read() == b"durable"
        with pytest.raises(ClientError) as caught:
            s3.delete_object(Bucket=bucket, Key="k")
        assert caught.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        second.stop()


def test_backend_listens_on_loopback_only_and_refuses_client_keys(server):
    s3 = server.client("s3")
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)  # waits for the backend to be up
    s3.delete_bucket(Bucket=bucket)
    pid = backend_pid(server.data_dir)
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    ours = [line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line]
    assert ours, "the backend listens somewhere"
    assert all(address.startswith("127.0.0.1:") for address in ours), ours
    ports = json.loads((server.data_dir / "s3backend" / "ports.json").read_text())
    direct = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{ports['s3']}", region_name="us-east-1",
                          aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
                          config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        direct.list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    identity = server.data_dir / "s3backend" / "identity.json"
    assert identity.stat().st_mode & 0o077 == 0


@pytest.fixture(scope="module")
def lifecycle_server(tmp_path_factory):
    """A server whose lifecycle passes run every half second."""
    base = tmp_path_factory.mktemp("lifecycle")
    running = start_server(base / "data", log_path=base / "server.log",
                           extra_env={"TERRARIUM_S3_LIFECYCLE_INTERVAL": "0.5"})
    yield running
    running.stop()


def wait_for_listing(s3, bucket: str, expected: dict[str, str]) -> dict[str, str]:
    """The bucket's {key: storage class} once it equals `expected` (or as it is after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        listed = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        if listed == expected or time.monotonic() > deadline:
            return listed
        time.sleep(0.3)


def test_lifecycle_transitions_and_expirations(lifecycle_server):
    s3 = lifecycle_server.client("s3")
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    for key in ("archive/a.log", "tmp/b.log", "keep/c.log"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", WebsiteRedirectLocation=f"/{key}.moved")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": "archive/"},
         "Transitions": [{"Date": "2020-01-01T00:00:00Z", "StorageClass": "GLACIER"}]},
        {"ID": "cleanup", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "later", "Status": "Enabled", "Filter": {"Prefix": "keep/"},
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}]})
    expected = {"archive/a.log": "GLACIER", "keep/c.log": "STANDARD"}
    assert wait_for_listing(s3, bucket, expected) == expected
    assert s3.head_object(Bucket=bucket, Key="archive/a.log")["StorageClass"] == "GLACIER"
    assert website_get(lifecycle_server, bucket, "/tmp/b.log")[0] == 404  # expired: its redirect went with it
    assert website_get(lifecycle_server, bucket, "/keep/c.log")[0] == 301


def test_lifecycle_rules_filtered_by_object_tags(lifecycle_server):
    s3 = lifecycle_server.client("s3")
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket)
    for key, tagging in [("x/scratch", "env=tmp"), ("x/kept", "env=prod"), ("logs/cold", "team=a&tier=cold"),
                         ("logs/warm", "team=a"), ("other/cold", "team=a&tier=cold"), ("logs/untagged", "")]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging=tagging)
    s3.put_object_tagging(Bucket=bucket, Key="x/kept", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "scratch", "Status": "Enabled", "Filter": {"Tag": {"Key": "env", "Value": "tmp"}},
         "Expiration": {"Date": "2020-01-01T00:00:00Z"}},
        {"ID": "cold-logs", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "team", "Value": "a"},
                                                        {"Key": "tier", "Value": "cold"}]}},
         "Transitions": [{"Date": "2020-01-01T00:00:00Z", "StorageClass": "GLACIER"}]}]})
    expected = {"x/kept": "STANDARD", "logs/cold": "GLACIER", "logs/warm": "STANDARD", "other/cold": "STANDARD",
                "logs/untagged": "STANDARD"}
    assert wait_for_listing(s3, bucket, expected) == expected
