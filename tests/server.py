"""Start a real `terrarium serve` process for tests and benchmarks, and talk to it with boto3."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    data_dir: Path
    endpoint: str
    access_key: str
    secret_key: str
    account_id: str
    region: str = "us-east-1"

    def client(self, service: str, **overrides):
        params = {"aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key,
                  "region_name": self.region, "endpoint_url": self.endpoint,
                  "config": Config(retries={"max_attempts": 1})}
        params.update(overrides)
        return boto3.client(service, **params)

    def stop(self, *, clean_host: bool = True) -> int:
        """SIGTERM the server; then (by default) remove what it made on the host, so tests leave nothing."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if clean_host:
            subprocess.run([sys.executable, "-m", "runtime", "down", "--data-dir", str(self.data_dir),
                            "--listen", self.endpoint.removeprefix("http://")], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
        return self.process.returncode


def start_server(data_dir: Path, *, port: int | None = None, extra_env: dict | None = None,
                 log_path: Path | None = None) -> Server:
    port = port or free_port()
    listen = f"127.0.0.1:{port}"
    env = {**os.environ, **(extra_env or {})}
    log = open(log_path or data_dir.parent / f"terrarium-{port}.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "runtime", "serve", "--listen", listen,
                                "--data-dir", str(data_dir)], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{listen}/_terrarium/health", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"terrarium did not start; see {log.name}")
        time.sleep(0.1)
    creds = json.loads(subprocess.check_output(
        [sys.executable, "-m", "runtime", "credentials", "--json", "--data-dir", str(data_dir), "--listen", listen],
        cwd=REPO, env=env))
    return Server(process, data_dir, creds["Endpoint"], creds["AccessKeyId"], creds["SecretAccessKey"],
                  creds["AccountId"])
