"""kill -9 of a serving Terrarium at any moment loses nothing it acknowledged and leaves a database that opens."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from runtime.host.docker import containers

from tests.server import start_server


def test_kill_9_during_writes_then_restart(tmp_path):
    data = tmp_path / "data"
    server = start_server(data)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        ec2 = server.client("ec2")
        i = 0
        while not stop.is_set():
            try:
                ec2.import_key_pair(KeyName=f"k{i}", PublicKeyMaterial=KEY)
                acknowledged.append(f"k{i}")
            except (ClientError, BotoCoreError):
                return  # the server died under us: this call was not acknowledged
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(1.5)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stop.set()
    thread.join(10)
    assert len(acknowledged) > 5
    with sqlite3.connect(data / "state.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = start_server(data)
    try:
        names = {k["KeyName"] for k in again.client("ec2").describe_key_pairs()["KeyPairs"]}
        assert set(acknowledged) <= names
        assert again.client("sts").get_caller_identity()["Account"] == server.account_id
    finally:
        again.stop()


KEY = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5Cq2xA1Hn0lJ7rQ3sQ0cX0D3Qv0nq0Zs0l3qk7Xy2 test"


@pytest.mark.host
def test_kill_9_right_after_run_instances_resumes_on_restart(tmp_path):
    """The launch was acknowledged, so it must happen: the restarted server brings the instance up; terminating
    it leaves no container behind."""
    data = tmp_path / "data"
    server = start_server(data)
    ec2 = server.client("ec2")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    if not images:
        pytest.skip("no AMI built on this host")
    ami = max(images, key=lambda i: i["CreationDate"])["ImageId"]
    instance_id = ec2.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=1,
                                    MaxCount=1)["Instances"][0]["InstanceId"]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    again = start_server(data)
    try:
        ec2 = again.client("ec2")
        ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
        assert containers.inspect(instance_id).running
        ec2.terminate_instances(InstanceIds=[instance_id])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 1})
        assert not containers.inspect(instance_id).exists
        assert instance_id not in containers.owned_instances()
    finally:
        again.stop()
