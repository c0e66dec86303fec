"""S3 through Terrarium's gateway vs straight to its backend vs moto_server: one boto3 client code, one run.

For each target: sequential 4 KiB PutObject then GetObject (p50/p99 after a warm-up; the targets take turns
op by op, so load from elsewhere on the machine falls on all of them alike), then a large object
(default 256 MiB) put and got `--rounds` times (MB/s, median), while the Terrarium process's RSS is sampled
every 10 ms. "direct" talks to the embedded SeaweedFS with its own keys, bypassing the gateway, so the
gateway's cost is the difference. "floor" (small ops only) is the thinnest proxy Terrarium's stack allows: an
aiohttp server that forwards each request through the gateway's own backend client, without authentication,
parsing, authorisation or bookkeeping; what any aiohttp gateway costs on this machine before doing any work.
Goals (issue 8): gateway p50 <= 1.3x direct, large-object throughput >= 80% of direct, gateway RSS growth
< 64 MB.

    .venv/bin/python bench/s3.py [--requests 300] [--large-mib 256] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.api import start_moto  # noqa: E402
from tests.server import free_port, start_server  # noqa: E402

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


def small_ops(targets: dict[str, tuple], requests: int) -> dict[str, dict]:
    """Sequential 4 KiB PUTs, then GETs, interleaved across the targets op by op (the order rotating), so a
    burst of load from elsewhere on the machine hits every target alike instead of whichever ran then."""
    body = os.urandom(SMALL)
    for s3, bucket in targets.values():
        s3.create_bucket(Bucket=bucket)
        for i in range(20):
            s3.put_object(Bucket=bucket, Key=f"warm{i}", Body=body)
            s3.get_object(Bucket=bucket, Key=f"warm{i}")["Body"].read()
    names = list(targets)
    times = {name: {"put": [], "get": []} for name in names}
    for kind in ("put", "get"):
        for i in range(requests):
            for name in names[i % len(names):] + names[:i % len(names)]:
                s3, bucket = targets[name]
                start = time.perf_counter()
                if kind == "put":
                    s3.put_object(Bucket=bucket, Key=f"small{i}", Body=body)
                else:
                    s3.get_object(Bucket=bucket, Key=f"small{i}")["Body"].read()
                times[name][kind].append((time.perf_counter() - start) * 1000)
    return {name: {"put_p50": statistics.median(t["put"]), "put_p99": percentile(t["put"], 99),
                   "get_p50": statistics.median(t["get"]), "get_p99": percentile(t["get"], 99)}
            for name, t in times.items()}


def large_object(s3, bucket: str, large: bytes, rounds: int, pid: int | None) -> dict:
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
    return {"put_mbs": statistics.median(put_rates), "get_mbs": statistics.median(get_rates),
            "rss_growth_mb": rss.growth_mb if pid else None}


def serve_floor(backend_url: str, key: str, secret: str, port: int) -> None:
    """The floor proxy (see the module docstring), until killed."""
    from aiohttp import web

    from runtime.host.s3backend.client import Backend, BackendEndpoint

    forwarded = {"content-length", "content-type", "x-amz-checksum-crc32"}
    answered = {"etag", "content-type", "last-modified", "x-amz-version-id"}

    async def main() -> None:
        backend = Backend(BackendEndpoint(backend_url, key, secret))

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            bucket, _, name = request.match_info["tail"].partition("/")
            reply = await backend.request(request.method, bucket, name or None, list(request.query.items()),
                                          {k: v for k, v in request.headers.items() if k.lower() in forwarded},
                                          body or None)
            data = await reply.read()
            return web.Response(status=reply.status, body=data,
                                headers={k: v for k, v in reply.headers.items() if k.lower() in answered})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def start_floor(backend_url: str, key: str, secret: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    spec = json.dumps({"url": backend_url, "key": key, "secret": secret, "port": port})  # a secret may start "-"
    process = subprocess.Popen([sys.executable, __file__, "--floor-proxy", spec])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the floor proxy exited")
        try:
            client(f"http://127.0.0.1:{port}", "a", "b").list_objects_v2(Bucket="tr-floor-probe")
        except Exception as error:  # the backend's NoSuchBucket, relayed, means the proxy is up
            if "NoSuchBucket" in str(error):
                break
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--floor-proxy", help=argparse.SUPPRESS)  # internal: run the floor proxy (JSON spec)
    args = parser.parse_args()
    if args.floor_proxy:
        spec = json.loads(args.floor_proxy)
        serve_floor(spec["url"], spec["key"], spec["secret"], spec["port"])
        return
    large = os.urandom(args.large_mib * 2**20)
    base = Path(tempfile.mkdtemp(prefix="tr-bench-s3-"))
    server = start_server(base / "data", log_path=base / "server.log")
    results = {}
    moto = floor = None
    try:
        gateway = server.client("s3")
        gateway.create_bucket(Bucket="tr-bench-warm")  # waits for the backend
        gateway.delete_bucket(Bucket="tr-bench-warm")
        backend_dir = server.data_dir / "s3backend"
        ports = json.loads((backend_dir / "ports.json").read_text())
        identity = json.loads((backend_dir / "identity.json").read_text())
        backend_url = f"http://127.0.0.1:{ports['s3']}"
        direct = client(backend_url, identity["accessKey"], identity["secretKey"])
        floor, floor_url = start_floor(backend_url, identity["accessKey"], identity["secretKey"])
        pid = server.process.pid
        targets = {"Terrarium gateway": (gateway, "bench-gateway"), "SeaweedFS direct": (direct, "tr-bench-direct"),
                   "floor: bare aiohttp proxy": (client(floor_url, "a", "b"), "tr-bench-floor")}
        pids = {"Terrarium gateway": pid, "SeaweedFS direct": None}
        if not args.no_moto:
            moto, endpoint = start_moto()
            targets["moto_server"] = (client(endpoint, "a", "b"), "bench-moto")
            pids["moto_server"] = moto.pid
        results = small_ops(targets, args.requests)
        for name, (s3, bucket) in targets.items():
            if name in pids:
                results[name].update(large_object(s3, bucket, large, args.rounds, pids[name]))
    finally:
        if floor is not None:
            floor.kill()
            floor.wait()
        server.stop()
        if moto is not None:
            moto.kill()
            moto.wait()
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{args.requests} sequential 4 KiB ops per target after 20 warm-ups, interleaved across targets; "
          f"{args.large_mib} MiB object x{args.rounds} (median MB/s); RSS growth = peak during the large transfers "
          f"minus before\n")
    print("| target | PUT 4 KiB p50 / p99 ms | GET 4 KiB p50 / p99 ms | large PUT MB/s | large GET MB/s | "
          "server RSS growth MB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        rss = f"{r['rss_growth_mb']:.1f}" if r.get("rss_growth_mb") is not None else "n/a"
        large = f"{r['put_mbs']:.0f} | {r['get_mbs']:.0f}" if "put_mbs" in r else "n/a | n/a"
        print(f"| {name} | {r['put_p50']:.2f} / {r['put_p99']:.2f} | {r['get_p50']:.2f} / {r['get_p99']:.2f} | "
              f"{large} | {rss} |")
    g, d = results["Terrarium gateway"], results["SeaweedFS direct"]
    f = results["floor: bare aiohttp proxy"]
    print(f"\nfloor / direct: PUT p50 {f['put_p50'] / d['put_p50']:.2f}x, GET p50 {f['get_p50'] / d['get_p50']:.2f}x")
    print(f"gateway / direct: PUT p50 {g['put_p50'] / d['put_p50']:.2f}x, GET p50 {g['get_p50'] / d['get_p50']:.2f}x"
          f" (goal <= 1.3x); large PUT {100 * g['put_mbs'] / d['put_mbs']:.0f}%, GET "
          f"{100 * g['get_mbs'] / d['get_mbs']:.0f}% of direct (goal >= 80%); RSS growth {g['rss_growth_mb']:.1f} MB "
          f"(goal < 64)")


if __name__ == "__main__":
    main()
