"""S3 through Terrarium's gateway vs straight to its backend vs moto_server: one boto3 client code, one run.

For each target: sequential 4 KiB PutObject then GetObject (p50/p99 after a warm-up), then a large object
(default 256 MiB) put and got `--rounds` times (MB/s, median), while the Terrarium process's RSS is sampled
every 10 ms. "direct" talks to the embedded SeaweedFS with its own keys, bypassing the gateway, so the
gateway's cost is the difference. Goals (issue 8): gateway p50 <= 1.3x direct, large-object throughput >=
80% of direct, gateway RSS growth < 64 MB.

    .venv/bin/python bench/s3.py [--requests 300] [--large-mib 256] [--rounds 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.api import start_moto  # noqa: E402
from tests.server import start_server  # noqa: E402

SMALL = 4096


def client(endpoint: str, key: str, secret: str):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Peak RSS of a process while a block runs."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.base = rss_kib(pid) if pid else 0
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self):
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.pid:
            self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1024


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_target(s3, bucket: str, requests: int, large: bytes, rounds: int, pid: int | None) -> dict:
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(SMALL)
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"warm{i}", Body=body)
        s3.get_object(Bucket=bucket, Key=f"warm{i}")["Body"].read()
    puts, gets = [], []
    for i in range(requests):
        start = time.perf_counter()
        s3.put_object(Bucket=bucket, Key=f"small{i}", Body=body)
        puts.append((time.perf_counter() - start) * 1000)
    for i in range(requests):
        start = time.perf_counter()
        s3.get_object(Bucket=bucket, Key=f"small{i}")["Body"].read()
        gets.append((time.perf_counter() - start) * 1000)
    digest = hashlib.md5(large).hexdigest()
    put_rates, get_rates = [], []
    with RssSampler(pid) as rss:
        for _ in range(rounds):
            start = time.perf_counter()
            s3.put_object(Bucket=bucket, Key="large", Body=large)
            put_rates.append(len(large) / 2**20 / (time.perf_counter() - start))
            start = time.perf_counter()
            reply = s3.get_object(Bucket=bucket, Key="large")["Body"]
            hasher = hashlib.md5()
            for chunk in iter(lambda: reply.read(1 << 20), b""):
                hasher.update(chunk)
            get_rates.append(len(large) / 2**20 / (time.perf_counter() - start))
            assert hasher.hexdigest() == digest
    return {"put_p50": statistics.median(puts), "put_p99": percentile(puts, 99),
            "get_p50": statistics.median(gets), "get_p99": percentile(gets, 99),
            "put_mbs": statistics.median(put_rates), "get_mbs": statistics.median(get_rates),
            "rss_growth_mb": rss.growth_mb if pid else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-moto", action="store_true")
    args = parser.parse_args()
    large = os.urandom(args.large_mib * 2**20)
    base = Path(tempfile.mkdtemp(prefix="tr-bench-s3-"))
    server = start_server(base / "data", log_path=base / "server.log")
    results = {}
    moto = None
    try:
        gateway = server.client("s3")
        gateway.create_bucket(Bucket="tr-bench-warm")  # waits for the backend
        gateway.delete_bucket(Bucket="tr-bench-warm")
        backend_dir = server.data_dir / "s3backend"
        ports = json.loads((backend_dir / "ports.json").read_text())
        identity = json.loads((backend_dir / "identity.json").read_text())
        direct = client(f"http://127.0.0.1:{ports['s3']}", identity["accessKey"], identity["secretKey"])
        pid = server.process.pid
        results["Terrarium gateway"] = run_target(gateway, "bench-gateway", args.requests, large, args.rounds, pid)
        results["SeaweedFS direct"] = run_target(direct, "tr-bench-direct", args.requests, large, args.rounds, None)
        if not args.no_moto:
            moto, endpoint = start_moto()
            results["moto_server"] = run_target(client(endpoint, "a", "b"), "bench-moto", args.requests, large,
                                                args.rounds, moto.pid)
    finally:
        server.stop()
        if moto is not None:
            moto.kill()
            moto.wait()
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{args.requests} sequential 4 KiB ops after 20 warm-ups; {args.large_mib} MiB object x{args.rounds} "
          f"(median MB/s); RSS growth = peak during the large transfers minus before\n")
    print("| target | PUT 4 KiB p50 / p99 ms | GET 4 KiB p50 / p99 ms | large PUT MB/s | large GET MB/s | "
          "server RSS growth MB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        rss = f"{r['rss_growth_mb']:.1f}" if r["rss_growth_mb"] is not None else "n/a"
        print(f"| {name} | {r['put_p50']:.2f} / {r['put_p99']:.2f} | {r['get_p50']:.2f} / {r['get_p99']:.2f} | "
              f"{r['put_mbs']:.0f} | {r['get_mbs']:.0f} | {rss} |")
    g, d = results["Terrarium gateway"], results["SeaweedFS direct"]
    print(f"\ngateway / direct: PUT p50 {g['put_p50'] / d['put_p50']:.2f}x, GET p50 {g['get_p50'] / d['get_p50']:.2f}x"
          f" (goal <= 1.3x); large PUT {100 * g['put_mbs'] / d['put_mbs']:.0f}%, GET "
          f"{100 * g['get_mbs'] / d['get_mbs']:.0f}% of direct (goal >= 80%); RSS growth {g['rss_growth_mb']:.1f} MB "
          f"(goal < 64)")


if __name__ == "__main__":
    main()
