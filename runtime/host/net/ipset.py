"""Member sets of security groups, for rules that reference a group (`-m set --match-set`).

A set `tr-sg-<hash>` holds the private IPs of every ENI in the VPC that carries the group. Refresh is
atomic per set (Neutron's way): fill a `-n` twin, `swap`, destroy the twin, all in one `ipset restore`.
Sets are created before the iptables ruleset that references them and pruned after it.
"""

from __future__ import annotations

from . import naming
from .iptables import referenced_groups
from .model import VpcNet
from .tools import run_in

_TWIN = "-n"


def desired_sets(net: VpcNet) -> dict[str, list[str]]:
    """set name -> member IPs, for every group some rule references."""
    out = {}
    for gid in sorted(referenced_groups(net)):
        out[naming.sg_ipset(gid)] = sorted(ip for e in net.enis if gid in e.security_group_ids for ip in e.ips)
    return out


def render_sets(sets: dict[str, list[str]]) -> str:
    lines = []
    for name, members in sets.items():
        twin = name + _TWIN
        lines += [f"create {name} hash:ip family inet -exist", f"create {twin} hash:ip family inet -exist",
                  f"flush {twin}"]
        lines += [f"add {twin} {ip}" for ip in members]
        lines += [f"swap {twin} {name}", f"destroy {twin}"]
    return "\n".join(lines) + "\n"


def apply_sets(netns_path: str, sets: dict[str, list[str]]) -> None:
    if sets:
        run_in(netns_path, ["ipset", "restore"], stdin=render_sets(sets))


def prune_sets(netns_path: str, keep: set[str]) -> None:
    """Destroy our sets that nothing references any more (call after the new ruleset is in)."""
    names = run_in(netns_path, ["ipset", "list", "-n"]).split()
    stale = [n for n in names if n.startswith("tr-sg-") and n not in keep]
    if stale:
        run_in(netns_path, ["ipset", "restore"], stdin="".join(f"destroy {n}\n" for n in stale))
