"""Lambda's Hyperplane ENIs: how a sandbox of a VPC function reaches its VPC, and only as the ENI may.

On AWS a VPC function's execution environments reach the VPC through a Hyperplane ENI: one interface in
the subnet, carrying the function's security groups, whose address every environment shares through NAT.
Here that ENI is the ordinary ENI veth into the subnet's bridge (`realise.attach_eni`), living in its own
namespace `tr-hp-<hash(eni)>` that does nothing but route and masquerade. Each sandbox keeps its own network
namespace (created by the sandbox itself, see runtime/sandbox) and is plugged in with a veth of its own:
`tr-s-<keeper pid>` here, `eth0` in the sandbox, with the address 100.64.0.0 + pid (unique while the
sandbox lives: pids are below 2^22 and 100.64.0.0/10 has 2^22 addresses). Here:
- traffic from a sandbox leaves through the ENI with the ENI's private IP (SNAT), so security groups, network
  ACLs and route tables see the ENI, as on AWS;
- nothing is forwarded between sandboxes, and nothing from the VPC reaches a sandbox but replies (a Lambda
  environment accepts no inbound connection on AWS either); the namespace itself answers nothing.
A sandbox's veth goes away with its namespace when the sandbox exits, so nothing per invocation needs cleaning.
Blocking calls, like the rest of this package.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import time

from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import NotFound, RealiseError

from . import links, naming, netns, tools
from .model import Eni
from .realise import attach_eni, lock_for

SANDBOX_BASE = ipaddress.IPv4Network("100.64.0.0/10")
GATEWAY_IP = "169.254.1.1"  # on every sandbox link here: the sandbox's default route, onlink
_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
            "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1",
            "net.netfilter.nf_conntrack_tcp_loose": "0"}
PLUG_TIMEOUT_S = 2.0
# Interface indexes are per namespace, so a plug names both ends' indexes up front and needs no lookups: the
# sandbox's namespace is fresh (lo is 1, its eth0 asks for 2), and here tr-s-<pid> asks for a pid-derived one.
SANDBOX_ETH0_INDEX = 2
LINK_INDEX_BASE = 1 << 22


def _ruleset(eni: Eni) -> str:
    link = naming.SANDBOX_LINK_PREFIX + "+"
    return "\n".join([
        "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        f"-A POSTROUTING -o eth0 -s {SANDBOX_BASE} -j SNAT --to-source {eni.private_ip}",
        "COMMIT",
        "*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        f"-A FORWARD -i {link} -o eth0 -j ACCEPT",
        f"-A FORWARD -i eth0 -o {link} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
        "COMMIT", ""])


def namespace_of(eni_id: str) -> str:
    return naming.netns_path(naming.lambda_netns(eni_id))


def ensure(vpc_id: str, eni: Eni) -> str:
    """The ENI's namespace, plugged into its subnet and filtering as above; idempotent. Returns its path.
    `NotFound` while the VPC's own namespace is not there yet (the caller retries)."""
    name = naming.lambda_netns(eni.eni_id)
    path = naming.netns_path(name)
    with lock_for(name):
        netns.create(name)
        netns.run_in(path, lambda: netns.write_sysctls(_SYSCTLS))
        links.in_ns(path, lambda ipr: links.set_up(ipr, "lo"))
        tools.run_in(path, ["iptables-restore", "-w"], stdin=_ruleset(eni))
    attach_eni(vpc_id, eni, name)
    return path


def remove(eni_id: str) -> None:
    """Delete the ENI's namespace (its veth into the subnet and every sandbox link go with it)."""
    name = naming.lambda_netns(eni_id)
    with lock_for(name):
        netns.remove(name)


def owned() -> set[str]:
    """Names of the Hyperplane namespaces on the host (of every Terrarium on it)."""
    return {n for n in netns.list_names() if n.startswith(naming.LAMBDA_NETNS_PREFIX)}


def sandbox_address(pid: int) -> str:
    return str(SANDBOX_BASE.network_address + pid % SANDBOX_BASE.num_addresses)


def _own_netns(pid: int) -> bool:
    """Has `pid` left its parent's network namespace (the sandbox unshares its own right after it starts)?"""
    with open(f"/proc/{pid}/status") as f:
        ppid = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
    return os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat(f"/proc/{ppid}/ns/net").st_ino


def plug_sandbox(eni_id: str, pid: int, timeout_s: float = PLUG_TIMEOUT_S) -> str:
    """Give the sandbox whose first process is `pid` an `eth0` into the ENI's namespace; returns its address.

    Waits (briefly) for the sandbox to have unshared its network namespace. `NotFound` when the ENI's namespace
    is missing; `RealiseError` when the sandbox vanished or never got a namespace of its own.
    """
    path = namespace_of(eni_id)
    if not os.path.exists(path):
        raise NotFound(f"the Hyperplane namespace of {eni_id} is missing")
    deadline = time.monotonic() + timeout_s
    try:
        while not _own_netns(pid):
            if time.monotonic() > deadline:
                raise RealiseError(f"sandbox {pid} has no network namespace of its own after {timeout_s} s")
            time.sleep(0.0005)
    except (OSError, StopIteration) as exc:
        raise RealiseError(f"sandbox {pid} is gone: {exc}") from exc
    link, address, target = naming.sandbox_link(pid), sandbox_address(pid), f"/proc/{pid}/ns/net"
    eth0 = SANDBOX_ETH0_INDEX

    def eni_side(ipr) -> None:
        index = LINK_INDEX_BASE + pid
        veth = {"ifname": link, "kind": "veth", "state": "up",
                "peer": {"ifname": "eth0", "net_ns_fd": target, "index": eth0}}
        try:
            ipr.link("add", index=index, **veth)
        except NetlinkError as exc:  # a link left by an earlier sandbox with this pid, or the index is taken
            if exc.code != errno.EEXIST:
                raise
            links.delete_link(ipr, link)
            ipr.link("add", **veth)
            index = links.index_of(ipr, link)
        ipr.addr("add", index=index, address=GATEWAY_IP, prefixlen=32)
        ipr.route("add", dst=f"{address}/32", oif=index, proto=links.RT_PROTO_STATIC)

    def sandbox_side(ipr) -> None:
        ipr.addr("add", index=eth0, address=address, prefixlen=32)
        ipr.link("set", index=eth0, state="up")
        ipr.route("replace", dst="0.0.0.0/0", gateway=GATEWAY_IP, oif=eth0, flags=["onlink"])

    links.in_ns(path, eni_side)
    links.in_ns(target, sandbox_side)
    return address
