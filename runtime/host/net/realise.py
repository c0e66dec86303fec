"""Public API of the VPC realiser: converge the host's networking to a `VpcNet`, attach ENIs, reconcile.

Host model (ARCHITECTURE.md, network.md):
* `tr-inet` is the region's internet. Each VPC with an attached IGW has a veth `tr-igw` (VPC side,
  169.254.1.2/32) <-> `tr-u-<hash>` (internet side, 169.254.1.1/32; every uplink carries the same
  address, so no transit allocation is needed), and one `/32` route per public IP in `tr-inet`.
  Only public addresses ever leave a VPC: the VPC namespace does the 1:1 NAT.
* `tr-v-<hash>` is the VPC router: a bridge `tr-b-<hash>` with the gateway `.1` per subnet, a kernel
  table per route table, rules `to <vpc> lookup main` (the local route) and `from <subnet> lookup
  <table>` (the association), the iptables/ebtables/ipset ruleset from `iptables.py`.
* An ENI is a veth `tr-e-<hash>` (a port of its subnet's bridge) <-> `eth0` in the instance namespace.
* IMDS: `169.254.169.254/32` sits on `lo` of every VPC namespace and INPUT admits TCP/80 from the
  subnet bridges. `open_imds_socket(vpc_id)` returns a listening socket created inside that namespace;
  the metadata server serves on it (aiohttp `SockSite`), and a connection's peer address is the
  caller's private IP, which with the VPC id identifies the ENI. Nothing is added to the root namespace.

Every call is synchronous and blocking (callers use `asyncio.to_thread`) and serialised per VPC.
`ensure_*` converge and are idempotent; `remove_*` tolerate missing objects and, like every teardown
here, run all their steps and raise an `ExceptionGroup` of whatever failed.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable

from runtime.errors import Conflict, NotFound

from . import ebtables, ipset, iptables, links, naming, netns, tools
from .links import CATCH_ALL_METRIC, RULE_PRIO_LOCAL, RULE_PRIO_SUBNET, RouteSpec, RuleSpec
from .model import BLACKHOLE, IGW, Eni, VpcNet, validate

INET_SIDE_IP = "169.254.1.1"
VPC_SIDE_IP = "169.254.1.2"

_VPC_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.default.accept_redirects": "0",
    "net.bridge.bridge-nf-call-iptables": "1", "net.bridge.bridge-nf-call-arptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
}
_ROUTER_ON = {"net.ipv4.ip_forward": "1", "net.netfilter.nf_conntrack_tcp_loose": "0"}
_INET_SYSCTLS = {
    "net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.ip_forward": "1",
}
_ENDPOINT_SYSCTLS = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}

_locks: dict[str, threading.Lock] = {}
_applied: dict[str, str] = {}  # vpc id -> the iptables document last applied (verified by digest before use)
_locks_guard = threading.Lock()


def lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _sysctls(path: str, values: dict[str, str]) -> None:
    netns.run_in(path, lambda: netns.write_sysctls(values))


def _teardown(what: str, steps: Iterable[Callable[[], None]]) -> None:
    errors = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # collected: teardown runs every step
            errors.append(exc)
    if errors:
        raise ExceptionGroup(f"removing {what}", errors)


# ---------------------------------------------------------------------------------------- internet

def ensure_internet() -> None:
    """The shared internet namespace `tr-inet`: a plain router with no filtering of its own."""
    with lock_for(naming.INTERNET_NETNS):
        path = naming.netns_path(naming.INTERNET_NETNS)
        netns.create(naming.INTERNET_NETNS)

        def converge(ipr) -> None:
            netns.write_sysctls(_INET_SYSCTLS)
            links.set_up(ipr, "lo", links.links(ipr)["lo"])
        links.in_ns(path, converge)


def ensure_internet_host(name: str, ip: str) -> str:
    """A namespace standing for a host on the internet at `ip`; returns the namespace's name."""
    ensure_internet()
    ns = naming.host_netns(name)
    path, inet = naming.netns_path(ns), naming.netns_path(naming.INTERNET_NETNS)
    hostlink = naming.host_link(name)
    netns.create(ns)
    _sysctls(path, _ENDPOINT_SYSCTLS)

    def inet_side(ipr) -> None:
        if links.index_of(ipr, hostlink) is None:
            links.add_veth(ipr, hostlink, "eth0", path)
        links.ensure_addresses(ipr, hostlink, [(INET_SIDE_IP, 32)])
        links.set_up(ipr, hostlink)
        ipr.route("replace", dst=f"{ip}/32", oif=links.index_of(ipr, hostlink), proto=links.RT_PROTO_STATIC)

    def host_side(ipr) -> None:
        links.set_up(ipr, "lo")
        links.ensure_addresses(ipr, "eth0", [(ip, 32)])
        links.set_up(ipr, "eth0")
        links.ensure_default_route(ipr, "eth0", INET_SIDE_IP)

    with lock_for(naming.INTERNET_NETNS):
        links.in_ns(inet, inet_side)
    links.in_ns(path, host_side)
    return ns


def remove_internet_host(name: str) -> None:
    inet = naming.netns_path(naming.INTERNET_NETNS)
    steps = [lambda: netns.remove(naming.host_netns(name))]
    if netns.exists(naming.INTERNET_NETNS):
        steps.insert(0, lambda: links.in_ns(inet, lambda ipr: links.delete_link(ipr, naming.host_link(name))))
    _teardown(f"internet host {name}", steps)


def ensure_host_access(public_cidrs: Iterable[str], host_ip: str = "198.51.100.1") -> None:
    """Opt-in: let the host itself reach public IPs (ssh/curl from the host), the one change to the host.

    A veth `tr-host0` (root namespace, `host_ip`/32) <-> `tr-host1` (tr-inet) and root routes for
    exactly `public_cidrs` through it, sourced from `host_ip` (TEST-NET-2 by default, never routed
    for real); instances see the host as an internet client at `host_ip`. Nothing is NATed out of the
    host's uplink.
    """
    ensure_internet()
    inet = naming.netns_path(naming.INTERNET_NETNS)
    wanted = {str(ipaddress.ip_network(c)) for c in public_cidrs}

    def root_side(ipr) -> None:
        if links.index_of(ipr, naming.HOST_ACCESS_LINK) is None:
            links.add_veth(ipr, naming.HOST_ACCESS_LINK, naming.HOST_ACCESS_PEER, inet)
        idx = links.index_of(ipr, naming.HOST_ACCESS_LINK)
        links.ensure_addresses(ipr, idx, [(host_ip, 32)])
        links.set_up(ipr, naming.HOST_ACCESS_LINK)
        for msg in ipr.get_routes(family=2, oif=idx):
            dst = f"{msg.get('RTA_DST')}/{msg['dst_len']}"
            if msg["proto"] == links.RT_PROTO_STATIC and dst not in wanted:
                ipr.route("del", dst=dst, oif=idx)
        for dst in wanted:
            ipr.route("replace", dst=dst, gateway=INET_SIDE_IP, oif=idx, flags=["onlink"], prefsrc=host_ip,
                      proto=links.RT_PROTO_STATIC)

    def inet_side(ipr) -> None:
        idx = links.index_of(ipr, naming.HOST_ACCESS_PEER)
        links.ensure_addresses(ipr, idx, [(INET_SIDE_IP, 32)])
        links.set_up(ipr, naming.HOST_ACCESS_PEER)
        ipr.route("replace", dst=f"{host_ip}/32", oif=idx, proto=links.RT_PROTO_STATIC)

    with lock_for(naming.INTERNET_NETNS):
        links.in_root(root_side)
        links.in_ns(inet, inet_side)


def remove_host_access() -> None:
    """Undo `ensure_host_access` (its routes go with the veth); missing is fine."""
    links.in_root(lambda ipr: links.delete_link(ipr, naming.HOST_ACCESS_LINK))


# --------------------------------------------------------------------------------------------- VPC

def _table_routes(net: VpcNet) -> dict[int, set[RouteSpec]]:
    wanted: dict[int, set[RouteSpec]] = {
        links.RT_TABLE_MAIN: {RouteSpec(str(ipaddress.ip_network(net.cidr)), "blackhole")}}
    for rtb in net.route_tables:
        table = naming.route_table_number(rtb.route_table_id)
        routes = {RouteSpec("0.0.0.0/0", "blackhole", metric=CATCH_ALL_METRIC)}  # AWS drops silently
        for r in rtb.routes:
            dst = str(ipaddress.ip_network(r.destination))
            if r.target == IGW and net.igw_attached:
                routes.add(RouteSpec(dst, "unicast", INET_SIDE_IP, naming.IGW_LINK))
            else:
                routes.add(RouteSpec(dst, BLACKHOLE))
        wanted[table] = routes
    return wanted


def _rules(net: VpcNet) -> set[RuleSpec]:
    wanted = {RuleSpec(RULE_PRIO_LOCAL, links.RT_TABLE_MAIN, dst=str(ipaddress.ip_network(net.cidr)))}
    for s in net.subnets:
        wanted.add(RuleSpec(RULE_PRIO_SUBNET, naming.route_table_number(s.route_table_id),
                            src=str(ipaddress.ip_network(s.cidr))))
    return wanted


def _converge_vpc_links(net: VpcNet, ipr) -> None:
    have = links.links(ipr)
    links.set_up(ipr, "lo", have["lo"])  # before the address dump: bringing lo up adds 127.0.0.1
    addrs = links.addresses(ipr)
    lo = have["lo"]["index"]
    links.ensure_addresses(ipr, lo, [("127.0.0.1", 8), (iptables.IMDS_IP, 32)], addrs.get(lo, set()))
    bridges = {naming.bridge(s.subnet_id): s for s in net.subnets}
    enis = {naming.eni_link(e.eni_id): e for e in net.enis}
    created = False
    for name in list(have):
        if (name.startswith(naming.BRIDGE_PREFIX) and name not in bridges) or \
                (name.startswith(naming.ENI_PREFIX) and name not in enis):
            links.delete_link(ipr, name)
            del have[name]
    for name, s in bridges.items():
        link = have.get(name)
        created |= link is None
        links.ensure_bridge(ipr, name, s.gateway, s.prefixlen, link,
                            addrs.get(link["index"], set()) if link else set())
    if net.igw_attached:
        igw = have.get(naming.IGW_LINK)
        if igw is None:
            links.add_veth(ipr, naming.IGW_LINK, naming.uplink(net.vpc_id),
                           naming.netns_path(naming.INTERNET_NETNS))
            created = True
        links.ensure_addresses(ipr, igw["index"] if igw else naming.IGW_LINK, [(VPC_SIDE_IP, 32)],
                               addrs.get(igw["index"], set()) if igw else set())
        links.set_up(ipr, naming.IGW_LINK, igw)
    elif naming.IGW_LINK in have:
        links.delete_link(ipr, naming.IGW_LINK)
        del have[naming.IGW_LINK]
    if created:
        have = links.links(ipr)
    for name, e in enis.items():
        if name in have:
            bridge = naming.bridge(e.subnet_id)
            links.ensure_port(ipr, name, bridge, have[name], have[bridge]["index"])
    links.sync_routes(ipr, _table_routes(net), have)
    links.sync_rules(ipr, _rules(net))


def _converge_uplink(net: VpcNet, ipr) -> None:
    idx = links.index_of(ipr, naming.uplink(net.vpc_id))
    if idx is None:
        return  # IGW detached: the veth pair, and with it every public route, is gone
    links.ensure_addresses(ipr, idx, [(INET_SIDE_IP, 32)])
    links.set_up(ipr, naming.uplink(net.vpc_id))
    wanted = {f"{p.public_ip}/32" for p in net.public_ips}
    have = set()
    for msg in ipr.get_routes(family=2, oif=idx):
        dst = f"{msg.get('RTA_DST')}/{msg['dst_len']}"
        if msg["proto"] != links.RT_PROTO_STATIC:
            continue
        if dst in wanted:
            have.add(dst)
        else:
            ipr.route("del", dst=dst, oif=idx)
    for dst in wanted - have:
        ipr.route("replace", dst=dst, gateway=VPC_SIDE_IP, oif=idx, flags=["onlink"], proto=links.RT_PROTO_STATIC)


def ensure_vpc(net: VpcNet, *, refresh: bool = False) -> bool:
    """Converge the VPC's namespace, bridges, tables, rules, ruleset, IGW and NAT to exactly `net`.

    A new namespace is closed before it has any link: sysctls, then the DROP-policy ruleset, then
    forwarding on, then links. The iptables and ebtables rulesets are rewritten only when the digest
    the kernel holds differs, so a converged VPC re-ensures without touching the firewall (live flows
    are never at risk anyway: replacement keeps conntrack). A digest only proves nobody deleted our
    digest chain; `refresh=True` (for an occasional deep resync) replaces both rulesets whole, which
    also undoes edits to any other chain. Moving or removing a public IP, or removing an ENI address,
    clears the conntrack entries that involve it.

    Returns True when this call created the namespace: sockets opened in an earlier namespace of the
    VPC (IMDS) are dead and must be reopened, and ENIs re-attached.
    """
    validate(net)
    if net.igw_attached:
        ensure_internet()
    name = naming.vpc_netns(net.vpc_id)
    path = naming.netns_path(name)
    with lock_for(net.vpc_id):
        created = netns.create(name)
        _sysctls(path, _VPC_SYSCTLS)
        l2 = ebtables.render_l2(net)
        saved = tools.read_in(path, {"ipset": ipset.READ, "iptables": iptables.READ,
                                     "ebtables": ebtables.read_argv(l2)})
        sets = ipset.desired_sets(net)
        existing_sets = ipset.apply_sets(path, sets, saved["ipset"] or "")
        text = iptables.render_ruleset(net)
        held = "" if refresh else iptables.digest_of(saved["iptables"] or "")
        if held != iptables.digest_of(text):
            previous = _applied.get(net.vpc_id)
            if previous is None or iptables.digest_of(previous) != held:
                previous = None  # drift, a restart or a new namespace: replace everything
            old = previous if previous is not None else iptables.saved(path)
            iptables.apply_ruleset(path, text, previous)
            after = {p.public_ip: p.private_ip for p in net.public_ips}
            stale = {pub for pub, priv in iptables.nat_map_of(old).items() if after.get(pub) != priv}
            stale |= iptables.eni_ips_of(old) - iptables.eni_ips_of(text)  # their flows must not outlive them
            if stale:
                netns.run_in(path, lambda: links.flush_conntrack(stale))
        _applied[net.vpc_id] = text
        ebtables.apply_l2(path, l2, held=saved["ebtables"] is not None and not refresh)
        ipset.prune_sets(path, existing_sets, set(sets))
        _sysctls(path, _ROUTER_ON)
        links.in_ns(path, lambda ipr: _converge_vpc_links(net, ipr))
    if net.igw_attached:
        with lock_for(naming.INTERNET_NETNS):
            links.in_ns(naming.netns_path(naming.INTERNET_NETNS), lambda ipr: _converge_uplink(net, ipr))
    return created


def _remove_vpc_netns(name: str) -> None:
    path = naming.netns_path(name)

    def drop_links(ipr) -> None:
        for link in links.links(ipr):
            if link.startswith(naming.PREFIX):
                links.delete_link(ipr, link)

    steps = []
    if netns.exists(name):
        steps.append(lambda: links.in_ns(path, drop_links))
    steps.append(lambda: netns.remove(name))
    _teardown(name, steps)


def remove_vpc(vpc_id: str) -> None:
    """Delete everything of the VPC: its ENI veths, IGW veth (and so its public routes), namespace.

    Callers close any IMDS socket of the VPC first: an open socket keeps a deleted namespace alive.
    """
    with lock_for(vpc_id):
        _applied.pop(vpc_id, None)
        _remove_vpc_netns(naming.vpc_netns(vpc_id))


# --------------------------------------------------------------------------------------------- ENI

def _subnet_gateway(ipr, bridge: str) -> tuple[str, int]:
    idx = links.index_of(ipr, bridge)
    if idx is None:
        raise NotFound(f"subnet bridge {bridge} missing: ensure_vpc first")
    for a in ipr.get_addr(family=2, index=idx):
        return a.get("IFA_ADDRESS"), a["prefixlen"]
    raise NotFound(f"subnet bridge {bridge} has no gateway address")


def attach_eni(vpc_id: str, eni: Eni, target: str | int, ifname: str = "eth0",
               default_route: bool | None = None) -> None:
    """Plumb `eni` into the namespace `target` (pid, path or name) as `ifname`; idempotent.

    The VPC end joins the subnet's bridge; the other end gets the ENI's MAC, its IPs with the subnet
    prefix and, for the primary interface (`default_route`, by default `ifname == "eth0"`), the
    default route via the subnet's `.1`. The ENI's bridge port passes nothing until `ensure_vpc` has
    had the ENI in its model (ebtables drops frames of unknown ports), so plumbing fails closed.
    """
    if default_route is None:
        default_route = ifname == "eth0"
    path = naming.netns_path(naming.vpc_netns(vpc_id))
    if not netns.exists(naming.vpc_netns(vpc_id)):
        raise NotFound(f"VPC {vpc_id} has no namespace: ensure_vpc first")
    tpath = netns.target_path(target)
    link, bridge, mac = naming.eni_link(eni.eni_id), naming.bridge(eni.subnet_id), ebtables.eni_mac(eni)

    def peer_state(ipr) -> str:
        have = links.links(ipr).get(ifname)
        if have is None:
            return "absent"
        if have["kind"] == "veth" and (have["address"] or "").lower() == mac:
            return "ours"
        raise Conflict(f"{tpath} already has a {ifname} that is not {eni.eni_id}")

    with lock_for(vpc_id):
        state = links.in_ns(tpath, peer_state)

        def vpc_side(ipr) -> tuple[str, int]:
            gw = _subnet_gateway(ipr, bridge)
            if state == "absent":
                links.delete_link(ipr, link)
                links.add_veth(ipr, link, ifname, tpath, mac)
            elif links.index_of(ipr, link) is None:
                raise Conflict(f"{tpath} has {ifname} with {eni.eni_id}'s MAC but {link} is missing")
            links.ensure_port(ipr, link, bridge)
            return gw

        gateway, prefixlen = links.in_ns(path, vpc_side)

    def instance_side(ipr) -> None:
        netns.write_sysctls({f"net/ipv6/conf/{ifname}/disable_ipv6": "1"})
        links.set_up(ipr, "lo")
        links.ensure_addresses(ipr, ifname, [(ip, prefixlen) for ip in eni.ips])
        links.set_up(ipr, ifname)
        if default_route:
            links.ensure_default_route(ipr, ifname, gateway)

    try:
        links.in_ns(tpath, instance_side)
    except Exception:
        if state == "absent":  # roll back the veth this call made; a re-attach starts clean
            detach_eni(vpc_id, eni.eni_id)
        raise


def detach_eni(vpc_id: str, eni_id: str) -> None:
    """Delete the ENI's veth pair (the instance loses `eth0`); a missing VPC or ENI is fine."""
    name = naming.vpc_netns(vpc_id)
    with lock_for(vpc_id):
        if netns.exists(name):
            links.in_ns(naming.netns_path(name), lambda ipr: links.delete_link(ipr, naming.eni_link(eni_id)))


def eni_attached(vpc_id: str, eni_id: str) -> bool:
    """True when the ENI's veth exists in the VPC namespace (its peer lives in some instance)."""
    name = naming.vpc_netns(vpc_id)
    if not netns.exists(name):
        return False
    return links.in_ns(naming.netns_path(name),
                       lambda ipr: links.index_of(ipr, naming.eni_link(eni_id)) is not None)


# ------------------------------------------------------------------------------------------- IMDS

def open_imds_socket(vpc_id: str) -> socket.socket:
    """A listening TCP socket on 169.254.169.254:80 inside the VPC's namespace; the caller owns it.

    The peer address of each accepted connection is the calling ENI's private IP in `vpc_id`.
    """
    name = naming.vpc_netns(vpc_id)
    if not netns.exists(name):
        raise NotFound(f"VPC {vpc_id} has no namespace")

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((iptables.IMDS_IP, iptables.IMDS_PORT))
        sock.listen(128)
        return sock

    return netns.run_in(naming.netns_path(name), make)


def open_internet_listener(ip: str, port: int) -> socket.socket:
    """A listening TCP socket at `ip:port` inside `tr-inet`, the region's internet; the caller owns it.

    This is how instances reach Terrarium's own API, as EC2 instances reach AWS endpoints over the internet:
    only through their public address (the IGW's 1:1 NAT), so a private subnet has no way to it. `ip` is
    added to tr-inet's loopback (idempotent; other addresses are left alone).
    """
    ensure_internet()
    path = naming.netns_path(naming.INTERNET_NETNS)

    def add_address(ipr) -> None:
        index = links.index_of(ipr, "lo")
        present = {a.get("IFA_ADDRESS") for a in ipr.get_addr(family=socket.AF_INET, index=index)}
        if ip not in present:
            ipr.addr("add", index=index, address=ip, prefixlen=32)

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((ip, port))
        sock.listen(128)
        return sock

    with lock_for(naming.INTERNET_NETNS):
        links.in_ns(path, add_address)
    return netns.run_in(path, make)


# -------------------------------------------------------------------------------------- reconcile

def list_owned() -> set[str]:
    """Names of every namespace we own, and of links we own in the root and internet namespaces."""
    owned = {n for n in netns.list_names() if n.startswith(naming.PREFIX)}
    owned |= {n for n in links.root_links() if n.startswith(naming.PREFIX)}
    if naming.INTERNET_NETNS in owned:
        owned |= {n for n in links.in_ns(naming.netns_path(naming.INTERNET_NETNS), links.links)
                  if n.startswith(naming.PREFIX)}
    return owned


def remove_orphans(known_vpc_ids: Iterable[str]) -> set[str]:
    """Remove VPC namespaces and uplinks whose VPC is not in `known_vpc_ids`; return what went.

    Internet hosts (`tr-x-*`) and `tr-inet` itself are not VPC state and stay.
    """
    known = {naming.short_hash(v) for v in known_vpc_ids}
    gone: set[str] = set()
    steps = []
    for name in netns.list_names():
        if name.startswith(naming.VPC_NETNS_PREFIX) and name[len(naming.VPC_NETNS_PREFIX):] not in known:
            gone.add(name)
            steps.append(lambda name=name: _remove_vpc_netns(name))
    if netns.exists(naming.INTERNET_NETNS):
        inet = naming.netns_path(naming.INTERNET_NETNS)
        for link in links.in_ns(inet, links.links):
            if link.startswith(naming.UPLINK_PREFIX) and link[len(naming.UPLINK_PREFIX):] not in known:
                gone.add(link)
                steps.append(lambda link=link: links.in_ns(inet, lambda ipr: links.delete_link(ipr, link)))
    _teardown("orphans", steps)
    return gone
