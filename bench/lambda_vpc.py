"""What VpcConfig costs an invocation: the same boto3-importing handler with and without a VPC, in one server.

    .venv/bin/python bench/lambda_vpc.py [--n 200] [--seconds 10]

A VPC function's sandbox gets its own veth into the function's Hyperplane ENI namespace (runtime/host/net/
hyperplane.py) while it is built, ahead of its invocation, so the warm path should not change; the cold
invoke (and every sandbox built under load) pays for the plumbing. Rows: cold first invoke, warm p50/p99 at
concurrency 1, invocations/s at concurrency 4; the ratio column is VPC / no VPC from this same run.
Needs root (a real server with sandboxes and VPC namespaces).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.server import start_server  # noqa: E402

lambda_bench = importlib.import_module("bench.lambda")  # "lambda" is a keyword: no `from bench.lambda import`
VPC_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"


def measure(server, lam, name: str, n: int, seconds: float) -> dict:
    cold = lambda_bench.timed_invoke(lam, name)
    for _ in range(10):
        lambda_bench.timed_invoke(lam, name)
    warm = [lambda_bench.timed_invoke(lam, name) for _ in range(n)]
    rate, _ = lambda_bench.throughput(lambda: server.client("lambda", config=lambda_bench.CONFIG), name, seconds)
    return {"cold": cold, "p50": statistics.median(warm), "p99": lambda_bench.pct(warm, 0.99), "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="tr-bench-lambda-vpc-"))
    server = start_server(base / "data", log_path=base / "server.log")
    try:
        ec2, iam, lam = server.client("ec2"), server.client("iam"), server.client("lambda",
                                                                                   config=lambda_bench.CONFIG)
        vpc = ec2.create_vpc(CidrBlock="10.88.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.88.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="fn", Description="bench", VpcId=vpc)["GroupId"]
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(lambda_bench.TRUST))["Role"]
        iam.attach_role_policy(RoleName="bench", PolicyArn=VPC_POLICY)
        code = lambda_bench.code_zip()
        lambda_bench.create(lam, role["Arn"], "plain", code)
        lam.create_function(FunctionName="in-vpc", Runtime="python3.11", Role=role["Arn"], Handler="app.handler",
                            Code={"ZipFile": code}, Timeout=30, MemorySize=128,
                            VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group]})
        lam.get_waiter("function_active_v2").wait(FunctionName="in-vpc",
                                                  WaiterConfig={"Delay": 0.1, "MaxAttempts": 600})
        plain = measure(server, lam, "plain", args.n, args.seconds)
        in_vpc = measure(server, lam, "in-vpc", args.n, args.seconds)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"{'metric':<28}{'no VPC':>12}{'VpcConfig':>12}{'ratio':>8}")
    for key, label, unit in (("cold", "cold first invoke", "ms"), ("p50", "warm p50 (conc. 1)", "ms"),
                             ("p99", "warm p99 (conc. 1)", "ms"), ("rate", "invocations/s (conc. 4)", "/s")):
        print(f"{label + ' ' + unit:<28}{plain[key]:>12.1f}{in_vpc[key]:>12.1f}{in_vpc[key] / plain[key]:>8.2f}")


if __name__ == "__main__":
    main()
