"""`terrarium bill`: EC2 instance seconds x the type's price, Lambda requests and GB-seconds from its ledger,
S3 storage reported as not tracked; per resource and per day, as a table or --json."""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile

import pytest

from runtime.services.ec2.instance_types import TYPES
from runtime.services.lambda_.billing import PRICE_PER_REQUEST
from runtime.state import SqliteStore
from tests.e2e.test_operator_cli import terrarium

TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def bill(server) -> dict:
    result = terrarium(server, "bill", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)
    return value


def test_s3_storage_is_reported_as_not_tracked(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="op-bill-bucket")
    try:
        report = bill(server)
        row = next(r for r in report["Rows"] if r["Resource"] == "op-bill-bucket")
        assert row["Service"] == "s3" and row["CostUsd"] is None
        assert any("s3 storage" in note for note in report["NotTracked"])
        table = terrarium(server, "bill")
        assert table.returncode == 0
        assert any("op-bill-bucket" in line and "not tracked" in line for line in table.stdout.splitlines())
    finally:
        s3.delete_bucket(Bucket="op-bill-bucket")


@pytest.mark.host
def test_lambda_requests_and_gb_seconds_come_from_the_ledger(server):
    iam, lam = server.client("iam"), server.client("lambda")
    role = iam.create_role(RoleName="op-bill-fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    lam.create_function(FunctionName="op-bill-fn", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": buf.getvalue()}, MemorySize=256)
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName="op-bill-fn",
                                                  WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        for _ in range(3):
            assert lam.invoke(FunctionName="op-bill-fn", Payload=b"{}")["StatusCode"] == 200

        def rows():
            found = {r["Detail"]: r for r in bill(server)["Rows"] if r["Resource"] == "op-bill-fn"}
            return found if found.get("requests", {}).get("Quantity") == 3 else None
        found = until(rows)
        assert found["requests"]["CostUsd"] == round(3 * PRICE_PER_REQUEST, 6)
        assert found["compute"]["Unit"] == "GB-seconds" and found["compute"]["Quantity"] > 0
        assert found["requests"]["Day"] == time.strftime("%Y-%m", time.gmtime())
    finally:
        lam.delete_function(FunctionName="op-bill-fn")
        iam.delete_role(RoleName="op-bill-fn")


@pytest.mark.host
def test_ec2_instance_seconds_times_the_type_price(server):
    ec2 = server.client("ec2")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    image = max(images, key=lambda i: i["CreationDate"])["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1,
                                 MaxCount=1)["Instances"][0]["InstanceId"]
    try:
        until(lambda: ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
              ["State"]["Name"] == "running")
        rows = until(lambda: [r for r in bill(server)["Rows"] if r["Resource"] == instance])
        assert len(rows) in (1, 2)  # two when the run period crosses UTC midnight
        seconds = sum(r["Quantity"] for r in rows)
        assert seconds >= 60  # the 60 s minimum of a run period
        for row in rows:
            assert row["Unit"] == "instance-seconds" and row["Detail"] == "t3.micro"
            assert row["CostUsd"] == pytest.approx(row["Quantity"] / 3600 * TYPES["t3.micro"].hourly_usd, abs=1e-6)
        report = bill(server)
        assert report["Totals"]["ec2"] >= sum(r["CostUsd"] for r in rows)
        described = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        listed = next(r for r in json.loads(terrarium(server, "ps", "--json").stdout)["instances"] if r["InstanceId"] == instance)
        assert listed["PublicIp"] == described.get("PublicIpAddress")
        assert listed["Eni"] == described["NetworkInterfaces"][0]["NetworkInterfaceId"]
        assert listed["Container"] in subprocess.run(["docker", "ps", "--format", "{{.Names}}"],
                                                     capture_output=True, text=True).stdout

        ec2.stop_instances(InstanceIds=[instance])
        until(lambda: ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
              ["State"]["Name"] == "stopped")
        with SqliteStore(server.data_dir / "state.db") as store:
            status = store.get("ec2.instance", instance).status
        [[start, end]] = status["RunPeriods"]  # the closed period, with its dates
        stopped = [r for r in bill(server)["Rows"] if r["Resource"] == instance]
        assert {r["Day"] for r in stopped} == {time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (start, end)}
        assert sum(r["Quantity"] for r in stopped) == pytest.approx(status["BilledSeconds"], abs=0.01)
        time.sleep(1.5)
        assert [r for r in bill(server)["Rows"] if r["Resource"] == instance] == stopped  # no longer accrues
    finally:
        ec2.terminate_instances(InstanceIds=[instance])
        until(lambda: ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
              ["State"]["Name"] == "terminated")
