"""The VPC network realiser: renders one VPC's records into the host model (`host/net/model.VpcNet`) and
converges its namespace, bridges, routes and rules to it; serves the VPC's metadata socket.

One target per VPC. Every record that affects a VPC's network (subnets, route tables, NACLs, security
groups, ENIs, internet gateways, Elastic IPs, instances whose public address moved) maps to that VPC's target,
so the realiser always renders the VPC whole from the store: level-triggered, never incremental.

AWS semantics rendered here: the local route is implicit; a route to an internet gateway that is not attached
to this VPC is a blackhole; a subnet without an explicit association uses the main route table and the
default network ACL; public addresses come from ENIs' auto-assigned public IPs and from Elastic IP
associations.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Protocol

from runtime.control.ledger import HostLedger
from runtime.control.realiser import Target
from runtime.errors import NotFound
from runtime.host.net import model, realise
from runtime.state import Key, Record, Store
from runtime.state.kinds import (ADDRESS, INSTANCE, INTERNET_GATEWAY, NETWORK_ACL, NETWORK_INTERFACE, ROUTE_TABLE,
                                 SECURITY_GROUP, SUBNET, VPC)

LOG = logging.getLogger(__name__)

PROTOCOLS = {"-1": model.ALL, "all": model.ALL, "tcp": model.TCP, "udp": model.UDP, "icmp": model.ICMP}


def protocol_number(value) -> int:
    text = str(value).lower()
    return PROTOCOLS[text] if text in PROTOCOLS else int(text)


class ImdsPort(Protocol):
    """What the realiser needs of the metadata server (see host/imds/server.py)."""

    def serve_from_thread(self, vpc_id: str, make_socket: Callable[[], socket.socket]) -> None: ...

    def stop_from_thread(self, vpc_id: str) -> None: ...


def render(store: Store, vpc: Record) -> model.VpcNet:
    vpc_id = vpc.id
    subnets = store.list(SUBNET, parent=vpc_id)
    tables = store.list(ROUTE_TABLE, parent=vpc_id)
    nacls = store.list(NETWORK_ACL, parent=vpc_id)
    groups = store.list(SECURITY_GROUP, parent=vpc_id)
    attached_igws = {r.id for r in store.list(INTERNET_GATEWAY) if r.spec.get("VpcId") == vpc_id}
    main_table = next((t.id for t in tables if t.spec.get("Main")), tables[0].id if tables else "")
    default_nacl = next((n.id for n in nacls if n.spec.get("IsDefault")), nacls[0].id if nacls else "")
    table_of = {a["SubnetId"]: t.id for t in tables for a in t.spec.get("Associations", []) if a.get("SubnetId")}
    nacl_of = {a["SubnetId"]: n.id for n in nacls for a in n.spec.get("Associations", []) if a.get("SubnetId")}
    enis = [e for s in subnets for e in store.list(NETWORK_INTERFACE, parent=s.id)]
    public = {}
    for eni in enis:
        if eni.spec.get("PublicIp"):
            public[eni.spec["PublicIp"]] = eni.spec["PrivateIpAddress"]
    eni_ids = {e.id for e in enis}
    for address in store.list(ADDRESS):
        if address.spec.get("NetworkInterfaceId") in eni_ids and address.spec.get("PrivateIpAddress"):
            public[address.spec["PublicIp"]] = address.spec["PrivateIpAddress"]
    return model.VpcNet(
        vpc_id=vpc_id, cidr=vpc.spec["CidrBlock"],
        subnets=tuple(model.Subnet(s.id, s.spec["CidrBlock"], table_of.get(s.id, main_table),
                                   nacl_of.get(s.id, default_nacl)) for s in subnets),
        route_tables=tuple(model.RouteTable(t.id, tuple(_routes(t, attached_igws))) for t in tables),
        nacls=tuple(model.Nacl(n.id, tuple(_nacl_entry(e) for e in n.spec.get("Entries", []))) for n in nacls),
        security_groups=tuple(model.SecurityGroup(g.id, tuple(r for r in map(_sg_rule, g.spec.get("Rules", []))
                                                              if r is not None)) for g in groups),
        enis=tuple(model.Eni(e.id, e.spec["SubnetId"], e.spec["PrivateIpAddress"],
                             tuple(e.spec.get("Groups") or ()), e.spec.get("MacAddress"),
                             tuple(e.spec.get("SecondaryPrivateIpAddresses") or ()),
                             e.spec.get("SourceDestCheck", True)) for e in enis),
        igw_attached=bool(attached_igws),
        public_ips=tuple(model.PublicIp(p, private) for p, private in sorted(public.items())))


def _routes(table: Record, attached_igws: set[str]):
    for route in table.spec.get("Routes", []):
        destination = route.get("DestinationCidrBlock")
        gateway = route.get("GatewayId")
        if not destination or gateway == "local":
            continue
        target = model.IGW if gateway in attached_igws else model.BLACKHOLE
        yield model.Route(destination, target)


def _nacl_entry(entry: dict) -> model.NaclEntry:
    ports = entry.get("PortRange") or {}
    icmp = entry.get("IcmpTypeCode") or {}
    protocol = protocol_number(entry.get("Protocol", "-1"))
    tcp_udp = protocol in (model.TCP, model.UDP)
    return model.NaclEntry(
        rule_number=entry["RuleNumber"], egress=bool(entry["Egress"]), action=entry["RuleAction"],
        cidr=entry["CidrBlock"], protocol=protocol,
        port_from=ports.get("From") if tcp_udp else None, port_to=ports.get("To") if tcp_udp else None,
        icmp_type=icmp.get("Type", -1) if protocol == model.ICMP else -1,
        icmp_code=icmp.get("Code", -1) if protocol == model.ICMP else -1)


def _sg_rule(rule: dict) -> model.SgRule | None:
    """IPv6 and prefix-list rules have nothing to match in an IPv4-only VPC namespace and are skipped."""
    cidr, group = rule.get("CidrIpv4"), rule.get("ReferencedGroupId")
    if not cidr and not group:
        return None
    protocol = protocol_number(rule.get("IpProtocol", "-1"))
    return model.SgRule(egress=bool(rule.get("IsEgress")), protocol=protocol,
                        from_port=rule.get("FromPort", -1) if protocol != model.ALL else -1,
                        to_port=rule.get("ToPort", -1) if protocol != model.ALL else -1,
                        cidr=cidr, group_id=group, rule_id=rule.get("SecurityGroupRuleId", ""))


REALISED = "vpc_net.realised"  # store meta: the VPCs this Terrarium has put on the host, for its own GC
LEDGER = HostLedger(REALISED)


class VpcNetRealiser:
    """Garbage collection removes only VPCs this Terrarium realised (a ledger in the store's meta), never the
    namespaces of another Terrarium on the same host; `terrarium down` sweeps everything on request."""

    name = "vpc"

    def __init__(self, imds: ImdsPort | None = None) -> None:
        self.imds = imds

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        kind, record_id = key
        if kind == VPC:
            return {(self.name, record_id)}
        if kind not in (SUBNET, ROUTE_TABLE, INTERNET_GATEWAY, NETWORK_ACL, SECURITY_GROUP, NETWORK_INTERFACE,
                        ADDRESS, INSTANCE):
            return set()
        try:
            record = store.get(kind, record_id)
        except NotFound:
            return self.all_targets(store)  # a deleted record: which VPC it was in is unknown, so all
        vpc_id = record.spec.get("VpcId") or (record.spec.get("Placement") or {}).get("VpcId")
        if kind == ADDRESS and record.spec.get("NetworkInterfaceId"):
            try:
                vpc_id = store.get(NETWORK_INTERFACE, record.spec["NetworkInterfaceId"]).spec.get("VpcId")
            except NotFound:
                return self.all_targets(store)
        if kind == INTERNET_GATEWAY:
            return self.all_targets(store)  # detaching moves it away from a VPC the record no longer names
        return {(self.name, vpc_id)} if vpc_id else set()

    def all_targets(self, store: Store) -> set[Target]:
        return {(self.name, r.id) for r in store.list(VPC)}

    def converge(self, store: Store, target: Target) -> None:
        vpc_id = target[1]
        try:
            vpc = store.get(VPC, vpc_id)
        except NotFound:
            self._remove(store, vpc_id)
            return
        realise.ensure_internet()
        LEDGER.note(store, vpc_id)
        created = realise.ensure_vpc(render(store, vpc))
        if self.imds is not None:
            if created:
                self.imds.stop_from_thread(vpc_id)
            self.imds.serve_from_thread(vpc_id, lambda: realise.open_imds_socket(vpc_id))

    def _remove(self, store: Store, vpc_id: str) -> None:
        if self.imds is not None:
            self.imds.stop_from_thread(vpc_id)
        realise.remove_vpc(vpc_id)
        LEDGER.forget(store, vpc_id)

    def collect_garbage(self, store: Store) -> list[str]:
        known = {r.id for r in store.list(VPC)}
        gone = sorted(LEDGER.ids(store) - known)
        for vpc_id in gone:
            self._remove(store, vpc_id)
        return gone
