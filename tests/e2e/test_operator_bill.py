"""`terrarium bill`: EC2 instance seconds x the type's price, Lambda requests and GB-seconds from its ledger,
S3 storage in GB-months as the server measures it in the backend; per resource and per day, as a table or
--json."""

from __future__ import annotations

import io
import json
import subprocess
import time
import zipfile

import pytest

from runtime.services.ec2.instance_types import TYPES
from runtime.services.lambda_.billing import PRICE_PER_REQUEST
from runtime.services.s3.storage_meter import PRICE_PER_GB_MONTH
from runtime.state import SqliteStore
from tests.e2e.test_operator_cli import terrarium
from tests.server import start_server

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


@pytest.fixture(scope="module")
def metered(tmp_path_factory):
    """A server of its own that measures S3 storage every half second."""
    base = tmp_path_factory.mktemp("metered")
    running = start_server(base / "data", log_path=base / "server.log",
                           extra_env={"TERRARIUM_S3_STORAGE_INTERVAL": "0.5"})
    yield running
    running.stop()


def test_s3_storage_is_measured_in_the_backend_and_billed(metered):
    s3 = metered.client("s3")
    s3.create_bucket(Bucket="op-bill-bucket")
    s3.put_bucket_versioning(Bucket="op-bill-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket="op-bill-plain")  # never versioned
    body = b"x" * (3 * 1024 * 1024)
    try:
        s3.put_object(Bucket="op-bill-plain", Key="small.txt", Body=b"y" * 1000)
        s3.put_object(Bucket="op-bill-bucket", Key="a.bin", Body=body)
        s3.put_object(Bucket="op-bill-bucket", Key="a.bin", Body=body)  # the noncurrent version is billed too
        s3.put_object(Bucket="op-bill-bucket", Key="cold.bin", Body=body[:1024 * 1024], StorageClass="GLACIER")

        def measured(bucket: str):
            with SqliteStore(metered.data_dir / "state.db") as store:
                last = store.get_meta("s3.storage/last", {})
            return last.get(metered.account_id, {}).get(bucket, {}).get("bytes")
        assert until(lambda: measured("op-bill-bucket") == {"STANDARD": 2 * len(body), "GLACIER": 1024 * 1024})
        assert measured("op-bill-plain") == {"STANDARD": 1000}
        first = bill(metered)
        time.sleep(1.5)
        later = bill(metered)
        rows = {r["Detail"]: r for r in later["Rows"] if r["Resource"] == "op-bill-bucket"}
        assert set(rows) >= {"storage STANDARD", "storage GLACIER"}
        for row in rows.values():
            assert row["Service"] == "s3" and row["Unit"] == "GB-month" and row["Quantity"] > 0
            price = PRICE_PER_GB_MONTH[row["Detail"].split()[1]]
            assert row["CostUsd"] == pytest.approx(row["Quantity"] * price, abs=1e-6)
        grown = {r["Detail"]: r["Quantity"] for r in first["Rows"] if r["Resource"] == "op-bill-bucket"}
        assert rows["storage STANDARD"]["Quantity"] > grown.get("storage STANDARD", 0)  # it accrues with time
        table = terrarium(metered, "bill")
        assert table.returncode == 0
        assert any("op-bill-bucket" in line and "GB-month" in line for line in table.stdout.splitlines())
    finally:
        for version in s3.list_object_versions(Bucket="op-bill-bucket").get("Versions", []):
            s3.delete_object(Bucket="op-bill-bucket", Key=version["Key"], VersionId=version["VersionId"])
        s3.delete_bucket(Bucket="op-bill-bucket")
        s3.delete_object(Bucket="op-bill-plain", Key="small.txt")
        s3.delete_bucket(Bucket="op-bill-plain")


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
