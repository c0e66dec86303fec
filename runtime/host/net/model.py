"""Desired network state of one VPC, as the host realiser needs it (pure data, no I/O).

The services layer builds a `VpcNet` from the database; `realise.ensure_vpc` makes the kernel match it
exactly. AWS ids are opaque strings here, used only to derive names (`naming`). AWS defaults (the
default NACL's rule 100, the default SG's self reference, the main route table) are the caller's job:
this model says exactly which rules exist. Protocols are IANA numbers, -1 meaning all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from . import naming

ALL = -1
ICMP = 1
TCP = 6
UDP = 17

IGW = "igw"
BLACKHOLE = "blackhole"


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    cidr: str
    route_table_id: str
    network_acl_id: str

    @property
    def gateway(self) -> str:
        """The VPC router's address in the subnet (`.1`)."""
        return str(ipaddress.ip_network(self.cidr).network_address + 1)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.cidr).prefixlen


@dataclass(frozen=True)
class Route:
    """A non-local route. `target` is `IGW` or `BLACKHOLE`; an IGW route with no IGW attached is a blackhole."""
    destination: str
    target: str


@dataclass(frozen=True)
class RouteTable:
    route_table_id: str
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class NaclEntry:
    """One NACL entry; ports only for TCP/UDP, ICMP type/code (-1 = any) only for ICMP."""
    rule_number: int
    egress: bool
    action: str                 # "allow" | "deny"
    cidr: str
    protocol: int = ALL
    port_from: int | None = None
    port_to: int | None = None
    icmp_type: int = -1
    icmp_code: int = -1


@dataclass(frozen=True)
class Nacl:
    network_acl_id: str
    entries: tuple[NaclEntry, ...] = ()


@dataclass(frozen=True)
class SgRule:
    """One allow rule. Exactly one of `cidr` / `group_id` is set. For ICMP, from/to are type/code."""
    egress: bool
    protocol: int = ALL
    from_port: int = -1
    to_port: int = -1
    cidr: str | None = None
    group_id: str | None = None
    rule_id: str = ""


@dataclass(frozen=True)
class SecurityGroup:
    group_id: str
    rules: tuple[SgRule, ...] = ()


@dataclass(frozen=True)
class Eni:
    eni_id: str
    subnet_id: str
    private_ip: str
    security_group_ids: tuple[str, ...] = ()
    mac: str | None = None
    secondary_ips: tuple[str, ...] = ()
    source_dest_check: bool = True

    @property
    def ips(self) -> tuple[str, ...]:
        return (self.private_ip, *self.secondary_ips)


@dataclass(frozen=True)
class PublicIp:
    """1:1 NAT at the IGW between a public address and a private address of an ENI in this VPC."""
    public_ip: str
    private_ip: str


@dataclass(frozen=True)
class VpcNet:
    vpc_id: str
    cidr: str
    subnets: tuple[Subnet, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    nacls: tuple[Nacl, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    enis: tuple[Eni, ...] = ()
    igw_attached: bool = False
    public_ips: tuple[PublicIp, ...] = field(default=())

    def subnet(self, subnet_id: str) -> Subnet:
        for s in self.subnets:
            if s.subnet_id == subnet_id:
                return s
        raise KeyError(subnet_id)

    def group(self, group_id: str) -> SecurityGroup:
        for g in self.security_groups:
            if g.group_id == group_id:
                return g
        raise KeyError(group_id)


def validate(net: VpcNet) -> None:
    """Raise ValueError when `net` is not internally consistent (a caller bug, never user input)."""
    vpc = ipaddress.ip_network(net.cidr)
    rtbs = {r.route_table_id for r in net.route_tables}
    nacls = {n.network_acl_id for n in net.nacls}
    sgs = {g.group_id for g in net.security_groups}
    seen: list[ipaddress.IPv4Network] = []
    for s in net.subnets:
        cidr = ipaddress.ip_network(s.cidr)
        if not cidr.subnet_of(vpc):
            raise ValueError(f"{s.subnet_id} {s.cidr} outside {net.cidr}")
        if any(cidr.overlaps(o) for o in seen):
            raise ValueError(f"{s.subnet_id} {s.cidr} overlaps another subnet")
        seen.append(cidr)
        if s.route_table_id not in rtbs:
            raise ValueError(f"{s.subnet_id}: unknown route table {s.route_table_id}")
        if s.network_acl_id not in nacls:
            raise ValueError(f"{s.subnet_id}: unknown network ACL {s.network_acl_id}")
    tables = [naming.route_table_number(r.route_table_id) for r in net.route_tables]
    if len(set(tables)) != len(tables):
        raise ValueError("route table ids hash to the same kernel table")
    for r in net.route_tables:
        for route in r.routes:
            if route.target not in (IGW, BLACKHOLE):
                raise ValueError(f"{r.route_table_id}: unsupported target {route.target}")
    ips: set[str] = set()
    for e in net.enis:
        subnet = ipaddress.ip_network(net.subnet(e.subnet_id).cidr)
        for ip in e.ips:
            if ipaddress.ip_address(ip) not in subnet:
                raise ValueError(f"{e.eni_id}: {ip} outside its subnet")
            if ip in ips:
                raise ValueError(f"{e.eni_id}: {ip} used twice")
            ips.add(ip)
        for g in e.security_group_ids:
            if g not in sgs:
                raise ValueError(f"{e.eni_id}: unknown security group {g}")
    for g in net.security_groups:
        for rule in g.rules:
            if (rule.cidr is None) == (rule.group_id is None):
                raise ValueError(f"{g.group_id}: a rule needs exactly one of cidr/group_id")
    for p in net.public_ips:
        if p.private_ip not in ips:
            raise ValueError(f"public {p.public_ip} maps to unknown private {p.private_ip}")
