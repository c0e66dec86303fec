"""A MinIO that Terrarium starts itself from a `minio` binary on PATH (`TERRARIUM_S3_BACKEND_KIND=minio`, no
URL): it serves the gateway on loopback with keys clients never see, comes back when killed, and stops with
Terrarium. Runs only where a `minio` binary is installed (none can be installed on the build machines)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.e2e.s3_helpers import bucket_name, pid_with_argument, retry_unavailable as retry
from tests.server import start_server

pytestmark = pytest.mark.skipif(shutil.which("minio") is None, reason="no `minio` binary on PATH")


def minio_pid(data_dir: Path) -> int:
    return pid_with_argument(str(data_dir / "s3backend-minio" / "data"))


def test_terrarium_runs_minio_restarts_it_and_stops_it(tmp_path):
    running = start_server(tmp_path / "data", log_path=tmp_path / "server.log",
                           extra_env={"TERRARIUM_S3_BACKEND_KIND": "minio"})
    try:
        s3 = running.client("s3")
        bucket = bucket_name()
        retry(lambda: s3.create_bucket(Bucket=bucket))
        s3.put_object(Bucket=bucket, Key="dir/kept", Body=b"kept")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/kept"]
        assert not (running.data_dir / "s3backend").exists()  # no SeaweedFS beside it
        ports = json.loads((running.data_dir / "s3backend-minio" / "ports.json").read_text())
        pid = minio_pid(running.data_dir)
        listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
        ours = [line.split()[3] for line in listening.splitlines() if f"pid={pid}," in line]
        assert ours and all(address.startswith("127.0.0.1:") for address in ours), ours
        assert f"127.0.0.1:{ports['api']}" in ours
        os.kill(pid, signal.SIGKILL)
        assert retry(lambda: s3.get_object(Bucket=bucket, Key="dir/kept"))["Body"].read() == b"kept"
        assert minio_pid(running.data_dir) != pid
        s3.delete_object(Bucket=bucket, Key="dir/kept")
        s3.delete_bucket(Bucket=bucket)
        pid = minio_pid(running.data_dir)
    finally:
        running.stop()
    assert not Path(f"/proc/{pid}").exists(), "MinIO stops with Terrarium"
