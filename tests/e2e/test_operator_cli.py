"""`terrarium status`, `ps` and `doctor` read the state a running server keeps, with trustworthy exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.server import REPO


def terrarium(server, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", *args, "--data-dir", str(server.data_dir),
                           "--listen", server.endpoint.removeprefix("http://")], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_status_reports_the_running_server_and_its_resources(server):
    server.client("ec2").create_key_pair(KeyName="status-probe")
    try:
        result = terrarium(server, "status", "--json")
        report = json.loads(result.stdout)
        assert report["serving"] is True and report["account"] == server.account_id
        assert report["resources"].get("ec2.keypair", 0) >= 1
        assert result.returncode == (0 if all(c["ok"] for c in report["host"].values()) else 1)
    finally:
        server.client("ec2").delete_key_pair(KeyName="status-probe")


def test_ps_lists_json(server):
    result = terrarium(server, "ps", "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and set(report) == {"instances", "environments", "invocations"}
    assert all(isinstance(rows, list) for rows in report.values())
