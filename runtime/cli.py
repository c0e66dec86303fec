"""The `terrarium` command."""

from __future__ import annotations

import argparse
import configparser
import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from runtime.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None), listen=getattr(args, "listen", None),
                             region=getattr(args, "region", None), account_id=getattr(args, "account_id", None))


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from runtime.app import create_app
    settings = _settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(f"Terrarium serving {settings.endpoint} (data in {settings.data_dir})", flush=True)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                access_log=None, shutdown_timeout=5)
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    from runtime.iam import account as accounts
    settings = _settings(args)
    account = accounts.load_or_create(settings.data_dir, settings.account_id)
    values = {"AccessKeyId": account.access_key_id, "SecretAccessKey": account.secret_access_key,
              "AccountId": account.account_id, "Endpoint": settings.endpoint, "Region": settings.region}
    if args.aws_profile:
        write_aws_profile(args.aws_profile, values)
    if args.json:
        print(json.dumps(values, indent=2))
    else:
        for key, value in values.items():
            print(f"{key}: {value}")
    return 0


def _table(rows: list[dict]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "") if r.get(c) is not None else "-").ljust(widths[c]) for c in columns)
              for r in rows]
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    from runtime import operator
    report = operator.status(_settings(args))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"endpoint   {report['endpoint']} ({'serving' if report['serving'] else 'not running'})")
        print(f"account    {report['account'] or '(not created yet)'}   region {report['region']}")
        print(f"data dir   {report['data_dir']}")
        print("\nresources")
        print(_table([{"kind": k, "count": v} for k, v in report["resources"].items()]))
        print("\nhost")
        print(_table([{"check": k, "ok": "yes" if v["ok"] else "NO", "detail": v.get("detail", "")}
                      for k, v in report["host"].items()]))
    return 0 if all(v["ok"] for v in report["host"].values()) else 1


def cmd_ps(args: argparse.Namespace) -> int:
    from runtime import operator
    report = operator.processes(_settings(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(_table(report["instances"]) if report["instances"] else "no instances")
    if report["environments"]:
        print("\nLambda execution environments")
        print(_table([{"Function": e["FunctionArn"].rsplit(":", 1)[-1], "Pid": e["Pid"],
                       "MemoryMiB": round(e["MemoryBytes"] / 2**20, 1), "Inflight": e["Inflight"],
                       "WarmSandboxes": e["WarmSandboxes"], "LogStream": e["LogStream"]}
                      for e in report["environments"]]))
    if report["invocations"]:
        print("\nRunning invocations")
        print(_table([{"RequestId": i["RequestId"], "Function": i["FunctionArn"].rsplit(":", 1)[-1],
                       "Version": i["Version"], "Seconds": i["RunningSeconds"],
                       "Pids": ",".join(map(str, i["Pids"])), "Eni": i["NetworkInterfaceId"] or "",
                       "Address": i["Address"] or ""} for i in report["invocations"]]))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from runtime import operator
    checks = operator.doctor()
    if args.json:
        print(json.dumps(checks, indent=2))
    else:
        for name, check in checks.items():
            mark = "ok " if check["ok"] else "FAIL"
            hint = "" if check["ok"] else f"  -> {check.get('fix', '')}"
            print(f"[{mark}] {name} {check.get('detail', '')}{hint}")
    return 0 if all(c["ok"] for c in checks.values()) else 1


def cmd_down(args: argparse.Namespace) -> int:
    from runtime import operator
    settings = _settings(args)
    if operator.server_health(settings) is not None and not args.force:
        print(f"Terrarium is serving on {settings.endpoint}: stop it first (or --force)", file=sys.stderr)
        return 2
    removed = operator.down(settings, purge=args.purge, everything=args.all)
    print(json.dumps(removed, indent=2) if args.json else "\n".join(removed) or "nothing to remove")
    return 0


def cmd_net(args: argparse.Namespace) -> int:
    from runtime import operator
    from runtime.errors import NotFound
    try:
        report = operator.net(_settings(args), args.vpc_id)
    except NotFound as exc:
        print(f"terrarium net: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    state = "present" if report["NamespacePresent"] else "absent (not realised on this host)"
    print(f"VPC {report['VpcId']}  {report['CidrBlock']}  namespace {report['Namespace']}: {state}")
    igw = report["InternetGateway"]
    print(f"internet gateway {'attached' if igw['Attached'] else 'none'}"
          + (f": {igw['Link']} <-> {igw['Uplink']}" if igw["Attached"] else ""))
    print("\nbridges (one per subnet, the router's .1 on each)")
    print(_table(report["Bridges"]))
    print("\nports (ENIs)")
    print(_table([{**p, "SecurityGroups": ",".join(p["SecurityGroups"])} for p in report["Ports"]]))
    print("\nroute tables")
    print(_table([{"RouteTableId": t["RouteTableId"], "KernelTable": t["KernelTable"],
                   "Destination": r["Destination"], "Target": r["Target"]}
                  for t in report["RouteTables"] for r in t["Routes"]]))
    print("\npolicy rules")
    print(_table(report["PolicyRules"]))
    ruleset = report["Ruleset"]
    sync = "in sync with the kernel" if ruleset["InSync"] else \
        "NOT what the kernel holds" if report["NamespacePresent"] else "not applied"
    print(f"\niptables ruleset (digest {ruleset['Digest']}, {sync})")
    table = ""
    for rule in ruleset["Rules"]:
        if rule["table"] != table:
            table = rule["table"]
            print(f"*{table}")
        shown = rule["rule"].replace(f' -m comment --comment "{rule["aws"]}"', "")
        print(f"  {shown}" if not rule["aws"] else f"  {shown}\n      ^ AWS: {rule['aws']}")
    return 0


def _log_line(event: dict) -> str:
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, tz=timezone.utc).isoformat(timespec="microseconds")
    return f"{stamp} {event['logStreamName']} {event['message'].rstrip()}"


def _since_ms(text: str | None) -> int | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"--since {text}: expected a number and one of s, m, h, d, w (like 10m)")
    return int((time.time() - int(text[:-1]) * units[text[-1]]) * 1000)


def cmd_logs(args: argparse.Namespace) -> int:
    from runtime import operator
    from runtime.errors import NotFound
    settings, group = _settings(args), operator.log_group_of(args.function)
    try:
        since = _since_ms(args.since)
        events = operator.log_events(settings, group, since_ms=since)
    except (NotFound, ValueError) as exc:
        print(f"terrarium logs: {exc}", file=sys.stderr)
        return 1
    last = 0
    try:
        while True:
            for event in events:
                print(json.dumps(event) if args.json else _log_line(event), flush=True)
                last = event["seq"]
            if not args.follow:
                return 0
            time.sleep(args.interval)
            events = operator.log_events(settings, group, since_ms=since, after_seq=last)
    except KeyboardInterrupt:
        return 0
    except NotFound as exc:
        print(f"terrarium logs: {exc}", file=sys.stderr)
        return 1


def cmd_bill(args: argparse.Namespace) -> int:
    from runtime import operator
    report = operator.bill(_settings(args), months=args.months)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"what this would cost on AWS (us-east-1 list prices, {report['Currency']}), {report['GeneratedAt']}")
    print(_table([{"Day": r["Day"], "Service": r["Service"], "Resource": r["Resource"], "Detail": r["Detail"],
                   "Quantity": r["Quantity"], "Unit": r["Unit"],
                   "Cost": f"{r['CostUsd']:.6f}" if r["CostUsd"] is not None else "not tracked"}
                  for r in report["Rows"]]))
    print("\ntotals  " + "  ".join(f"{k} {v:.6f}" for k, v in report["Totals"].items())
          + f"  = {report['Total']:.6f} USD")
    for note in report["NotTracked"]:
        print(f"not tracked: {note}")
    return 0


def cmd_host_access(args: argparse.Namespace) -> int:
    """Let this machine reach instances' public IPs (off by default; the one change Terrarium makes to the
    root namespace). The Vagrant VM turns it on so that the host's browser, routed to the VM, reaches them."""
    from runtime.host.net import realise
    if args.off:
        realise.remove_host_access()
        print("host access removed")
        return 0
    realise.ensure_host_access(args.cidrs)
    print(f"this machine reaches {', '.join(args.cidrs)} through tr-host0 (as 198.51.100.1)")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    """AMIs and Lambda runtimes built from the recipes under images/ (runtime.host.docker.images does the work)."""
    from dataclasses import asdict

    from runtime.errors import TerrariumError
    from runtime.host.docker import images
    try:
        if args.action == "list":
            built = [asdict(b) for b in images.list_built()]
            print(json.dumps(built, indent=2) if args.json else _table(
                [{"Name": b["name"], "Kind": b["kind"], "Suite": b["suite"], "Tag": b["tag"],
                  "Size": f"{b['size'] / 1e6:.0f} MB", "Created": b["created"][:19]} for b in built]))
        elif args.action == "build":
            started = time.monotonic()
            built = images.build(args.name, progress=lambda line: print(line, file=sys.stderr, flush=True),
                                 force=not args.missing)
            print(json.dumps([asdict(b) for b in built], indent=2) if args.json else
                  f"{len(built)} image(s) ready in {time.monotonic() - started:.1f} s")
        else:
            gone = images.prune(progress=lambda line: print(line, file=sys.stderr, flush=True),
                                dry_run=args.dry_run)
            print(json.dumps(gone, indent=2) if args.json else
                  "\n".join(("would remove " if args.dry_run else "removed ") + g for g in gone) or "nothing to prune")
    except (TerrariumError, KeyError) as exc:
        print(f"terrarium images: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_operations(args: argparse.Namespace) -> int:
    """The implemented operations per service, from the registry the server builds (runtime.operations_table)."""
    from runtime import operations_table
    if args.write and args.json:
        print("terrarium operations: --write writes the --markdown block, not --json", file=sys.stderr)
        return 2
    try:
        rows = operations_table.table(operations_table.registry(), args.service)
    except KeyError as exc:
        print(f"terrarium operations: {exc.args[0]}", file=sys.stderr)
        return 1
    if args.write:
        path = Path(args.write)
        try:
            path.write_text(operations_table.splice(path.read_text(), operations_table.markdown(rows)))
        except (OSError, ValueError) as exc:
            print(f"terrarium operations: {path}: {exc}", file=sys.stderr)
            return 1
        print(f"{path}: supported operations rewritten", file=sys.stderr)
    elif args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(operations_table.markdown(rows), end="")
    elif args.service:
        row = rows[0]
        print(f"{row['Service']}: {row['Implemented']} of {row['Total']} operations implemented")
        print("\n".join(row["Operations"]))
    else:
        print(_table([{"Service": r["Service"], "Implemented": r["Implemented"], "Total": r["Total"],
                       "Share": f"{r['Implemented'] / r['Total']:.0%}"} for r in rows]))
    return 0


def write_aws_profile(profile: str, values: dict) -> None:
    """An aws CLI profile so that `aws --profile NAME ...` needs no other flag."""
    home = Path.home() / ".aws"
    home.mkdir(mode=0o700, exist_ok=True)
    config_path, creds_path = home / "config", home / "credentials"
    config = configparser.RawConfigParser()
    config.read(config_path)
    section = f"profile {profile}"
    config[section] = {"region": values["Region"], "endpoint_url": values["Endpoint"], "output": "json"}
    creds = configparser.RawConfigParser()
    creds.read(creds_path)
    creds[profile] = {"aws_access_key_id": values["AccessKeyId"],
                      "aws_secret_access_key": values["SecretAccessKey"]}
    with open(config_path, "w") as handle:
        config.write(handle)
    with open(creds_path, "w") as handle:
        creds.write(handle)
    creds_path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="terrarium", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="state directory (default /var/lib/terrarium)")
        p.add_argument("--listen", help="HOST:PORT (default 127.0.0.1:4566)")
        p.add_argument("--region", help="region name (default us-east-1)")
        p.add_argument("--account-id", help="12-digit account id, used on first start only")

    serve = sub.add_parser("serve", help="run the AWS endpoint in the foreground")
    common(serve)
    serve.set_defaults(func=cmd_serve)

    creds = sub.add_parser("credentials", help="print the root credentials and endpoint")
    common(creds)
    creds.add_argument("--json", action="store_true")
    creds.add_argument("--aws-profile", metavar="NAME", help="also write an aws CLI profile NAME")
    creds.set_defaults(func=cmd_credentials)

    for name, func, text in (("status", cmd_status, "endpoint, account, resources and host checks"),
                             ("ps", cmd_ps, "instances with their containers, ENIs and IPs; Lambda environments and "
                                            "running invocations"),
                             ("doctor", cmd_doctor, "check the host's prerequisites and say what to do")):
        command = sub.add_parser(name, help=text)
        common(command)
        command.add_argument("--json", action="store_true")
        command.set_defaults(func=func)

    down = sub.add_parser("down", help="remove what Terrarium made on the host (keeps the database)")
    common(down)
    down.add_argument("--purge", action="store_true", help="also delete the data directory")
    down.add_argument("--all", action="store_true", help="also sweep other Terrariums' objects on this host")
    down.add_argument("--force", action="store_true", help="even while a server is running")
    down.add_argument("--json", action="store_true")
    down.set_defaults(func=cmd_down)

    net = sub.add_parser("net", help="a VPC on the host: namespace, bridges, ports, routes, annotated iptables")
    common(net)
    net.add_argument("vpc_id", metavar="VPC-ID")
    net.add_argument("--json", action="store_true")
    net.set_defaults(func=cmd_net)

    logs = sub.add_parser("logs", help="a Lambda function's log events, like `aws logs tail`")
    common(logs)
    logs.add_argument("function", metavar="FUNCTION", help="function name, or a log group name starting with /")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events (Ctrl-C stops)")
    logs.add_argument("--since", help="only events newer than this (10m, 2h, 1d)")
    logs.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    logs.add_argument("--json", action="store_true", help="one JSON object per line")
    logs.set_defaults(func=cmd_logs)

    bill = sub.add_parser("bill", help="what the resources would cost on AWS, per resource and per day")
    common(bill)
    bill.add_argument("--months", type=int, default=12, help="months of the Lambda ledger to read")
    bill.add_argument("--json", action="store_true")
    bill.set_defaults(func=cmd_bill)

    access = sub.add_parser("host-access", help="let this machine reach instances' public IPs (opt-in)")
    access.add_argument("cidrs", nargs="*", default=["198.51.100.0/24"], metavar="CIDR",
                        help="public ranges to route into the region's internet (default 198.51.100.0/24)")
    access.add_argument("--off", action="store_true", help="remove the veth and its routes")
    access.set_defaults(func=cmd_host_access)

    images = sub.add_parser("images", help="AMIs and Lambda runtimes: list, build (with progress), prune")
    images.add_argument("action", choices=("list", "build", "prune"))
    images.add_argument("name", nargs="?", help="build: one recipe (default all)")
    images.add_argument("--missing", action="store_true", help="build: only recipes without a current image")
    images.add_argument("--dry-run", action="store_true", help="prune: only say what would go")
    images.add_argument("--json", action="store_true")
    images.set_defaults(func=cmd_images)

    operations = sub.add_parser("operations", help="the implemented operations per service (of botocore's total)")
    operations.add_argument("service", nargs="?", metavar="SERVICE", help="one service: list its operations")
    output = operations.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true")
    output.add_argument("--markdown", action="store_true", help="the README's \"Supported operations\" block")
    operations.add_argument("--write", metavar="FILE", help="replace the --markdown block between its markers in FILE")
    operations.set_defaults(func=cmd_operations)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `terrarium net ... | head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
