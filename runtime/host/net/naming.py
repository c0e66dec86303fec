"""Deterministic, owned names for every kernel object the VPC realiser creates.

Everything starts with `tr-` (iptables chains with `TR-`), and every per-object name is derived from a
hash of the AWS id, so the name alone says who owns the object and which record it belongs to, and a
reconcile can recompute it from the database. Interface names fit IFNAMSIZ (15 characters).
"""

from __future__ import annotations

import hashlib

PREFIX = "tr-"
INTERNET_NETNS = "tr-inet"
NETNS_DIR = "/run/netns"

VPC_NETNS_PREFIX = "tr-v-"
HOST_NETNS_PREFIX = "tr-x-"
LAMBDA_NETNS_PREFIX = "tr-hp-"  # a Lambda Hyperplane ENI's namespace, shared by the function's sandboxes
SANDBOX_LINK_PREFIX = "tr-s-"   # a sandbox's veth, in its Hyperplane namespace; suffix = the keeper's pid
BRIDGE_PREFIX = "tr-b-"
ENI_PREFIX = "tr-e-"
UPLINK_PREFIX = "tr-u-"   # the internet end of a VPC's IGW veth, in tr-inet
HOSTLINK_PREFIX = "tr-h-"  # the internet end of an internet host's veth, in tr-inet
IGW_LINK = "tr-igw"        # the VPC end of the IGW veth, in the VPC netns
HOST_ACCESS_LINK = "tr-host0"  # opt-in: root namespace end of the veth into tr-inet
HOST_ACCESS_PEER = "tr-host1"  # ... and its tr-inet end

_HASH_LEN = 10


def short_hash(aws_id: str) -> str:
    """Ten hex digits of sha256: collision-free in practice at one host's scale."""
    return hashlib.sha256(aws_id.encode()).hexdigest()[:_HASH_LEN]


def vpc_netns(vpc_id: str) -> str:
    return VPC_NETNS_PREFIX + short_hash(vpc_id)


def lambda_netns(eni_id: str) -> str:
    return LAMBDA_NETNS_PREFIX + short_hash(eni_id)


def sandbox_link(pid: int) -> str:
    return f"{SANDBOX_LINK_PREFIX}{pid}"


def netns_path(name: str) -> str:
    return f"{NETNS_DIR}/{name}"


def bridge(subnet_id: str) -> str:
    return BRIDGE_PREFIX + short_hash(subnet_id)


def eni_link(eni_id: str) -> str:
    return ENI_PREFIX + short_hash(eni_id)


def uplink(vpc_id: str) -> str:
    return UPLINK_PREFIX + short_hash(vpc_id)


def host_netns(name: str) -> str:
    return HOST_NETNS_PREFIX + short_hash(name)


def host_link(name: str) -> str:
    return HOSTLINK_PREFIX + short_hash(name)


def sg_chain(eni_id: str, egress: bool) -> str:
    return ("TR-O-" if egress else "TR-I-") + short_hash(eni_id)


def group_chain(group_id: str, egress: bool) -> str:
    return ("TR-GE-" if egress else "TR-GI-") + short_hash(group_id)


def spoof_chain(eni_id: str) -> str:
    return "TR-S-" + short_hash(eni_id)


def nacl_chain(nacl_id: str, egress: bool) -> str:
    return ("TR-NE-" if egress else "TR-NI-") + short_hash(nacl_id)


def l2_chain(eni_id: str) -> str:
    return "TR-L2-" + short_hash(eni_id)


def l2_in_chain(eni_id: str) -> str:
    return "TR-L2I-" + short_hash(eni_id)


def sg_ipset(group_id: str) -> str:
    return "tr-sg-" + short_hash(group_id)


def route_table_number(route_table_id: str) -> int:
    """Kernel table id of a route table: 1000 + 30 bits of hash, clear of the reserved 253..255."""
    return 1000 + int(short_hash(route_table_id), 16) % (1 << 30)


def mac_for(eni_id: str) -> str:
    """A locally administered unicast MAC for ENIs whose record carries none."""
    h = short_hash(eni_id)
    return "02:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))
