"""`scripts/demo` builds the AWS Cloud Technical Essentials lab with the aws CLI against a Terrarium started here,
the lab behaves as the demo says (web page from S3 on the public IP, port 8080 stopped by the network ACL, an
upload turned into a thumbnail by Lambda), and `scripts/demo --clean` leaves nothing of it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from runtime.host.docker import containers
from runtime.host.net import naming, netns, realise
from tests.server import REPO, start_server

pytestmark = pytest.mark.host

CLIENT_IP = "203.0.113.20"  # not the EC2 suite's client address, so the two never share a route
# Where this test's server listens for instances: its own address, not the default 198.51.100.2 that another
# Terrarium on the host may hold (the demo is told through TERRARIUM_INSTANCE_ENDPOINT).
INSTANCE_API = "198.51.100.7:4566"
NOT_REACHABLE = "API not reachable from instances"


def until(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)
    return value


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("aws") is None:
        pytest.skip("the aws CLI is not installed")
    base = tmp_path_factory.mktemp("demo")
    home = base / "home"
    home.mkdir()
    server = start_server(base / "data", log_path=base / "server.log",
                          extra_env={"TERRARIUM_INTERNET_ENDPOINT": INSTANCE_API})
    env = {**os.environ, "HOME": str(home), "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
           "TERRARIUM_INSTANCE_ENDPOINT": f"http://{INSTANCE_API}"}
    subprocess.run([sys.executable, "-m", "runtime", "credentials", "--aws-profile", "terrarium", "--data-dir",
                    str(server.data_dir), "--listen", server.endpoint.removeprefix("http://")], cwd=REPO, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    client = realise.ensure_internet_host("tr-x-demotest", CLIENT_IP)
    try:
        yield {"server": server, "env": env, "client": client, "log": base / "server.log"}
    finally:
        subprocess.run([str(REPO / "scripts" / "demo"), "--clean"], env=env, capture_output=True, timeout=600)
        realise.remove_internet_host("tr-x-demotest")
        server.stop()


def demo(lab, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "scripts" / "demo"), *args], env=lab["env"], capture_output=True, text=True,
                          timeout=600)


def summary(stdout: str) -> dict:
    found = {}
    for key, pattern in (("vpc", r"vpc:\s+(vpc-\w+)"), ("instance", r"instance:\s+(i-\w+)"),
                         ("ip", r"public IP (\d+\.\d+\.\d+\.\d+)"), ("bucket", r"bucket:\s+(\S+)"),
                         ("function", r"function:\s+(\S+)"), ("acl", r"network ACL (acl-\w+)")):
        match = re.search(pattern, stdout)
        assert match, f"{key} missing from the demo's summary:\n{stdout}"
        found[key] = match.group(1)
    return found


def curl(lab, url: str, timeout: int = 10) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", lab["client"], "curl", "-sS", "-m", str(timeout), url],
                          capture_output=True, text=True, timeout=timeout + 10)


def test_demo_builds_the_lab_and_clean_removes_it(lab):
    server = lab["server"]
    built = demo(lab, "--ssh-cidr", f"{CLIENT_IP}/32")
    assert built.returncode == 0, built.stderr
    lab_ids = summary(built.stdout)
    assert "FAILED" not in built.stderr and "curl http://" + lab_ids["ip"] in built.stdout

    again = demo(lab)
    assert again.returncode == 2 and "--clean" in again.stderr

    page = until(lambda: (r := curl(lab, f"http://{lab_ids['ip']}/")).stdout and r)
    if NOT_REACHABLE in lab["log"].read_text():
        # another Terrarium on this host holds even this address: the app runs but cannot reach our API
        assert page.stdout.startswith("S3 said:"), page.stdout
    else:
        assert "Hello from Terrarium" in page.stdout, page.stdout
    blocked = curl(lab, f"http://{lab_ids['ip']}:8080/", timeout=3)
    assert blocked.returncode == 28, blocked  # timed out: network ACL rule 90 drops it

    s3 = server.client("s3")
    thumb = s3.get_object(Bucket=lab_ids["bucket"], Key="thumbnails/hello.txt.txt")["Body"].read().decode()
    assert thumb.startswith("thumbnail of uploads/hello.txt") and "A FIRST UPLOAD" in thumb
    s3.put_object(Bucket=lab_ids["bucket"], Key="uploads/mine.txt", Body=b"mine")
    until(lambda: s3.list_objects_v2(Bucket=lab_ids["bucket"], Prefix="thumbnails/mine.txt").get("Contents"))
    if "Hello from Terrarium" in page.stdout:  # the web app serves what the function wrote, with its own role
        served = curl(lab, f"http://{lab_ids['ip']}/thumbnails/mine.txt.txt").stdout
        assert served.startswith("thumbnail of uploads/mine.txt: 4 bytes") and "MINE" in served, served

    net = subprocess.run([sys.executable, "-m", "runtime", "net", lab_ids["vpc"], "--json", "--data-dir",
                          str(server.data_dir)], cwd=REPO, capture_output=True, text=True, timeout=60)
    report = json.loads(net.stdout)
    assert any(r["aws"] == "NACL ingress rule 90 deny 0.0.0.0/0" and "--dport 8080" in r["rule"]
               for r in report["Ruleset"]["Rules"])
    assert containers.container_name(lab_ids["instance"]) in subprocess.run(
        ["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True).stdout

    cleaned = demo(lab, "--clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "demo removed" in cleaned.stdout
    ec2, iam, lam = server.client("ec2"), server.client("iam"), server.client("lambda")
    assert ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["terrarium-demo"]}])["Vpcs"] == []
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["terrarium-demo"]}])["KeyPairs"] == []
    assert lab_ids["bucket"] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == lab_ids["function"]]
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("terrarium-demo")]
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    until(lambda: not netns.exists(naming.vpc_netns(lab_ids["vpc"])))
    until(lambda: containers.container_name(lab_ids["instance"]) not in subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout)
    assert demo(lab, "--clean").returncode == 0  # idempotent
