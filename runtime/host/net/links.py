"""Netlink operations (pyroute2): links, addresses, routes and rules inside one namespace.

Every function takes an `IPRoute` opened inside the target namespace (see `in_ns`) and converges one
object: `ensure_*` creates what is missing and repairs what is wrong, `delete_*` tolerates missing.
Only routes and rules that we own are ever deleted: tables >= 1000, routes of proto `static` in main
(never the kernel's connected routes), and rules whose priority is in our band.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyroute2 import Conntrack, IPRoute, NetlinkError

from runtime.errors import RealiseError

from . import netns

T = TypeVar("T")
RT_TABLE_MAIN = 254
OUR_TABLES_FROM = 1000
RULE_PRIO_LOCAL = 100       # to <vpc cidr> lookup main: the AWS "local" route wins
RULE_PRIO_SUBNET = 200      # from <subnet> lookup <route table>
RT_PROTO_STATIC = 4
CATCH_ALL_METRIC = 4294967295


def in_ns(path: str, fn: Callable[[IPRoute], T]) -> T:
    """Run `fn(ipr)` with a request-only netlink socket inside the namespace at `path`.

    Netlink failures that `fn` does not handle become `RealiseError` (errno kept in the message).
    """
    def body() -> T:
        with IPRoute(groups=0) as ipr:
            return fn(ipr)
    try:
        return netns.run_in(path, body)
    except NetlinkError as exc:
        raise RealiseError(f"netlink in {path}: {exc}") from exc


def links(ipr: IPRoute) -> dict[str, dict]:
    """ifname -> {index, kind, master, address, up, peer_netnsid, nf_call_iptables}: one dump."""
    out = {}
    for msg in ipr.get_links():
        data = msg.get(("IFLA_LINKINFO", "IFLA_INFO_DATA"))
        out[msg.get("IFLA_IFNAME")] = {
            "index": msg["index"], "kind": msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")),
            "master": msg.get("IFLA_MASTER"), "address": msg.get("IFLA_ADDRESS"),
            "up": bool(msg["flags"] & 1), "peer_netnsid": msg.get("IFLA_LINK_NETNSID"),
            "nf_call_iptables": data.get("IFLA_BR_NF_CALL_IPTABLES") if data is not None and
            msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) == "bridge" else None,
        }
    return out


def addresses(ipr: IPRoute) -> dict[int, set[tuple[str, int]]]:
    """ifindex -> IPv4 (address, prefixlen) set: one dump."""
    out: dict[int, set[tuple[str, int]]] = {}
    for a in ipr.get_addr(family=2):
        out.setdefault(a["index"], set()).add((a.get("IFA_ADDRESS"), a["prefixlen"]))
    return out


def index_of(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def delete_link(ipr: IPRoute, name: str) -> None:
    idx = index_of(ipr, name)
    if idx is None:
        return
    try:
        ipr.link("del", index=idx)
    except NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise


def set_up(ipr: IPRoute, name: str, have: dict | None = None) -> None:
    """`name` up; `have` is its `links()` entry when the caller already dumped it."""
    if have is not None and have["up"]:
        return
    ipr.link("set", index=have["index"] if have else index_of(ipr, name), state="up")


def ensure_addresses(ipr: IPRoute, link: str | int, wanted: list[tuple[str, int]],
                     current: set[tuple[str, int]] | None = None) -> None:
    """Make the IPv4 addresses of `link` (name or index) exactly `wanted` [(ip, prefixlen)].

    `current` is the link's entry from `addresses()` when the caller already dumped them.
    """
    idx = link if isinstance(link, int) else index_of(ipr, link)
    if current is None:
        current = {(a.get("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(family=2, index=idx)}
    for ip, plen in current - set(wanted):
        ipr.addr("del", index=idx, address=ip, prefixlen=plen)
    for ip, plen in set(wanted) - current:
        ipr.addr("add", index=idx, address=ip, prefixlen=plen)


def ensure_bridge(ipr: IPRoute, name: str, gateway: str, prefixlen: int, have: dict | None,
                  current: set[tuple[str, int]]) -> None:
    """A subnet bridge: br_netfilter on (its traffic must meet the VPC's iptables), gateway address, up.

    `have` is the bridge's `links()` entry (None if absent), `current` its addresses.
    """
    if have is not None and have["kind"] != "bridge":
        delete_link(ipr, name)
        have, current = None, set()
    if have is None:
        ipr.link("add", ifname=name, kind="bridge", br_nf_call_iptables=1, br_mcast_snooping=0)
    elif have["nf_call_iptables"] != 1:
        ipr.link("set", index=have["index"], kind="bridge", br_nf_call_iptables=1)
    ensure_addresses(ipr, have["index"] if have else name, [(gateway, prefixlen)], current)
    set_up(ipr, name, have)


def ensure_port(ipr: IPRoute, name: str, bridge: str, have: dict | None = None,
                bridge_index: int | None = None) -> None:
    """`name` enslaved to `bridge` and up (`have`/`bridge_index` from a `links()` dump, if at hand)."""
    have = have or links(ipr)[name]
    br = bridge_index or index_of(ipr, bridge)
    if have["master"] != br:
        ipr.link("set", index=have["index"], master=br)
    if not have["up"]:
        ipr.link("set", index=have["index"], state="up")


def add_veth(ipr: IPRoute, name: str, peer: str, peer_ns_path: str, peer_mac: str | None = None) -> None:
    """One netlink request: `name` here, `peer` born directly in the other namespace (as CNI does)."""
    spec: dict = {"ifname": peer, "net_ns_fd": peer_ns_path}
    if peer_mac:
        spec["address"] = peer_mac
    ipr.link("add", ifname=name, kind="veth", peer=spec)


@dataclass(frozen=True)
class RouteSpec:
    """A route we own: `kind` is "unicast" (via `gateway` on `dev`, onlink) or "blackhole"."""
    dst: str
    kind: str = "unicast"
    gateway: str | None = None
    dev: str | None = None
    metric: int = 0


def _route_key(msg, names: dict[int, str]) -> RouteSpec:
    plen = msg["dst_len"]
    dst = f"{msg.get('RTA_DST') or '0.0.0.0'}/{plen}"
    kind = {1: "unicast", 6: "blackhole"}.get(msg["type"], str(msg["type"]))
    return RouteSpec(dst, kind, msg.get("RTA_GATEWAY"), names.get(msg.get("RTA_OIF")) if kind == "unicast" else None,
                     msg.get("RTA_PRIORITY") or 0)


def _route_kwargs(spec: RouteSpec, table: int, ipr: IPRoute) -> dict:
    kw = {"dst": spec.dst, "table": table, "proto": RT_PROTO_STATIC, "priority": spec.metric}
    if spec.kind == "blackhole":
        kw["type"] = "blackhole"
    else:
        kw.update(gateway=spec.gateway, oif=index_of(ipr, spec.dev), flags=["onlink"])
    return kw


def sync_routes(ipr: IPRoute, wanted: dict[int, set[RouteSpec]], have_links: dict[str, dict] | None = None) -> None:
    """Make our routes exactly `wanted` {table: routes}: tables >= 1000 whole, static routes in main.

    `have_links` is a current `links()` dump when the caller has one.
    """
    names = {v["index"]: k for k, v in (have_links or links(ipr)).items()}
    have: dict[int, set[RouteSpec]] = {}
    for msg in ipr.get_routes(family=2):
        table = msg.get("RTA_TABLE") or msg["table"]
        if table >= OUR_TABLES_FROM or (table == RT_TABLE_MAIN and msg["proto"] == RT_PROTO_STATIC):
            have.setdefault(table, set()).add(_route_key(msg, names))
    for table, routes in have.items():
        for spec in routes - wanted.get(table, set()):
            try:
                ipr.route("del", table=table, dst=spec.dst, priority=spec.metric,
                          type=spec.kind if spec.kind == "blackhole" else "unicast",
                          **({"gateway": spec.gateway} if spec.gateway else {}))
            except NetlinkError as exc:
                if exc.code != errno.ESRCH:
                    raise
    for table, routes in wanted.items():
        for spec in routes - have.get(table, set()):
            ipr.route("replace", **_route_kwargs(spec, table, ipr))


@dataclass(frozen=True)
class RuleSpec:
    priority: int
    table: int
    src: str | None = None
    dst: str | None = None


def sync_rules(ipr: IPRoute, wanted: set[RuleSpec]) -> None:
    """Make the IPv4 policy rules with our priorities exactly `wanted`; the kernel's defaults stay."""
    have = set()
    for msg in ipr.get_rules(family=2):
        prio = msg.get("FRA_PRIORITY") or 0
        if prio not in (RULE_PRIO_LOCAL, RULE_PRIO_SUBNET):
            continue
        src = f"{msg.get('FRA_SRC')}/{msg['src_len']}" if msg.get("FRA_SRC") else None
        dst = f"{msg.get('FRA_DST')}/{msg['dst_len']}" if msg.get("FRA_DST") else None
        have.add(RuleSpec(prio, msg.get("FRA_TABLE") or msg["table"], src, dst))
    for spec in have - wanted:
        ipr.rule("del", **_rule_kwargs(spec))
    for spec in wanted - have:
        ipr.rule("add", **_rule_kwargs(spec))


def _rule_kwargs(spec: RuleSpec) -> dict:
    kw: dict = {"family": 2, "priority": spec.priority, "table": spec.table, "action": "FR_ACT_TO_TBL"}
    for key, cidr in (("src", spec.src), ("dst", spec.dst)):
        if cidr:
            net = ipaddress.ip_network(cidr)
            kw[key] = str(net.network_address)
            kw[f"{key}_len"] = net.prefixlen
    return kw


def ensure_default_route(ipr: IPRoute, dev: str, gateway: str) -> None:
    ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index_of(ipr, dev), flags=["onlink"])


def flush_conntrack(addresses: set[str]) -> int:
    """Delete conntrack entries with any address of either tuple in `addresses`.

    Called in the VPC namespace when a public IP moves or goes (existing NAT bindings would otherwise
    keep steering its flows to the old instance, network.md P9) or an ENI address goes (a reuse of it
    must not inherit flows). Returns the number deleted.
    """
    deleted = 0
    ct = Conntrack()
    try:
        for entry in list(ct.dump_entries()):
            ends = {entry.tuple_orig.saddr, entry.tuple_orig.daddr, entry.tuple_reply.saddr, entry.tuple_reply.daddr}
            if ends & addresses:
                try:
                    ct.delete(entry)
                    deleted += 1
                except NetlinkError as exc:
                    if exc.code != errno.ENOENT:
                        raise
    finally:
        ct.close()
    return deleted


def in_root(fn: Callable[[IPRoute], T]) -> T:
    """Run `fn(ipr)` in the namespace this process runs in (the host's, for the server)."""
    try:
        with IPRoute(groups=0) as ipr:
            return fn(ipr)
    except NetlinkError as exc:
        raise RealiseError(f"netlink in the root namespace: {exc}") from exc


def root_links() -> dict[str, dict]:
    """`links()` of the namespace this process runs in."""
    return in_root(links)
