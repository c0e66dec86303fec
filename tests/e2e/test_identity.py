"""The foundation through unmodified clients: boto3 and the aws CLI against a real server process."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.server import REPO


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_root_identity(server):
    identity = server.client("sts").get_caller_identity()
    assert identity["Account"] == server.account_id
    assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"
    assert identity["UserId"] == server.account_id


def test_account_file_is_private(server):
    assert oct((server.data_dir / "account.json").stat().st_mode & 0o777) == "0o600"


def test_regions_and_zones(server):
    ec2 = server.client("ec2")
    assert [r["RegionName"] for r in ec2.describe_regions()["Regions"]] == ["us-east-1"]
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(z["State"] == "available" for z in zones)
    only_b = ec2.describe_availability_zones(Filters=[{"Name": "zone-name", "Values": ["*b"]}])
    assert [z["ZoneName"] for z in only_b["AvailabilityZones"]] == ["us-east-1b"]
    assert error_of(lambda: ec2.describe_availability_zones(ZoneNames=["mars-1a"])) == ("InvalidParameterValue", 400)
    assert error_of(lambda: ec2.describe_regions(Filters=[{"Name": "nonsense", "Values": ["x"]}]))[0] == \
        "InvalidParameterValue"


@pytest.mark.parametrize("service,call,expected", [
    ("sts", lambda c: c.get_caller_identity(), ("InvalidClientTokenId", 403)),
    ("ec2", lambda c: c.describe_regions(), ("AuthFailure", 401)),
    ("lambda", lambda c: c.list_functions(), ("UnrecognizedClientException", 403)),
    ("iam", lambda c: c.list_users(), ("InvalidClientTokenId", 403)),
])
def test_unknown_access_key(server, service, call, expected):
    client = server.client(service, aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40)
    assert error_of(lambda: call(client)) == expected


@pytest.mark.parametrize("service,call,expected", [
    ("sts", lambda c: c.get_caller_identity(), ("SignatureDoesNotMatch", 403)),
    ("ec2", lambda c: c.describe_regions(), ("SignatureDoesNotMatch", 403)),
    ("lambda", lambda c: c.list_functions(), ("InvalidSignatureException", 403)),
])
def test_bad_signature(server, service, call, expected):
    client = server.client(service, aws_secret_access_key="wrong" * 8)
    assert error_of(lambda: call(client)) == expected


def _signed(server, *, when: datetime, service="sts", body="Action=GetCallerIdentity&Version=2011-06-15",
            token=None):
    request = AWSRequest("POST", server.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signer = SigV4Auth(Credentials(server.access_key, server.secret_key, token), service, "us-east-1")
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signer._inject_signature_to_request(request, signature)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=prepared.body.encode() if isinstance(prepared.body, str)
                                 else prepared.body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(raw) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_clock_skew_over_15_minutes(server):
    status, body = _signed(server, when=datetime.now(timezone.utc) - timedelta(minutes=16))
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body and "Signature expired" in body
    status, body = _signed(server, when=datetime.now(timezone.utc) - timedelta(minutes=14))
    assert status == 200 and "<Arn>" in body


def test_missing_authentication(server):
    request = urllib.request.Request(server.endpoint + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    try:
        urllib.request.urlopen(request)
        raise AssertionError("unsigned request was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403
        assert "<Code>MissingAuthenticationToken</Code>" in error.read().decode()


def test_presigned_url(server):
    """botocore presigns query-protocol calls for POST (as Vault and EKS use them)."""
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    with urllib.request.urlopen(url, data=b"") as reply:
        assert f"<Account>{server.account_id}</Account>" in reply.read().decode()
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    try:
        urllib.request.urlopen(tampered, data=b"")
        raise AssertionError("tampered presigned URL was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403 and "SignatureDoesNotMatch" in error.read().decode()


def test_expired_presigned_url(server):
    request = AWSRequest("GET", server.endpoint + "/?Action=GetCallerIdentity&Version=2011-06-15")
    signer = SigV4QueryAuth(Credentials(server.access_key, server.secret_key), "sts", "us-east-1", expires=1)
    request.context["timestamp"] = (datetime.now(timezone.utc) - timedelta(seconds=30)).strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signer._inject_signature_to_request(request, signature)
    try:
        urllib.request.urlopen(request.url)
        raise AssertionError("expired presigned URL was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403 and "ExpiredToken" in error.read().decode()


def test_unimplemented_operation_is_a_clean_501(server):
    assert error_of(lambda: server.client("ec2").describe_spot_price_history()) == ("NotImplemented", 501)
    assert error_of(lambda: server.client("lambda").list_layers()) == ("NotImplemented", 501)
    assert error_of(lambda: server.client("logs").describe_metric_filters()) == ("NotImplemented", 501)


def test_model_validation_errors(server):
    lambda_ = server.client("lambda", config=boto3.session.Config(parameter_validation=False,
                                                                 retries={"max_attempts": 1}))
    code, status = error_of(lambda: lambda_.create_function(FunctionName="f", Role="r" * 20, Code={},
                                                            MemorySize=99999))
    assert (code, status) == ("ValidationException", 400)
    ec2 = server.client("ec2", config=boto3.session.Config(parameter_validation=False))
    assert error_of(lambda: ec2.run_instances(ImageId="ami-1"))[0] == "MissingParameter"
    now = datetime.now(timezone.utc)
    status, body = _signed(server, when=now, service="ec2",
                           body="Action=DescribeAvailabilityZones&Version=2016-11-15&AllAvailabilityZones=maybe")
    assert status == 400 and "<Code>InvalidParameterValue</Code>" in body and "<RequestID>" in body
    status, body = _signed(server, when=now, service="ec2",
                           body="Action=DescribeAvailabilityZones&Version=2016-11-15&Bogus=1")
    assert status == 400 and "<Code>UnknownParameter</Code>" in body
    status, body = _signed(server, when=now, service="ec2", body="Action=LaunchRockets&Version=2016-11-15")
    assert status == 400 and "<Code>InvalidAction</Code>" in body


def test_ec2_dry_run(server):
    assert error_of(lambda: server.client("ec2").describe_regions(DryRun=True)) == ("DryRunOperation", 412)


@pytest.fixture
def aws_home(server, tmp_path):
    """A HOME with the `terrarium` profile written by `terrarium credentials --aws-profile`."""
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("AWS_PROFILE", None)
    subprocess.check_call([sys.executable, "-m", "runtime", "credentials", "--data-dir", str(server.data_dir),
                           "--listen", server.endpoint.removeprefix("http://"), "--aws-profile", "terrarium"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return env


def aws_cli(env, *args) -> subprocess.CompletedProcess:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    return subprocess.run([aws, "--profile", "terrarium", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_aws_cli_profile(server, aws_home, tmp_path):
    config = configparser.RawConfigParser()
    config.read(tmp_path / ".aws" / "config")
    assert config["profile terrarium"]["endpoint_url"] == server.endpoint
    result = aws_cli(aws_home, "sts", "get-caller-identity")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Account"] == server.account_id
    zones = json.loads(aws_cli(aws_home, "ec2", "describe-availability-zones").stdout)
    assert len(zones["AvailabilityZones"]) == 3


def test_aws_cli_reports_errors(server, aws_home):
    result = aws_cli(aws_home, "ec2", "describe-spot-price-history")
    assert result.returncode != 0 and "NotImplemented" in result.stderr
