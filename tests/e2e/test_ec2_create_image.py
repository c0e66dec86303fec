"""AMIs from instances: CreateImage commits a configured instance, an instance launched from the new AMI has the
change; CopyImage makes another AMI over the same filesystem; DeregisterImage removes the AMI and, once no
instance uses it, its Docker image."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from runtime.host.docker import amis, containers

pytestmark = pytest.mark.host

FAST = {"Delay": 1, "MaxAttempts": 90}


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def debian(server):
    images = server.client("ec2").describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    return max(images, key=lambda i: i["CreationDate"])["ImageId"]


@pytest.fixture
def made(server):
    """Instances and images a test made, removed even when it fails."""
    ec2 = server.client("ec2")
    found = {"instances": [], "images": []}
    yield found
    if found["instances"]:
        ec2.terminate_instances(InstanceIds=found["instances"])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=found["instances"], WaiterConfig=FAST)
    for image_id in found["images"]:
        try:
            ec2.deregister_image(ImageId=image_id)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidAMIID.NotFound"
    deadline = time.monotonic() + 90
    while any(amis.size(amis.reference(i)) is not None for i in found["images"]):
        assert time.monotonic() < deadline, "AMI images were not removed"
        time.sleep(1)


def test_image_of_a_configured_instance_launches_with_the_change(server, debian, made):
    ec2 = server.client("ec2")
    first = ec2.run_instances(ImageId=debian, InstanceType="t3.nano", MinCount=1, MaxCount=1)["Instances"][0]
    made["instances"].append(first["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[first["InstanceId"]], WaiterConfig=FAST)
    code, _ = containers.exec_run(first["InstanceId"], ["sh", "-c", "echo configured > /etc/terrarium-marker"])
    assert code == 0

    assert code_of(lambda: ec2.create_image(InstanceId=first["InstanceId"],
                                            Name="bad*name")) == "InvalidAMIName.Malformed"
    assert code_of(lambda: ec2.create_image(InstanceId="i-00000000000000000",
                                            Name="web-server")) == "InvalidInstanceID.NotFound"
    image_id = ec2.create_image(InstanceId=first["InstanceId"], Name="web-server (v1)",
                                Description="configured")["ImageId"]
    made["images"].append(image_id)
    assert code_of(lambda: ec2.create_image(InstanceId=first["InstanceId"],
                                            Name="web-server (v1)")) == "InvalidAMIName.Duplicate"
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=FAST)
    mine = ec2.describe_images(Owners=["self"])["Images"]
    assert [i["ImageId"] for i in mine] == [image_id]
    assert mine[0]["OwnerId"] == server.account_id and mine[0]["Public"] is False
    assert mine[0]["Name"] == "web-server (v1)" and mine[0]["State"] == "available"

    second = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)["Instances"][0]
    made["instances"].append(second["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[second["InstanceId"]], WaiterConfig=FAST)
    code, out = containers.exec_run(second["InstanceId"], ["cat", "/etc/terrarium-marker"])
    assert (code, out.strip()) == (0, b"configured")
    assert ec2.describe_instances(InstanceIds=[second["InstanceId"]])["Reservations"][0]["Instances"][0][
        "ImageId"] == image_id

    copy_id = ec2.copy_image(SourceImageId=image_id, SourceRegion="us-east-1", Name="web-server copy")["ImageId"]
    made["images"].append(copy_id)
    ec2.get_waiter("image_available").wait(ImageIds=[copy_id], WaiterConfig=FAST)
    ec2.deregister_image(ImageId=image_id)
    assert code_of(lambda: ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1,
                                             MaxCount=1)) == "InvalidAMIID.NotFound"
    third = ec2.run_instances(ImageId=copy_id, InstanceType="t3.nano", MinCount=1, MaxCount=1)["Instances"][0]
    made["instances"].append(third["InstanceId"])
    ec2.get_waiter("instance_running").wait(InstanceIds=[third["InstanceId"]], WaiterConfig=FAST)
    code, out = containers.exec_run(third["InstanceId"], ["cat", "/etc/terrarium-marker"])
    assert (code, out.strip()) == (0, b"configured")
    assert amis.size(amis.reference(image_id)) is not None, "removed while an instance still uses it"
