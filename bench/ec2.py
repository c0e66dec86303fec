"""EC2: time to `running` and to SSH accepting, a burst of instances, idle memory, DescribeInstances at scale,
and API latency against moto_server (which runs nothing, so it bounds Terrarium's API overhead).

    .venv/bin/python bench/ec2.py [--launches 10] [--burst 20] [--describe 1000]

Needs root, Docker and the debian-12 AMI. Traffic stays on loopback and in namespaces this script makes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.api import start_moto  # noqa: E402
from runtime.host.docker import containers  # noqa: E402
from runtime.host.net import realise  # noqa: E402
from runtime.state import SqliteStore  # noqa: E402
from tests.server import start_server  # noqa: E402

PROBE = """
import socket, sys, time
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with socket.create_connection((sys.argv[1], 22), timeout=0.5) as s:
            if s.recv(8).startswith(b"SSH-"):
                sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] if len(samples) > 1 else samples[0]


def wait_running(ec2, ids: list[str]) -> None:
    pending = set(ids)
    while pending:
        found = ec2.describe_instances(InstanceIds=list(pending))["Reservations"]
        for reservation in found:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] == "running":
                    pending.discard(instance["InstanceId"])
        if pending:
            time.sleep(0.05)


def cgroup_memory(instance_id: str) -> int:
    full = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", containers.container_name(instance_id)],
                          capture_output=True, text=True).stdout.strip()
    for path in (f"/sys/fs/cgroup/memory/docker/{full}/memory.usage_in_bytes",
                 f"/sys/fs/cgroup/system.slice/docker-{full}.scope/memory.current"):
        if Path(path).exists():
            return int(Path(path).read_text())
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--launches", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--describe", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tr-bench-ec2-"))
    server = start_server(work / "data", log_path=work / "server.log")
    moto, moto_url = start_moto()
    inet = realise.ensure_internet_host("tr-x-bench", "203.0.113.10")
    rows = []
    try:
        ec2 = server.client("ec2")
        ami = max(ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"],
                  key=lambda i: i["CreationDate"])["ImageId"]
        vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
        sg = ec2.create_security_group(GroupName="bench-ssh", Description="ssh", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        to_running, to_ssh, api = [], [], []
        for _ in range(args.launches):
            start = time.perf_counter()
            launched = ec2.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                                         SecurityGroupIds=[sg])["Instances"][0]
            api.append((time.perf_counter() - start) * 1000)
            wait_running(ec2, [launched["InstanceId"]])
            to_running.append(time.perf_counter() - start)
            ip = ec2.describe_instances(InstanceIds=[launched["InstanceId"]])["Reservations"][0]["Instances"][0][
                "PublicIpAddress"]
            subprocess.run(["ip", "netns", "exec", inet, sys.executable, "-c", PROBE, ip], check=True)
            to_ssh.append(time.perf_counter() - start)
            ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])
        rows.append(("RunInstances API call (ms)", statistics.median(api), pct(api, 99), ""))
        rows.append(("launch -> running (s)", statistics.median(to_running), pct(to_running, 99), "goal p50 <= 1 s"))
        rows.append(("launch -> SSH banner (s)", statistics.median(to_ssh), pct(to_ssh, 99), "goal p50 <= 3 s"))

        start = time.perf_counter()
        burst = [i["InstanceId"] for i in ec2.run_instances(ImageId=ami, InstanceType="t3.nano", MinCount=args.burst,
                                                             MaxCount=args.burst)["Instances"]]
        wait_running(ec2, burst)
        burst_s = time.perf_counter() - start
        time.sleep(5)
        memory = [cgroup_memory(i) / 2**20 for i in burst]
        rows.append((f"{args.burst} t3.nano at once -> all running (s)", burst_s, burst_s, ""))
        rows.append(("idle instance memory (MiB)", statistics.median(memory), max(memory), "goal <= 30 MB"))
        ec2.terminate_instances(InstanceIds=burst)

        server.stop(clean_host=False)
        with SqliteStore(work / "data" / "state.db") as store:
            template = store.get("ec2.instance", burst[0])
            with store.transaction():
                for n in range(args.describe):
                    store.put("ec2.instance", f"i-{n:017x}", template.account,
                              {**template.spec, "DesiredState": "terminated"})
                    store.update_status("ec2.instance", f"i-{n:017x}", {"State": "terminated",
                                                                       "TerminatedAt": time.time()})
        server = start_server(work / "data", log_path=work / "server2.log")
        ec2 = server.client("ec2")
        moto_ec2 = boto3.client("ec2", endpoint_url=moto_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        moto_ami = moto_ec2.describe_images()["Images"][0]["ImageId"]
        for n in range(0, args.describe, 100):
            moto_ec2.run_instances(ImageId=moto_ami, InstanceType="t3.nano", MinCount=100, MaxCount=100)
        for label, client in (("Terrarium", ec2), ("moto", moto_ec2)):
            samples = []
            for _ in range(5):
                start = time.perf_counter()
                pages = client.get_paginator("describe_instances").paginate()
                count = sum(len(r["Instances"]) for page in pages for r in page["Reservations"])
                samples.append((time.perf_counter() - start) * 1000)
            rows.append((f"DescribeInstances, {count} records, {label} (ms)", statistics.median(samples),
                         max(samples), ""))
        samples = {"Terrarium": [], "moto": []}
        for label, client, image in (("Terrarium", ec2, ami), ("moto", moto_ec2, moto_ami)):
            for _ in range(20):
                start = time.perf_counter()
                client.run_instances(ImageId=image, InstanceType="t3.nano", MinCount=1, MaxCount=1)
                samples[label].append((time.perf_counter() - start) * 1000)
        ours, theirs = statistics.median(samples["Terrarium"]), statistics.median(samples["moto"])
        rows.append(("RunInstances API, Terrarium vs moto (ms, p50)", ours, theirs, f"ratio {ours / theirs:.2f}x"))
    finally:
        server.stop()
        moto.terminate()
        realise.remove_internet_host("tr-x-bench")
        shutil.rmtree(work, ignore_errors=True)
    print("\n| measure | p50 / value | p99 / max | note |\n|---|---|---|---|")
    for label, p50, p99, note in rows:
        print(f"| {label} | {p50:.3f} | {p99:.3f} | {note} |")


if __name__ == "__main__":
    main()
