"""Invoke latency of Terrarium's per-invocation sandbox, next to the physical floors, in one process.

    .venv/bin/python bench/lambda_invoke.py [--n 200] [--image terrarium/python3.11:<tag>]

Rows (all measured here, in this run, on this host):
  floor  fork+exec `python3 -c pass`                 a fresh interpreter, no isolation
  floor  `unshare -muinp --fork true`                bare namespaces, no interpreter
  sandbox trivial handler, concurrency 1             SandboxManager.invoke end to end: cgroup made, fork,
                                                     namespaces, handler, result read, cgroup read + removed
  sandbox trivial handler, concurrency 4             sustained invocations/s
  sandbox boto3 handler (image rootfs), conc. 1      only with --image (or a local terrarium/python3.11)
Needs root and bubblewrap. The sandbox rows use the host's /usr as rootfs unless --image is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.sandbox.manager import SandboxManager  # noqa: E402
from runtime.sandbox.ports import FunctionSpec  # noqa: E402

TRIVIAL = "def handler(event, context):\n    return event\n"
BOTO3 = "import boto3\n\ndef handler(event, context):\n    return event\n"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _row(name: str, samples: list[float], cold: float | None = None, rate: float | None = None) -> dict:
    return {"name": name, "n": len(samples), "cold": cold, "min": min(samples), "p50": _pct(samples, 0.5),
            "p99": _pct(samples, 0.99), "max": max(samples), "mean": statistics.fmean(samples), "rate": rate}


def _time_command(argv: list[str], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def _code_dir(source: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="tr-bench-"))
    (d / "app.py").write_text(source)
    os.chmod(d, 0o755)
    os.chmod(d / "app.py", 0o644)
    return d


def _spec(name: str, code: Path, rootfs: Path) -> FunctionSpec:
    return FunctionSpec(name=name, version="$LATEST", arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                        handler="app.handler", runtime="python3.11", code_dir=code, rootfs=rootfs)


async def _sequential(manager: SandboxManager, fn: FunctionSpec, n: int) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    first = await manager.invoke(fn, b'{"k": "v"}', request_id=str(uuid.uuid4()))
    cold = (time.perf_counter() - t0) * 1000
    assert first.payload == b'{"k": "v"}', first.payload
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        result = await manager.invoke(fn, b'{"k": "v"}', request_id=str(uuid.uuid4()))
        samples.append((time.perf_counter() - t0) * 1000)
        assert result.function_error is None, result.payload
    return cold, samples


async def _concurrent(manager: SandboxManager, fn: FunctionSpec, n: int, workers: int) -> tuple[float, list[float]]:
    samples: list[float] = []
    remaining = n

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            result = await manager.invoke(fn, b"{}", request_id=str(uuid.uuid4()))
            samples.append((time.perf_counter() - t0) * 1000)
            assert result.function_error is None, result.payload

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return n / (time.perf_counter() - t0), samples


async def _sandbox_rows(n: int, image_rootfs: Path | None, notes: list[str]) -> list[dict]:
    rows = []
    trivial = _code_dir(TRIVIAL)
    boto = _code_dir(BOTO3)
    try:
        async with SandboxManager(cgroup_root=f"tr-bench-{uuid.uuid4().hex[:6]}") as manager:
            fn = _spec("bench-trivial", trivial, Path("/"))
            cold, samples = await _sequential(manager, fn, n)
            rows.append(_row("sandbox: trivial handler, concurrency 1", samples, cold=cold,
                             rate=1000 / statistics.fmean(samples)))
            rate, samples = await _concurrent(manager, fn, n, 4)
            rows.append(_row("sandbox: trivial handler, concurrency 4", samples, rate=rate))
            await asyncio.sleep(1.0)
            idle = (await manager.idle_memory_bytes())[fn.arn]
            notes.append(f"idle function host memory (zygote + {manager.warm_sandboxes} ready sandboxes): "
                         f"trivial {idle / 2**20:.1f} MiB")
            if image_rootfs is not None:
                fn = _spec("bench-boto3", boto, image_rootfs)
                cold, samples = await _sequential(manager, fn, n)
                rows.append(_row("sandbox: boto3 handler (image), concurrency 1", samples, cold=cold,
                                 rate=1000 / statistics.fmean(samples)))
                rate, samples = await _concurrent(manager, fn, n, 4)
                rows.append(_row("sandbox: boto3 handler (image), concurrency 4", samples, rate=rate))
                await asyncio.sleep(1.0)
                idle_boto3 = (await manager.idle_memory_bytes())[fn.arn]
                notes.append(f"idle function host memory (zygote + {manager.warm_sandboxes} ready sandboxes): "
                             f"boto3 {idle_boto3 / 2**20:.1f} MiB")
    finally:
        shutil.rmtree(trivial, ignore_errors=True)
        shutil.rmtree(boto, ignore_errors=True)
    return rows


def _default_image() -> str | None:
    if shutil.which("docker") is None:
        return None
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "terrarium/python3.11"],
                         capture_output=True, text=True)
    tags = out.stdout.split()
    return tags[0] if out.returncode == 0 and tags else None


def _print(rows: list[dict]) -> None:
    head = f"{'measure':50} {'n':>4} {'cold':>7} {'min':>6} {'p50':>6} {'p99':>6} {'max':>6} {'inv/s':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        cold = f"{r['cold']:7.1f}" if r["cold"] is not None else f"{'':7}"
        rate = f"{r['rate']:6.1f}" if r["rate"] is not None else f"{'':6}"
        print(f"{r['name']:50} {r['n']:4d} {cold} {r['min']:6.1f} {r['p50']:6.1f} {r['p99']:6.1f} {r['max']:6.1f} {rate}")
    print("(ms; cold = first invocation incl. zygote start and Init; inv/s = 1000/mean at concurrency 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--image", help="Lambda runtime image for the boto3 rows (default: a local "
                                        "terrarium/python3.11 if any)")
    parser.add_argument("--cache", default="/var/lib/terrarium/rootfs", help="rootfs export cache")
    args = parser.parse_args()
    image = args.image or _default_image()
    image_rootfs = None
    if image:
        from runtime.sandbox.rootfs import rootfs_from_image
        image_rootfs = rootfs_from_image(image, Path(args.cache))
    rows = [_row("floor: fork+exec python3 -c pass", _time_command(["/usr/bin/python3", "-c", "pass"], args.n)),
            _row("floor: unshare -muinp --fork true", _time_command(["unshare", "-muinp", "--fork", "true"], args.n))]
    notes: list[str] = []
    load_before = os.getloadavg()[0]
    rows += asyncio.run(_sandbox_rows(args.n, image_rootfs, notes))
    print(f"host: {os.cpu_count()} CPUs, kernel {os.uname().release}, load average {load_before:.1f} → "
          f"{os.getloadavg()[0]:.1f}; image: {image or 'none'}")
    _print(rows)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
