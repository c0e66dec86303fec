"""S3 listings through Terrarium's gateway vs straight to its embedded SeaweedFS: paging a whole bucket.

On the embedded backend the gateway cuts every listing page itself (runtime/services/s3/listing_walk.py), so
that pages follow S3's byte order, which the backend's own paging does not; this measures what that costs.
The bucket holds folders of `--per-folder` keys each and `--flat` keys directly at the top (a folder level
larger than one backend answer, which the walk splits by next character). Each round pages through the
whole bucket with ListObjectsV2 and ListObjectVersions (1000 per page) on both targets, taking turns; the
table gives the median and slowest round and the gateway/direct ratio of the medians. A write before each
pass empties the gateway's cache of backend answers, so every pass is a first one. The direct listing is
in the backend's depth-first order, the gateway's in S3's.

    .venv/bin/python bench/s3_listing.py [--folders 5] [--per-folder 1000] [--flat 1500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.s3 import client  # noqa: E402
from tests.server import start_server  # noqa: E402

METHODS = {"ListObjectsV2": ("list_objects_v2", "Contents"), "ListObjectVersions": ("list_object_versions",
                                                                                    "Versions")}


def page_through(s3, bucket: str, method: str) -> tuple[float, int]:
    name, field = METHODS[method]
    start, listed = time.perf_counter(), 0
    for page in s3.get_paginator(name).paginate(Bucket=bucket):
        listed += len(page.get(field, []))
    return time.perf_counter() - start, listed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folders", type=int, default=5)
    parser.add_argument("--per-folder", type=int, default=1000)
    parser.add_argument("--flat", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    keys = [f"f{i}/k{j:05d}" for i in range(args.folders) for j in range(args.per_folder)]
    keys += [f"flat{j:05d}" for j in range(args.flat)]
    with tempfile.TemporaryDirectory(prefix="tr-bench-s3list-") as tmp:
        server = start_server(Path(tmp) / "data", log_path=Path(tmp) / "server.log")
        try:
            gateway = server.client("s3")
            gateway.create_bucket(Bucket="bench-listing")
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda k: gateway.put_object(Bucket="bench-listing", Key=k, Body=b""), keys))
            backend_dir = server.data_dir / "s3backend"
            ports = json.loads((backend_dir / "ports.json").read_text())
            identity = json.loads((backend_dir / "identity.json").read_text())
            direct = client(f"http://127.0.0.1:{ports['s3']}", identity["accessKey"], identity["secretKey"])
            backend_bucket = next(b["Name"] for b in direct.list_buckets()["Buckets"]
                                  if b["Name"] not in ("tr-health",) and direct.list_objects_v2(
                                      Bucket=b["Name"], MaxKeys=1).get("KeyCount"))
            targets = {"Terrarium gateway": (gateway, "bench-listing"), "SeaweedFS direct": (direct, backend_bucket)}
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for method in METHODS:
                    for target, (s3, bucket) in targets.items():
                        gateway.put_object(Bucket="bench-listing", Key="scratch", Body=b"")  # a write: the
                        gateway.delete_object(Bucket="bench-listing", Key="scratch")  # gateway's cache is cold
                        seconds, listed = page_through(s3, bucket, method)
                        assert listed == len(keys), (target, method, listed)
                        times.setdefault((target, method), []).append(seconds)
        finally:
            server.stop()
    print(f"\n{len(keys)} keys ({args.folders} folders of {args.per_folder}, {args.flat} at the top), whole-bucket "
          f"paging at 1000 per page, {args.rounds} rounds\n")
    print("| listing | gateway median / max s | direct median / max s | gateway / direct |")
    print("|---|---|---|---|")
    for method in METHODS:
        g, d = times[("Terrarium gateway", method)], times[("SeaweedFS direct", method)]
        print(f"| {method} | {statistics.median(g):.2f} / {max(g):.2f} | {statistics.median(d):.2f} / {max(d):.2f} "
              f"| {statistics.median(g) / statistics.median(d):.2f}x |")


if __name__ == "__main__":
    main()
