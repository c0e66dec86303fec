"""API latency and throughput: Terrarium vs moto_server, the same boto3 client code against each.

Runs `sts get-caller-identity` and `ec2 describe-availability-zones` sequentially (latency) and from
several client threads at once (throughput), against a Terrarium process and a moto_server process started
here on loopback. Prints a table; the ratio column is Terrarium / moto (lower latency and higher
throughput are better).

    .venv/bin/python bench/api.py [--requests 500] [--threads 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server import free_port, start_server  # noqa: E402

CALLS = {
    "sts get-caller-identity": ("sts", lambda c: c.get_caller_identity()),
    "ec2 describe-availability-zones": ("ec2", lambda c: c.describe_availability_zones()),
}


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    process = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def client(service, endpoint, key, secret):
    return boto3.client(service, endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1},
                                                               max_pool_connections=64))


def latency(call, c, n: int) -> list[float]:
    for _ in range(20):
        call(c)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call(c)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def throughput(call, make_client, n: int, threads: int) -> float:
    clients = [make_client() for _ in range(threads)]
    per_thread = n // threads

    def work(c):
        for _ in range(per_thread):
            call(c)

    workers = [threading.Thread(target=work, args=(c,)) for c in clients]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - start)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tr-bench-"))
    terrarium = start_server(workdir / "data", log_path=workdir / "server.log")
    moto, moto_url = start_moto()
    targets = {"terrarium": (terrarium.endpoint, terrarium.access_key, terrarium.secret_key),
               "moto": (moto_url, "testing", "testing")}
    try:
        rows = []
        for label, (service, call) in CALLS.items():
            measured = {}
            for name, (endpoint, key, secret) in targets.items():
                samples = latency(call, client(service, endpoint, key, secret), args.requests)
                rps = throughput(call, lambda: client(service, endpoint, key, secret), args.requests, args.threads)
                measured[name] = (statistics.median(samples), p99(samples), rps)
            t, m = measured["terrarium"], measured["moto"]
            rows.append((label, t, m))
        print(f"\n{args.requests} sequential calls (latency, ms) and {args.requests} calls from {args.threads} "
              f"threads (throughput, req/s); boto3 {boto3.__version__}\n")
        print(f"| call | Terrarium p50 | p99 | req/s | moto p50 | p99 | req/s | p50 ratio | req/s ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for label, t, m in rows:
            print(f"| {label} | {t[0]:.2f} | {t[1]:.2f} | {t[2]:.0f} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.0f} | "
                  f"{t[0] / m[0]:.2f}x | {t[2] / m[2]:.2f}x |")
    finally:
        terrarium.stop()
        moto.terminate()
        moto.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
