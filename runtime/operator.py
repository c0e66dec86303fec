"""What `terrarium status`, `ps` and `doctor` report: read from the state database and the host, not from the
AWS API, so they work whether or not a server is running (SQLite WAL lets them read beside it). Only what lives
in the server's memory (running Lambda invocations) is asked of the server, at `/_terrarium/activity`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from runtime.config import Settings
from runtime.iam import account as accounts
from runtime.services._shared.days import hours_in_month, seconds_by_utc_day, utc_day
from runtime.state import SqliteStore, kinds

HOST_TOOLS = ("dockerd", "iptables", "ip6tables", "ebtables", "ipset", "mmdebstrap", "bwrap", "ip")


def server_health(settings: Settings) -> dict | None:
    try:
        with urllib.request.urlopen(f"{settings.endpoint}/_terrarium/health", timeout=2) as reply:
            return json.loads(reply.read())
    except (OSError, ValueError):
        return None


def resource_counts(settings: Settings) -> dict[str, int]:
    if not settings.db_path.exists():
        return {}
    with SqliteStore(settings.db_path) as store:
        return store.count_by_kind()


def status(settings: Settings) -> dict:
    account = accounts.load_or_create(settings.data_dir, settings.account_id) \
        if (settings.data_dir / accounts.ACCOUNT_FILE).exists() else None
    return {"endpoint": settings.endpoint, "data_dir": str(settings.data_dir),
            "serving": server_health(settings) is not None,
            "account": account.account_id if account else None, "region": settings.region,
            "resources": resource_counts(settings), "host": doctor()}


def instances(settings: Settings) -> list[dict]:
    if not settings.db_path.exists():
        return []
    from runtime.host.docker.containers import container_name
    from runtime.services.ec2.placement import public_ip

    rows = []
    with SqliteStore(settings.db_path) as store:
        for r in store.list("ec2.instance"):
            eni = (r.spec.get("Placement") or {}).get("NetworkInterfaceId")
            rows.append({"InstanceId": r.id, "State": r.status.get("State"), "Type": r.spec.get("InstanceType"),
                         "PrivateIp": r.spec.get("PrivateIpAddress"),
                         "PublicIp": public_ip(store, eni) if eni and r.status.get("State") not in (
                             "stopped", "terminated") else None,
                         "Eni": eni, "Container": container_name(r.id)})
    return rows


def lambda_activity(settings: Settings) -> dict:
    """Execution environments and in-flight invocations of a running server (both empty when none serves)."""
    try:
        with urllib.request.urlopen(f"{settings.endpoint}/_terrarium/activity", timeout=5) as reply:
            return json.loads(reply.read())
    except (OSError, ValueError):
        return {"environments": [], "invocations": []}


def processes(settings: Settings) -> dict:
    """`terrarium ps`: instances (containers, ENIs, IPs), Lambda execution environments and running invocations
    (their processes and, for a VPC function, the Hyperplane ENI and the sandbox's address behind it)."""
    activity = lambda_activity(settings)
    now = time.time()
    invocations = [{**i, "RunningSeconds": round(now - i["StartedAt"], 3)} for i in activity["invocations"]]
    return {"instances": instances(settings), "environments": activity["environments"], "invocations": invocations}


def doctor() -> dict:
    """Host prerequisites, each with what to do when it is missing."""
    checks: dict[str, dict] = {}
    for tool in HOST_TOOLS:
        found = shutil.which(tool) or (Path("/usr/sbin") / tool).exists()
        checks[tool] = {"ok": bool(found), "fix": "run scripts/run (it installs the host packages)"}
    try:
        docker = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=10)
        checks["docker engine"] = {"ok": docker.returncode == 0, "detail": docker.stdout.strip(),
                                   "fix": "start dockerd (scripts/run does)"}
    except (OSError, subprocess.TimeoutExpired):
        checks["docker engine"] = {"ok": False, "fix": "install docker.io and start dockerd"}
    iptables = subprocess.run(["iptables", "--version"], capture_output=True, text=True) \
        if shutil.which("iptables") else None
    checks["iptables backend"] = {"ok": iptables is not None and iptables.returncode == 0,
                                  "detail": iptables.stdout.strip() if iptables else ""}
    checks["network namespaces"] = {"ok": os.path.isdir("/run/netns") or os.geteuid() == 0,
                                    "fix": "run as root"}
    usage = shutil.disk_usage("/")
    checks["free disk"] = {"ok": usage.free > 5 * 2**30, "detail": f"{usage.free / 2**30:.1f} GiB free",
                           "fix": "images and instances need a few GiB"}
    checks["root"] = {"ok": os.geteuid() == 0, "fix": "Terrarium manages namespaces and iptables: run as root"}
    return checks


def down(settings: Settings, *, purge: bool = False, everything: bool = False) -> list[str]:
    """Remove what this Terrarium made on the host (containers, VPC and Lambda ENI namespaces); keep the database
    unless `purge`. `everything` also sweeps objects of any other Terrarium on the host. Returns what went."""
    from runtime.control import lambda_net, vpc_net
    from runtime.host.docker import containers
    from runtime.host.net import hyperplane, netns, realise

    removed: list[str] = []
    owner = None
    vpc_ids: set[str] = set()
    lambda_enis: set[str] = set()
    if settings.db_path.exists():
        owner = accounts.load_or_create(settings.data_dir).account_id \
            if (settings.data_dir / accounts.ACCOUNT_FILE).exists() else None
        with SqliteStore(settings.db_path) as store:
            vpc_ids = {r.id for r in store.list("ec2.vpc")} | vpc_net.LEDGER.ids(store)
            lambda_enis = {r.id for r in store.list(kinds.NETWORK_INTERFACE) if lambda_net.is_lambda_eni(r)} | \
                lambda_net.LEDGER.ids(store)
            instance_ids = {r.id for r in store.list("ec2.instance")}
        for instance_id in instance_ids:
            containers.remove(instance_id)
            removed.append(containers.container_name(instance_id))
    for instance_id in containers.owned_instances(None if everything else owner) if (owner or everything) else ():
        containers.remove(instance_id)
        removed.append(containers.container_name(instance_id))
    for eni_id in sorted(lambda_enis):
        hyperplane.remove(eni_id)
        removed.append(eni_id)
    for vpc_id in sorted(vpc_ids):
        realise.remove_vpc(vpc_id)
        removed.append(vpc_id)
    if everything:
        for name in sorted(hyperplane.owned()):
            netns.remove(name)
            removed.append(name)
        removed += sorted(realise.remove_orphans(()))
    if purge and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
        removed.append(str(settings.data_dir))
    return removed


# ------------------------------------------------------------------------------------------- net

def _ip_json(namespace: str, *args: str) -> list[dict]:
    """`ip -j -n NS ...` as parsed JSON ([] when the namespace or the tool is missing)."""
    try:
        reply = subprocess.run(["ip", "-j", "-n", namespace, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if reply.returncode != 0 or not reply.stdout.strip():
        return []
    return json.loads(reply.stdout)


def annotate_ruleset(text: str) -> list[dict]:
    """Each rule of an iptables-restore document with its table, chain and the AWS rule its comment names."""
    rows, table = [], ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            aws = line.split('--comment "', 1)[1].split('"', 1)[0] if '--comment "' in line else ""
            rows.append({"table": table, "chain": line.split()[1], "rule": line, "aws": aws})
    return rows


def net(settings: Settings, vpc_id: str) -> dict:
    """What one VPC is on the host: its namespace, bridges, ports, route tables, policy rules and the
    iptables ruleset, rendered by the realiser's own renderer from the same records the realiser reads, next
    to what the kernel holds now. Raises `NotFound` for an unknown VPC."""
    from runtime.control import vpc_net
    from runtime.errors import NotFound
    from runtime.host.net import iptables, links, naming, netns

    if not settings.db_path.exists():
        raise NotFound(f"no Terrarium database in {settings.data_dir}")
    with SqliteStore(settings.db_path) as store:
        model = vpc_net.render(store, store.get(vpc_net.VPC, vpc_id))
        public_of = {e.id: e.spec.get("PublicIp") for s in store.list(vpc_net.SUBNET, parent=vpc_id)
                     for e in store.list(vpc_net.NETWORK_INTERFACE, parent=s.id)}
    namespace = naming.vpc_netns(vpc_id)
    present = netns.exists(namespace)
    ruleset = iptables.render_ruleset(model)
    kernel_links = {link["ifname"]: link for link in _ip_json(namespace, "link")} if present else {}
    applied = iptables.applied_digest(naming.netns_path(namespace)) if present else ""
    return {
        "VpcId": vpc_id, "CidrBlock": model.cidr, "Namespace": namespace, "NamespacePresent": present,
        "InternetGateway": {"Attached": model.igw_attached, "Link": naming.IGW_LINK,
                            "Uplink": f"{naming.uplink(vpc_id)} (in {naming.INTERNET_NETNS})"},
        "Bridges": [{"SubnetId": s.subnet_id, "Bridge": naming.bridge(s.subnet_id), "CidrBlock": s.cidr,
                     "Gateway": s.gateway, "RouteTableId": s.route_table_id, "NetworkAclId": s.network_acl_id,
                     "Kernel": kernel_links.get(naming.bridge(s.subnet_id), {}).get("operstate", "absent")}
                    for s in model.subnets],
        "Ports": [{"NetworkInterfaceId": e.eni_id, "Link": naming.eni_link(e.eni_id),
                   "Bridge": naming.bridge(e.subnet_id), "PrivateIp": e.private_ip,
                   "PublicIp": public_of.get(e.eni_id), "SecurityGroups": list(e.security_group_ids),
                   "Kernel": kernel_links.get(naming.eni_link(e.eni_id), {}).get("operstate", "absent")}
                  for e in model.enis],
        "RouteTables": [{"RouteTableId": t.route_table_id, "KernelTable": naming.route_table_number(t.route_table_id),
                         "Routes": [{"Destination": model.cidr, "Target": "local"}]
                         + [{"Destination": r.destination,
                             "Target": r.target if model.igw_attached or r.target != "igw" else "blackhole"}
                            for r in t.routes]}
                        for t in model.route_tables],
        "PolicyRules": [{"Priority": links.RULE_PRIO_LOCAL, "Selector": f"to {model.cidr}", "Table": "main",
                         "Why": "the VPC's local route wins"}]
                       + [{"Priority": links.RULE_PRIO_SUBNET, "Selector": f"from {s.cidr}",
                           "Table": naming.route_table_number(s.route_table_id),
                           "Why": f"{s.subnet_id} is associated with {s.route_table_id}"} for s in model.subnets],
        "KernelRules": _ip_json(namespace, "rule") if present else [],
        "KernelRoutes": _ip_json(namespace, "route", "show", "table", "all") if present else [],
        "Ruleset": {"Text": ruleset, "Rules": annotate_ruleset(ruleset),
                    "Digest": iptables.digest_of(ruleset), "AppliedDigest": applied,
                    "InSync": present and applied == iptables.digest_of(ruleset)},
    }


# ------------------------------------------------------------------------------------------- logs

def log_group_of(function: str) -> str:
    """A Lambda function's log group; a name starting with "/" is taken as a log group already."""
    return function if function.startswith("/") else f"/aws/lambda/{function}"


def log_events(settings: Settings, group: str, *, since_ms: int | None = None, after_seq: int = 0,
               limit: int = 10000) -> list[dict]:
    """Events of a log group of this Terrarium's account, oldest first, each with its sequence number so
    that a follower asks only for what is newer. Raises `NotFound` when the group does not exist."""
    from runtime.errors import NotFound
    from runtime.services.logs.provider import GROUP

    if not settings.db_path.exists() or not (settings.data_dir / accounts.ACCOUNT_FILE).exists():
        raise NotFound(f"no Terrarium database in {settings.data_dir}")
    account = accounts.load_or_create(settings.data_dir).account_id
    with SqliteStore(settings.db_path) as store:
        if store.find(GROUP, account, group) is None:
            raise NotFound(f"log group {group} does not exist")
        events = store.read_log_events(account, group, start=since_ms, after_seq=after_seq, limit=limit)
    return [{"seq": e.seq, "timestamp": e.timestamp, "logStreamName": e.log_stream, "message": e.message}
            for e in events]


# ------------------------------------------------------------------------------------------- bill

def _month_back(month: str, n: int) -> str:
    year, mon = map(int, month.split("-"))
    index = year * 12 + mon - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _run_period_by_day(start: float, end: float) -> dict[str, float]:
    """One run period's billed seconds per UTC day: exact, with the 60 s minimum's top-up on its first day."""
    from runtime.control.instances import BILLING_MINIMUM_S

    per_day = seconds_by_utc_day(start, end)
    if end - start < BILLING_MINIMUM_S:
        per_day[utc_day(start)] = per_day.get(utc_day(start), 0.0) + BILLING_MINIMUM_S - (end - start)
    return per_day


def _ec2_rows(store, now: float) -> list[dict]:
    from runtime.control.instances import BILLING_MINIMUM_S
    from runtime.services.ec2.instance_types import TYPES

    rows = []
    for record in store.list("ec2.instance"):
        kind = record.spec.get("InstanceType", "")
        price = TYPES[kind].hourly_usd if kind in TYPES else None
        since = record.status.get("RunningSince")
        periods = [*record.status.get("RunPeriods", ()), *([[since, now]] if since else [])]
        per_day: dict[str, float] = {}
        for start, end in periods:
            for day, seconds in _run_period_by_day(start, end).items():
                per_day[day] = per_day.get(day, 0.0) + seconds
        recorded = sum(max(BILLING_MINIMUM_S, e - s) for s, e in record.status.get("RunPeriods", ()))
        undated = float(record.status.get("BilledSeconds", 0.0)) - recorded  # closed before periods were kept
        if undated > 1e-6:
            per_day[utc_day(record.updated)] = per_day.get(utc_day(record.updated), 0.0) + undated
        for day, seconds in sorted(per_day.items()):
            rows.append({"Day": day, "Service": "ec2", "Resource": record.id, "Detail": kind,
                         "Quantity": round(seconds, 3), "Unit": "instance-seconds",
                         "CostUsd": round(seconds / 3600 * price, 6) if price is not None else None})
    return rows


def _lambda_rows(store, account: str, now: float, months: int) -> list[dict]:
    from runtime.services.lambda_ import billing

    rows = []
    current = billing.month_of(now)
    for back in range(months - 1, -1, -1):
        month = _month_back(current, back)
        for function, row in sorted(billing.usage(store, month).get(account, {}).items()):
            rows.append({"Day": month, "Service": "lambda", "Resource": function, "Detail": "requests",
                         "Quantity": row["requests"], "Unit": "requests",
                         "CostUsd": round(row["requests"] * billing.PRICE_PER_REQUEST, 6)})
            rows.append({"Day": month, "Service": "lambda", "Resource": function, "Detail": "compute",
                         "Quantity": row["gb_seconds"], "Unit": "GB-seconds",
                         "CostUsd": round(row["cost_usd"] - row["requests"] * billing.PRICE_PER_REQUEST, 6)})
    return rows


def _s3_rows(store, account: str, now: float, months: int) -> list[dict]:
    from runtime.services.s3 import storage_meter

    current = time.strftime("%Y-%m", time.gmtime(now))
    window = [_month_back(current, back) for back in range(months)]
    rows = []
    for (bucket, day, klass), hours in sorted(storage_meter.byte_hours(store, account, window, now).items()):
        gb_months = hours / (1 << 30) / hours_in_month(day)
        price = storage_meter.PRICE_PER_GB_MONTH.get(klass)
        rows.append({"Day": day, "Service": "s3", "Resource": bucket, "Detail": f"storage {klass}",
                     "Quantity": round(gb_months, 9), "Unit": "GB-month",
                     "CostUsd": round(gb_months * price, 6) if price is not None else None})
    return rows


def bill(settings: Settings, *, months: int = 12, now: float | None = None) -> dict:
    """What this Terrarium's resources would cost on AWS (us-east-1 list prices), per resource and per day.

    EC2: billed instance seconds (60 s minimum per run period, topped up on the period's first day) x the
    type's hourly price; every run period, open or closed (the instance's `RunPeriods`), split exactly by UTC
    day. Seconds closed before instances kept their periods are booked on the record's last update. Lambda:
    requests and GB-seconds from its ledger, which keeps months, so Lambda rows carry a month. S3: GB-months
    per bucket, storage class and UTC day from the server's storage measurements (runtime/services/s3/
    storage_meter.py), up to now at the last measured size."""
    now = time.time() if now is None else now
    rows: list[dict] = []
    if settings.db_path.exists() and (settings.data_dir / accounts.ACCOUNT_FILE).exists():
        account = accounts.load_or_create(settings.data_dir).account_id
        with SqliteStore(settings.db_path) as store:
            rows += _ec2_rows(store, now)
            rows += _lambda_rows(store, account, now, months)
            rows += _s3_rows(store, account, now, months)
    totals: dict[str, float] = {}
    for row in rows:
        if row["CostUsd"] is not None:
            totals[row["Service"]] = round(totals.get(row["Service"], 0.0) + row["CostUsd"], 6)
    return {"Currency": "USD", "GeneratedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "Rows": rows, "Totals": totals, "Total": round(sum(totals.values()), 6),
            "NotTracked": ["s3 requests and data transfer", "s3 multipart uploads in progress"]}
