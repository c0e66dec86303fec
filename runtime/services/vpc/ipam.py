"""Pure IPv4 address math for VPCs: CIDR parsing, size limits, overlap, containment, the 5 reserved addresses
of a subnet, and the next free private or public address. No store, no I/O: everything is a function of its
arguments, so the allocation rules are unit-tested exhaustively and shared by the providers and the reconciler.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

MIN_PREFIX = 16
MAX_PREFIX = 28
RESERVED_PER_SUBNET = 5

PUBLIC_RANGE = IPv4Network("198.51.100.0/24")
"""Terrarium's "internet" addresses (TEST-NET-2): Elastic IPs and auto-assigned public IPs come from here."""
PUBLIC_FIRST_HOST = 10
"""Addresses below .10 of PUBLIC_RANGE are kept for the internet namespace itself and test "internet hosts"."""


def parse_cidr(text: str) -> IPv4Network:
    """The canonical network of `text` (`10.0.0.18/16` -> `10.0.0.0/16`); `ValueError` if it is no IPv4 CIDR."""
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"not a CIDR block: {text!r}")
    return IPv4Network(text.strip(), strict=False)


def size_allowed(net: IPv4Network) -> bool:
    """AWS allows VPC and subnet blocks between /16 and /28."""
    return MIN_PREFIX <= net.prefixlen <= MAX_PREFIX


def overlaps(a: IPv4Network, b: IPv4Network) -> bool:
    return a.overlaps(b)


def contains(outer: IPv4Network, inner: IPv4Network) -> bool:
    return inner.subnet_of(outer)


def gateway_ip(net: IPv4Network) -> str:
    """The VPC router's address in a subnet: network + 1."""
    return str(net.network_address + 1)


def dns_ip(vpc_net: IPv4Network) -> str:
    """The Amazon-provided DNS resolver: the VPC's primary CIDR base + 2."""
    return str(vpc_net.network_address + 2)


def reserved(net: IPv4Network) -> set[str]:
    """Network, router (.1), DNS (.2), future use (.3) and broadcast."""
    base = net.network_address
    return {str(base), str(base + 1), str(base + 2), str(base + 3), str(net.broadcast_address)}


def usable_count(net: IPv4Network) -> int:
    return net.num_addresses - RESERVED_PER_SUBNET


def assignable(net: IPv4Network, ip: str) -> bool:
    """Whether `ip` may be given to an interface in subnet `net` (inside it and not reserved)."""
    try:
        address = IPv4Address(ip)
    except ValueError:
        return False
    return address in net and ip not in reserved(net)


def next_free_ip(net: IPv4Network, used: Iterable[str]) -> str | None:
    """The lowest assignable address of `net` not in `used`, or None when the subnet is full."""
    taken = set(used)
    first = int(net.network_address) + 4
    last = int(net.broadcast_address) - 1
    for value in range(first, last + 1):
        candidate = str(IPv4Address(value))
        if candidate not in taken:
            return candidate
    return None


def next_public_ip(used: Iterable[str]) -> str | None:
    """The lowest free address of PUBLIC_RANGE from PUBLIC_FIRST_HOST, or None when the pool is exhausted."""
    taken = set(used)
    base = int(PUBLIC_RANGE.network_address)
    for value in range(base + PUBLIC_FIRST_HOST, int(PUBLIC_RANGE.broadcast_address)):
        candidate = str(IPv4Address(value))
        if candidate not in taken:
            return candidate
    return None


def default_subnet_cidr(vpc_net: IPv4Network, index: int) -> str:
    """The index-th /20 of the default VPC (172.31.0.0/20, 172.31.16.0/20, ...), one per zone."""
    return str(list(vpc_net.subnets(new_prefix=20))[index])
