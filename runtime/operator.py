"""What `terrarium status`, `ps` and `doctor` report: read from the state database and the host, never from
the API, so they work whether or not a server is running (SQLite WAL lets them read beside it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

from runtime.config import Settings
from runtime.iam import account as accounts
from runtime.state import SqliteStore

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
    with SqliteStore(settings.db_path) as store:
        records = store.list("ec2.instance")
    return [{"InstanceId": r.id, "State": r.status.get("State"), "Type": r.spec.get("InstanceType"),
             "PrivateIp": r.spec.get("PrivateIpAddress"), "PublicIp": r.status.get("PublicIp"),
             "Eni": (r.spec.get("Placement") or {}).get("NetworkInterfaceId"),
             "Container": f"tr-i-{r.id}"} for r in records]


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
    """Remove what this Terrarium made on the host (containers, VPC namespaces); keep the database unless
    `purge`. `everything` also sweeps objects of any other Terrarium on the host. Returns what went."""
    from runtime.control.vpc_net import REALISED
    from runtime.host.docker import containers
    from runtime.host.net import realise

    removed: list[str] = []
    owner = None
    vpc_ids: set[str] = set()
    if settings.db_path.exists():
        owner = accounts.load_or_create(settings.data_dir).account_id \
            if (settings.data_dir / accounts.ACCOUNT_FILE).exists() else None
        with SqliteStore(settings.db_path) as store:
            vpc_ids = {r.id for r in store.list("ec2.vpc")} | set(store.get_meta(REALISED, []))
            instance_ids = {r.id for r in store.list("ec2.instance")}
        for instance_id in instance_ids:
            containers.remove(instance_id)
            removed.append(containers.container_name(instance_id))
    for instance_id in containers.owned_instances(None if everything else owner) if (owner or everything) else ():
        containers.remove(instance_id)
        removed.append(containers.container_name(instance_id))
    for vpc_id in sorted(vpc_ids):
        realise.remove_vpc(vpc_id)
        removed.append(vpc_id)
    if everything:
        removed += sorted(realise.remove_orphans(()))
    if purge and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
        removed.append(str(settings.data_dir))
    return removed
