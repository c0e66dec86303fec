"""The AWS EC2 lab, for real: an instance boots from an AMI with user data that starts a web server, a security
group opens port 80, an "internet" host reaches it on its public IP, SSH with the key pair works, and the state
machine (stop, start, poweroff from inside, terminate) is driven by the real container."""

from __future__ import annotations

import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from runtime.host.docker import containers
from runtime.host.net import realise

pytestmark = pytest.mark.host

USER_DATA = """#!/bin/sh
echo hello-from-user-data > /tmp/index.html
cd /tmp && nohup python3 -m http.server 80 >/dev/null 2>&1 &
"""


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def wait_state(ec2, instance_id: str, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        if found["State"]["Name"] == name:
            return found
        assert time.monotonic() < deadline, f"{instance_id} stuck in {found['State']['Name']}, wanted {name}"
        time.sleep(0.5)


def in_internet(namespace: str, *argv: str, timeout: int = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True,
                          timeout=timeout)


def until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.fixture(scope="module")
def internet_host():
    namespace = realise.ensure_internet_host("tr-x-ec2test", "203.0.113.10")
    yield namespace
    realise.remove_internet_host("tr-x-ec2test")


@pytest.fixture(scope="module")
def debian(server):
    images = server.client("ec2").describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    return max(images, key=lambda i: i["CreationDate"])["ImageId"]


def test_the_ec2_lab(server, debian, internet_host, tmp_path):
    ec2 = server.client("ec2")
    key = ec2.create_key_pair(KeyName="lab-key")
    key_file = tmp_path / "lab-key.pem"
    key_file.write_text(key["KeyMaterial"])
    key_file.chmod(0o600)
    vpc_id = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
    web = ec2.create_security_group(GroupName="lab-web", Description="web and ssh", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.10/32"}]}])
    launched = ec2.run_instances(ImageId=debian, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                 KeyName="lab-key", UserData=USER_DATA, SecurityGroupIds=[web],
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": "lab"}]}])
    instance = launched["Instances"][0]
    instance_id = instance["InstanceId"]
    assert instance["State"] == {"Code": 0, "Name": "pending"}
    assert instance_id.startswith("i-") and len(instance_id) == 19
    assert instance["PrivateIpAddress"].startswith("172.31.")
    assert instance["PrivateDnsName"] == f"ip-{instance['PrivateIpAddress'].replace('.', '-')}.ec2.internal"
    try:
        running = wait_state(ec2, instance_id, "running")
        public_ip = running["PublicIpAddress"]
        assert running["PublicDnsName"].startswith("ec2-") and running["Tags"] == [{"Key": "Name", "Value": "lab"}]

        page = until(lambda: in_internet(internet_host, "curl", "-s", "-m", "3", f"http://{public_ip}/index.html")
                     .stdout)
        assert page.strip() == "hello-from-user-data"
        console = ec2.get_console_output(InstanceId=instance_id)["Output"]
        assert "user data finished with exit code 0" in console

        ssh = in_internet(internet_host, "ssh", "-i", str(key_file), "-o", "StrictHostKeyChecking=no",
                          "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes",
                          f"admin@{public_ip}", "curl -s http://169.254.169.254/latest/meta-data/instance-id")
        assert ssh.returncode == 0, ssh.stderr
        assert ssh.stdout.strip() == instance_id

        code, token = containers.exec_run(instance_id, ["curl", "-s", "-X", "PUT",
                                                        "http://169.254.169.254/latest/api/token",
                                                        "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60"])
        code, local_ip = containers.exec_run(instance_id, [
            "curl", "-s", "-H", f"X-aws-ec2-metadata-token: {token.decode()}",
            "http://169.254.169.254/latest/meta-data/local-ipv4"])
        assert local_ip.decode() == running["PrivateIpAddress"]

        ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert until(lambda: in_internet(internet_host, "curl", "-s", "-m", "2",
                                         f"http://{public_ip}/").returncode != 0)

        stopping = ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
        assert stopping["CurrentState"]["Name"] == "stopping"
        stopped = wait_state(ec2, instance_id, "stopped")
        assert "PublicIpAddress" not in stopped and stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
        assert code_of(lambda: ec2.stop_instances(InstanceIds=[instance_id]) and ec2.reboot_instances(
            InstanceIds=["i-00000000000000000"])) == "InvalidInstanceID.NotFound"
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "t3.small"})
        ec2.start_instances(InstanceIds=[instance_id])
        restarted = wait_state(ec2, instance_id, "running")
        assert restarted["InstanceType"] == "t3.small" and restarted["PublicIpAddress"]
        assert restarted["PrivateIpAddress"] == running["PrivateIpAddress"]

        containers.exec_run(instance_id, ["poweroff"])
        after = wait_state(ec2, instance_id, "stopped")
        assert after["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    finally:
        ec2.terminate_instances(InstanceIds=[instance_id])
    gone = wait_state(ec2, instance_id, "terminated")
    assert "PrivateIpAddress" not in gone
    assert not containers.inspect(instance_id).exists
    assert code_of(lambda: ec2.start_instances(InstanceIds=[instance_id])) == "IncorrectInstanceState"
    ec2.delete_security_group(GroupId=web)
    ec2.delete_key_pair(KeyName="lab-key")


def test_launch_errors(server, debian):
    ec2 = server.client("ec2")
    assert code_of(lambda: ec2.run_instances(ImageId="ami-00000000000000000", InstanceType="t2.micro",
                                             MinCount=1, MaxCount=1)) == "InvalidAMIID.NotFound"
    assert code_of(lambda: ec2.run_instances(ImageId="bogus", InstanceType="t2.micro", MinCount=1,
                                             MaxCount=1)) == "InvalidAMIID.Malformed"
    assert code_of(lambda: ec2.run_instances(ImageId=debian, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                             KeyName="no-such-key")) == "InvalidKeyPair.NotFound"
    assert code_of(lambda: ec2.run_instances(ImageId=debian, InstanceType="p4d.24xlarge", MinCount=1,
                                             MaxCount=1)) == "InvalidInstanceType"
    assert code_of(lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])) == \
        "InvalidInstanceID.NotFound"
    assert code_of(lambda: ec2.terminate_instances(InstanceIds=["nope"])) == "InvalidInstanceID.Malformed"
    assert code_of(lambda: ec2.run_instances(ImageId=debian, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                             DryRun=True)) == "DryRunOperation"
