"""Inside an instance: IMDS answers each instance about itself only, serves the instance profile's rotating role
credentials (which the gateway accepts), honours HttpTokens=required; reboot and restart keep the disk and IP."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from runtime.host.docker import containers

pytestmark = pytest.mark.host

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def imds(instance_id: str, path: str, token: str | None = None) -> tuple[int, str]:
    argv = ["curl", "-s", "-o", "/dev/stdout", "-w", "\\n%{http_code}"]
    if token:
        argv += ["-H", f"X-aws-ec2-metadata-token: {token}"]
    _, out = containers.exec_run(instance_id, argv + [f"http://169.254.169.254{path}"])
    body, _, code = out.decode().rpartition("\n")
    return int(code), body


def v2_token(instance_id: str) -> str:
    _, token = containers.exec_run(instance_id, ["curl", "-s", "-X", "PUT", "http://169.254.169.254/latest/api/token",
                                                 "-H", "X-aws-ec2-metadata-token-ttl-seconds: 300"])
    return token.decode()


@pytest.fixture
def launched(server):
    ec2 = server.client("ec2")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    ami = max(images, key=lambda i: i["CreationDate"])["ImageId"]
    created: list[str] = []

    def launch(**extra) -> str:
        instance_id = ec2.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                                        **extra)["Instances"][0]["InstanceId"]
        created.append(instance_id)
        return instance_id

    yield ec2, launch
    if created:
        ec2.terminate_instances(InstanceIds=created)
        ec2.get_waiter("instance_terminated").wait(InstanceIds=created, WaiterConfig={"Delay": 1})


def test_instances_see_only_themselves_and_get_role_credentials(server, launched):
    ec2, launch = launched
    iam = server.client("iam")
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="app-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName="app-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app-role")
    try:
        first = launch(IamInstanceProfile={"Name": "app-profile"})
        second = launch()
        ec2.get_waiter("instance_running").wait(InstanceIds=[first, second], WaiterConfig={"Delay": 1})
        assert imds(first, "/latest/meta-data/instance-id") == (200, first)
        assert imds(second, "/latest/meta-data/instance-id") == (200, second)
        assert imds(second, "/latest/meta-data/iam/")[0] == 404

        token = v2_token(first)
        assert imds(first, "/latest/meta-data/iam/security-credentials/", token) == (200, "app-role")
        code, body = imds(first, "/latest/meta-data/iam/security-credentials/app-role", token)
        creds = json.loads(body)
        assert code == 200 and creds["Code"] == "Success" and creds["AccessKeyId"].startswith("ASIA")
        session = boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                                aws_session_token=creds["Token"], region_name="us-east-1")
        identity = session.client("sts", endpoint_url=server.endpoint).get_caller_identity()
        assert identity["Arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/app-role/{first}"
        as_role = session.client("ec2", endpoint_url=server.endpoint)
        assert as_role.describe_instances(InstanceIds=[first])["Reservations"]
        denied = session.client("iam", endpoint_url=server.endpoint)
        with pytest.raises(Exception, match="AccessDenied"):
            denied.list_users()

        _, health = containers.exec_run(first, ["curl", "-s", "http://198.51.100.2:4566/_terrarium/health"])
        assert json.loads(health)["account"] == server.account_id, \
            "another Terrarium on this host holds the in-VPC API address 198.51.100.2:4566"
        inside = session.client("sts", endpoint_url="http://198.51.100.2:4566")
        url = inside.generate_presigned_url("get_caller_identity", ExpiresIn=300)
        code, reply = containers.exec_run(first, ["curl", "-s", "-X", "POST", url])
        assert f"assumed-role/app-role/{first}" in reply.decode(), "the API answers inside the region's internet"

        doc = json.loads(imds(first, "/latest/dynamic/instance-identity/document")[1])
        assert doc["instanceId"] == first and doc["accountId"] == server.account_id

        ec2.modify_instance_metadata_options(InstanceId=first, HttpTokens="required")
        assert imds(first, "/latest/meta-data/instance-id")[0] == 401
        assert imds(first, "/latest/meta-data/instance-id", v2_token(first)) == (200, first)
    finally:
        iam.remove_role_from_instance_profile(InstanceProfileName="app-profile", RoleName="app-role")
        iam.delete_instance_profile(InstanceProfileName="app-profile")
        iam.detach_role_policy(RoleName="app-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
        iam.delete_role(RoleName="app-role")


def test_reboot_and_stop_start_keep_disk_and_private_ip(launched):
    ec2, launch = launched
    instance_id = launch()
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    before = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    containers.exec_run(instance_id, ["sh", "-c", "echo kept > /root/marker"])
    started = containers.inspect(instance_id).started_at
    ec2.reboot_instances(InstanceIds=[instance_id])
    deadline = time.monotonic() + 30
    while containers.inspect(instance_id).started_at == started and time.monotonic() < deadline:
        time.sleep(0.5)
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    assert containers.exec_run(instance_id, ["cat", "/root/marker"])[1].strip() == b"kept"
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
    after = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert after["PrivateIpAddress"] == before["PrivateIpAddress"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, out = containers.exec_run(instance_id, ["cat", "/root/marker"])
        if code == 0:
            break
        time.sleep(0.5)
    assert out.strip() == b"kept"
