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


READ = ["ipset", "save"]


def current_sets(saved: str) -> dict[str, list[str]]:
    """Our sets in `ipset save` output."""
    out: dict[str, list[str]] = {}
    for line in saved.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1].startswith("tr-sg-"):
            if words[0] == "create":
                out.setdefault(words[1], [])
            elif words[0] == "add":
                out.setdefault(words[1], []).append(words[2])
    return {k: sorted(v) for k, v in out.items()}


def apply_sets(netns_path: str, sets: dict[str, list[str]], saved: str) -> set[str]:
    """Bring every set in `sets` to its members, touching only the sets that differ.

    `saved` is the namespace's `ipset save` output (`READ`). Returns the names of our sets that
    existed before, for `prune_sets`.
    """
    have = current_sets(saved)
    changed = {name: members for name, members in sets.items() if have.get(name) != members}
    if changed:
        run_in(netns_path, ["ipset", "restore"], stdin=render_sets(changed))
    return set(have)


def prune_sets(netns_path: str, existing: set[str], keep: set[str]) -> None:
    """Destroy our sets that nothing references any more (call after the new ruleset is in)."""
    stale = sorted(existing - keep)
    if stale:
        run_in(netns_path, ["ipset", "restore"], stdin="".join(f"destroy {n}\n" for n in stale))
