"""EBS for real: a volume is a sparse ext4 file behind a loop device that appears inside the instance at the
device name asked for; data written through it in one instance is read in another after detach and re-attach,
and survives as a snapshot and a volume made from it."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from runtime.errors import TerrariumError
from runtime.host import block
from runtime.host.docker import containers
from tests.server import start_server

pytestmark = pytest.mark.host

FAST = {"Delay": 1, "MaxAttempts": 60}


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def wait_running(ec2, instance_id: str) -> None:
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=FAST)


def sh(instance_id: str, script: str) -> str:
    code, out = containers.exec_run(instance_id, ["sh", "-c", script])
    assert code == 0, out
    return out.decode()


def has_block_device(instance_id: str, device: str) -> bool:
    """Whether `device` is a block device in the instance now (False while its container restarts)."""
    try:
        return containers.exec_run(instance_id, ["test", "-b", device])[0] == 0
    except TerrariumError:
        return False


def attachment(ec2, volume_id: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        found = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["Attachments"]
        if found and found[0]["State"] == "attached":
            return found[0]
        assert time.monotonic() < deadline, found
        time.sleep(0.5)


@pytest.fixture(scope="module")
def debian(server):
    images = server.client("ec2").describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    return max(images, key=lambda i: i["CreationDate"])["ImageId"]


@pytest.fixture
def cleanup(server):
    """Collects what a test made and removes it even when the test fails."""
    ec2 = server.client("ec2")
    made = {"instances": [], "volumes": [], "snapshots": []}
    yield made
    if made["instances"]:
        ec2.terminate_instances(InstanceIds=made["instances"])
    for volume_id in made["volumes"]:
        try:
            if ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "in-use":
                ec2.detach_volume(VolumeId=volume_id, Force=True)
                ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
            ec2.delete_volume(VolumeId=volume_id)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidVolume.NotFound"
    for snapshot_id in made["snapshots"]:
        try:
            ec2.delete_snapshot(SnapshotId=snapshot_id)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidSnapshot.NotFound"
    if made["instances"]:
        ec2.get_waiter("instance_terminated").wait(InstanceIds=made["instances"], WaiterConfig=FAST)
    deadline = time.monotonic() + 30
    while block.loops_under(block.store_dir(server.data_dir)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not block.loops_under(block.store_dir(server.data_dir))


def test_volume_errors(server):
    ec2 = server.client("ec2")
    assert code_of(lambda: ec2.create_volume(AvailabilityZone="us-east-1z", Size=1)) == "InvalidParameterValue"
    assert code_of(lambda: ec2.create_volume(AvailabilityZone="us-east-1a", Size=16385,
                                             VolumeType="gp2")) == "InvalidParameterValue"
    assert code_of(lambda: ec2.create_volume(AvailabilityZone="us-east-1a")) == "MissingParameter"
    assert code_of(lambda: ec2.describe_volumes(VolumeIds=["vol-00000000000000000"])) == "InvalidVolume.NotFound"
    assert code_of(lambda: ec2.delete_snapshot(SnapshotId="snap-00000000000000000")) == "InvalidSnapshot.NotFound"


def test_volume_moves_between_instances_and_snapshots(server, debian, cleanup):
    ec2 = server.client("ec2")
    launched = ec2.run_instances(ImageId=debian, InstanceType="t3.nano", MinCount=2, MaxCount=2,
                                 Placement={"AvailabilityZone": "us-east-1a"})["Instances"]
    first, second = (i["InstanceId"] for i in launched)
    cleanup["instances"] += [first, second]
    created = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, VolumeType="gp3",
                                TagSpecifications=[{"ResourceType": "volume",
                                                    "Tags": [{"Key": "Name", "Value": "data"}]}])
    volume_id = created["VolumeId"]
    cleanup["volumes"].append(volume_id)
    assert created["State"] == "creating" and created["Size"] == 1 and created["Iops"] == 3000
    elsewhere = ec2.create_volume(AvailabilityZone="us-east-1b", Size=1)["VolumeId"]
    cleanup["volumes"].append(elsewhere)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id, elsewhere], WaiterConfig=FAST)
    wait_running(ec2, first)
    wait_running(ec2, second)

    assert code_of(lambda: ec2.attach_volume(VolumeId=elsewhere, InstanceId=first,
                                             Device="/dev/sdf")) == "InvalidVolume.ZoneMismatch"
    assert code_of(lambda: ec2.detach_volume(VolumeId=volume_id)) == "IncorrectState"
    answer = ec2.attach_volume(VolumeId=volume_id, InstanceId=first, Device="/dev/sdf")
    assert answer["State"] == "attaching" and answer["Device"] == "/dev/sdf"
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    assert attachment(ec2, volume_id)["InstanceId"] == first
    assert code_of(lambda: ec2.attach_volume(VolumeId=volume_id, InstanceId=second,
                                             Device="/dev/sdg")) == "VolumeInUse"
    assert code_of(lambda: ec2.delete_volume(VolumeId=volume_id)) == "VolumeInUse"
    assert "ext4" in sh(first, "blkid /dev/sdf")
    sh(first, "echo written-in-first > /tmp/payload && debugfs -w -R 'write /tmp/payload hello.txt' /dev/sdf")

    assert ec2.detach_volume(VolumeId=volume_id)["State"] == "detaching"
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    assert sh(first, "test -e /dev/sdf && echo present || echo gone").strip() == "gone"

    ec2.stop_instances(InstanceIds=[second])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[second], WaiterConfig=FAST)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=second, Device="/dev/sdh")
    assert attachment(ec2, volume_id)["InstanceId"] == second
    ec2.start_instances(InstanceIds=[second])
    wait_running(ec2, second)
    deadline = time.monotonic() + 30
    while not has_block_device(second, "/dev/sdh"):
        assert time.monotonic() < deadline, "/dev/sdh did not appear after start"
        time.sleep(0.5)
    assert sh(second, "debugfs -R 'cat hello.txt' /dev/sdh 2>/dev/null").strip() == "written-in-first"
    booted = containers.inspect(second).started_at
    ec2.reboot_instances(InstanceIds=[second])
    deadline = time.monotonic() + 30
    while containers.inspect(second).started_at == booted or \
            not has_block_device(second, "/dev/sdh"):
        assert time.monotonic() < deadline, "/dev/sdh did not come back after a reboot"
        time.sleep(0.5)
    assert sh(second, "debugfs -R 'cat hello.txt' /dev/sdh 2>/dev/null").strip() == "written-in-first"

    snapshot = ec2.create_snapshot(VolumeId=volume_id, Description="after the move")
    cleanup["snapshots"].append(snapshot["SnapshotId"])
    assert snapshot["State"] == "pending" and snapshot["VolumeSize"] == 1
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot["SnapshotId"]], WaiterConfig=FAST)
    described = ec2.describe_snapshots(SnapshotIds=[snapshot["SnapshotId"]])["Snapshots"][0]
    assert described["Progress"] == "100%" and described["VolumeId"] == volume_id
    restored = ec2.create_volume(AvailabilityZone="us-east-1a", SnapshotId=snapshot["SnapshotId"])
    cleanup["volumes"].append(restored["VolumeId"])
    assert restored["Size"] == 1 and restored["SnapshotId"] == snapshot["SnapshotId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig=FAST)
    ec2.attach_volume(VolumeId=restored["VolumeId"], InstanceId=first, Device="/dev/sdg")
    attachment(ec2, restored["VolumeId"])
    assert sh(first, "debugfs -R 'cat hello.txt' /dev/sdg 2>/dev/null").strip() == "written-in-first"

    on_second = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [second]}])["Volumes"]
    by_device = {v["Attachments"][0]["Device"]: v for v in on_second}
    assert set(by_device) == {"/dev/xvda", "/dev/sdh"}
    assert by_device["/dev/sdh"]["VolumeId"] == volume_id
    assert by_device["/dev/sdh"]["Tags"] == [{"Key": "Name", "Value": "data"}]
    root = by_device["/dev/xvda"]
    assert root["State"] == "in-use" and root["Attachments"][0]["DeleteOnTermination"] is True
    described = ec2.describe_instances(InstanceIds=[second])["Reservations"][0]["Instances"][0]
    assert described["BlockDeviceMappings"][0]["Ebs"]["VolumeId"] == root["VolumeId"]
    assert code_of(lambda: ec2.detach_volume(VolumeId=root["VolumeId"])) == "IncorrectState"
    assert code_of(lambda: ec2.delete_volume(VolumeId=root["VolumeId"])) == "VolumeInUse"

    ec2.terminate_instances(InstanceIds=[second])
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
    deadline = time.monotonic() + 30
    while ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [root["VolumeId"]]}])["Volumes"]:
        assert time.monotonic() < deadline, "the root volume outlived its instance"
        time.sleep(0.5)


def test_attached_volume_survives_a_server_restart_and_lost_loop_devices(tmp_path):
    """The server stops (instance and container stay), the host loses its loop devices (as a host reboot would);
    the restarted server sets the loop device up again and the instance reads what it wrote before."""
    data = tmp_path / "data"
    server = start_server(data, log_path=tmp_path / "first.log")
    volumes = block.store_dir(data)
    instance_id = volume_id = None
    try:
        ec2 = server.client("ec2")
        image = max(ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"],
                    key=lambda i: i["CreationDate"])["ImageId"]
        instance_id = ec2.run_instances(ImageId=image, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                                        Placement={"AvailabilityZone": "us-east-1a"})["Instances"][0]["InstanceId"]
        volume_id = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
        wait_running(ec2, instance_id)
        ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
        attachment(ec2, volume_id)
        sh(instance_id, "echo before-restart > /tmp/p && debugfs -w -R 'write /tmp/p kept.txt' /dev/sdf")
        server.stop(clean_host=False)
        block.remove_loop(block.file_for(data, volume_id))
        assert not block.loops_under(volumes)

        server = start_server(data, log_path=tmp_path / "second.log")
        ec2 = server.client("ec2")
        deadline = time.monotonic() + 60
        while not block.loops_under(volumes) or not has_block_device(instance_id, "/dev/sdf"):
            assert time.monotonic() < deadline, "the volume was not attached again after the restart"
            time.sleep(0.5)
        assert sh(instance_id, "debugfs -R 'cat kept.txt' /dev/sdf 2>/dev/null").strip() == "before-restart"
        assert ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"] == "in-use"
        ec2.terminate_instances(InstanceIds=[instance_id])
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=FAST)
        ec2.delete_volume(VolumeId=volume_id)
        deadline = time.monotonic() + 30
        while block.loops_under(volumes) or block.file_for(data, volume_id).exists():
            assert time.monotonic() < deadline, "the volume's loop device or file was left behind"
            time.sleep(0.5)
    finally:
        server.stop()
        for path in block.loops_under(volumes):
            block.remove_loop(path)
