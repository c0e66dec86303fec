"""Lambda invoke through boto3: Terrarium next to moto_server's Lambda, in one run, on this host.

    .venv/bin/python bench/lambda.py [--n 200] [--moto-n 20] [--seconds 10]

The handler imports boto3 at module level and returns its event (the issue's benchmark function).
Rows per server: cold first invoke (right after the function is Active), p50/p99 at concurrency 1
(Terrarium: a fresh sandbox every invocation), invocations/s sustained at concurrency 4, and host memory
per idle function (Terrarium: the function's cgroups — zygote + ready sandboxes — after 5 functions went
idle; moto keeps nothing between invocations: its figure is the moto_server RSS growth per function).

moto runs each invocation in a fresh container of MOTO_DOCKER_LAMBDA_IMAGE. This script builds that image
from Terrarium's python3.11 runtime image plus a runner that follows the lambci contract (argv = handler and
event JSON, logs on stderr, the result JSON as the last stdout line), and the `busybox:latest` moto insists
on (the same rootfs with `sleep`); both carry label terrarium=1 and are removed at the end. moto's
containers run with MOTO_DOCKER_NETWORK_MODE=none (the handler needs no network).
`sam local start-lambda` (aws-sam-cli, in its own virtualenv) serves the same handler from AWS's python3.11
base image rebuilt here, one warm container per function reused across invocations (no per-invocation
isolation), on an isolated Docker bridge: see bench/peers_sam.py for how and why. Its cold row is the first
invoke after SAM listens (container create + start + Init), its idle memory the warm container's cgroup.
Needs root, bubblewrap, nft and a Docker engine with the terrarium/python3.11 image built. `--skip-sam` leaves SAM out.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers_sam import sam_local_lambda, stop  # noqa: E402
from runtime.host.docker import images  # noqa: E402
from runtime.services.lambda_.runtimes import pick_image  # noqa: E402
from runtime.services.lambda_.stack import cgroup_root  # noqa: E402
from runtime.sandbox.cgroups import detect  # noqa: E402
from tests.server import free_port, start_server  # noqa: E402

HANDLER = "import boto3\n\n\ndef handler(event, context):\n    return event\n"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
MOTO_IMAGE = "terrarium/moto-lambda:python3.11"
RUNNER = '''
import importlib, json, sys, time, traceback
sys.path.insert(0, "/var/task")
handler, event = sys.argv[1], json.loads(sys.argv[2])
module, name = handler.rsplit(".", 1)
try:
    result = getattr(importlib.import_module(module), name)(event, None)
    print(json.dumps(result))
except Exception as exc:
    traceback.print_exc()
    print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
    sys.exit(1)
'''
CONFIG = Config(retries={"max_attempts": 1}, read_timeout=300, max_pool_connections=8)
EVENT = json.dumps({"bench": True, "n": 1}).encode()


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buf.getvalue()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed_invoke(client, name: str) -> float:
    started = time.perf_counter()
    reply = client.invoke(FunctionName=name, Payload=EVENT)
    body = reply["Payload"].read()
    elapsed = (time.perf_counter() - started) * 1000
    if reply.get("FunctionError") or json.loads(body) != json.loads(EVENT):
        raise RuntimeError(f"unexpected reply: {reply.get('FunctionError')} {body[:300]!r}")
    return elapsed


def throughput(make_client, name: str, seconds: float, workers: int = 4) -> tuple[float, int]:
    clients = [make_client() for _ in range(workers)]
    for c in clients:
        timed_invoke(c, name)
    count = [0] * workers
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            timed_invoke(clients[i], name)
            count[i] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.monotonic() - started), sum(count)


def create(client, role: str, name: str, code: bytes) -> None:
    client.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                           Code={"ZipFile": code}, Timeout=30, MemorySize=128)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600})


# ------------------------------------------------------------------------------------------ Terrarium

def bench_terrarium(n: int, seconds: float) -> dict:
    base = Path(tempfile.mkdtemp(prefix="tr-bench-lambda-"))
    server = start_server(base / "data", log_path=base / "server.log")
    try:
        lam = server.client("lambda", config=CONFIG)
        role = server.client("iam").create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))
        code = code_zip()
        create(lam, role["Role"]["Arn"], "bench", code)
        cold = timed_invoke(lam, "bench")
        for _ in range(10):
            timed_invoke(lam, "bench")
        warm = [timed_invoke(lam, "bench") for _ in range(n)]
        rate, total = throughput(lambda: server.client("lambda", config=CONFIG), "bench", seconds)
        idle = terrarium_idle_memory(server, lam, role["Role"]["Arn"], code)
        return {"cold": cold, "p50": statistics.median(warm), "p99": pct(warm, 0.99), "rate": rate,
                "total": total, "idle_mb": idle, "n": n}
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def terrarium_idle_memory(server, lam, role: str, code: bytes, functions: int = 5) -> float:
    """Mean host memory (MB) of an idle function: its cgroups (zygote + ready sandboxes) after one invoke."""
    names = [f"idle-{i}" for i in range(functions)]
    for name in names:
        create(lam, role, name, code)
        timed_invoke(lam, name)
    time.sleep(2.0)  # the pool refills in the background
    cgroups = detect(cgroup_root(server.data_dir))
    sizes = []
    for d in cgroups.dirs("").values():
        for child in sorted(p for p in Path(d).iterdir() if p.is_dir() and p.name.startswith("tr-f-")):
            sizes.append(cgroups.usage_bytes(child.name))
        break
    sizes.sort(reverse=True)
    return statistics.mean(sizes[:functions]) / 2**20 if sizes else float("nan")


# ------------------------------------------------------------------------------------------ moto

def build_moto_images() -> None:
    base = pick_image("python3.11", images.current, images.list_built)
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "runner.py").write_text(RUNNER)
        Path(ctx, "Dockerfile").write_text(
            f"FROM {base}\nCOPY runner.py /var/runtime/moto_runner.py\nLABEL terrarium=1\n"
            'ENTRYPOINT ["python3", "/var/runtime/moto_runner.py"]\nCMD []\n')
        subprocess.run(["docker", "build", "-q", "-t", MOTO_IMAGE, ctx], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(f"FROM {base}\nLABEL terrarium=1\nENTRYPOINT []\nCMD [\"sh\"]\n")
        subprocess.run(["docker", "build", "-q", "-t", "busybox:latest", ctx], check=True, capture_output=True)


def remove_moto_images() -> None:
    subprocess.run(["docker", "rmi", "-f", MOTO_IMAGE, "busybox:latest"], capture_output=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_moto(n: int, seconds: float) -> dict:
    moto_server = Path(sys.executable).parent / "moto_server"
    port = free_port()
    env = {**os.environ, "MOTO_DOCKER_LAMBDA_IMAGE": MOTO_IMAGE, "MOTO_DOCKER_NETWORK_MODE": "none"}
    log = tempfile.NamedTemporaryFile(prefix="tr-bench-moto-", suffix=".log", delete=False)
    proc = subprocess.Popen([str(moto_server), "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        def make_client():
            return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing", config=CONFIG)
        lam = make_client()
        iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        code = code_zip()
        before = rss_mb(proc.pid)
        create(lam, role, "bench", code)
        cold = timed_invoke(lam, "bench")
        warm = [timed_invoke(lam, "bench") for _ in range(n)]
        rate, total = throughput(make_client, "bench", seconds)
        for i in range(4):
            create(lam, role, f"idle-{i}", code)
        idle = (rss_mb(proc.pid) - before) / 5
        return {"cold": cold, "p50": statistics.median(warm), "p99": pct(warm, 0.99), "rate": rate,
                "total": total, "idle_mb": idle, "n": n}
    finally:
        stop(proc, 10)
        os.unlink(log.name)


# ------------------------------------------------------------------------------------------ SAM

def bench_sam(n: int, seconds: float) -> dict:
    with sam_local_lambda(HANDLER) as peer:
        def make_client():
            return boto3.client("lambda", endpoint_url=peer.endpoint_url, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing", config=CONFIG)
        lam = make_client()
        cold = timed_invoke(lam, peer.function)
        for _ in range(10):
            timed_invoke(lam, peer.function)
        warm = [timed_invoke(lam, peer.function) for _ in range(n)]
        rate, total = throughput(make_client, peer.function, seconds)
        return {"cold": cold, "p50": statistics.median(warm), "p99": pct(warm, 0.99), "rate": rate,
                "total": total, "idle_mb": peer.idle_memory_mb(), "n": n}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200, help="Terrarium invocations at concurrency 1")
    parser.add_argument("--moto-n", type=int, default=20, help="moto invocations at concurrency 1")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the concurrency-4 runs")
    parser.add_argument("--sam-n", type=int, default=200, help="SAM invocations at concurrency 1")
    parser.add_argument("--skip-sam", action="store_true", help="leave out the sam local start-lambda row")
    args = parser.parse_args()
    rows = {"Terrarium": bench_terrarium(args.n, args.seconds)}
    build_moto_images()
    try:
        rows["moto_server 5.x"] = bench_moto(args.moto_n, max(args.seconds, 10.0))
    finally:
        remove_moto_images()
    if not args.skip_sam:
        rows["sam local start-lambda 1.170"] = bench_sam(args.sam_n, args.seconds)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nLambda invoke via boto3, handler imports boto3 and returns its event; "
          f"{os.cpu_count()} CPUs, load average {load}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| server | cold first invoke ms | p50 ms (c=1) | p99 ms (c=1) | n | invocations/s (c=4) | "
          "host MB per idle function |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['cold']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['n']} | {r['rate']:.1f} "
              f"({r['total']} calls) | {r['idle_mb']:.1f} |")
    t, m = rows["Terrarium"], rows["moto_server 5.x"]
    if "sam local start-lambda 1.170" in rows:
        print(f"Terrarium p50 / SAM p50 in this run: {t['p50'] / rows['sam local start-lambda 1.170']['p50']:.2f} "
              "(SAM reuses one warm container; Terrarium forks a fresh sandbox per invocation)")
    print(f"\nTerrarium p50 is {m['p50'] / t['p50']:.0f}x faster than moto's in this run "
          f"(goals: cold <= 500 ms, p50 <= 20 ms, p99 <= 60 ms, >= 50/s, >= 20x moto).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
