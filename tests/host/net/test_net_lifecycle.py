"""Lifecycle of realised VPCs: anti-spoofing, idempotence, healing, removal, orphans, ENIs, IMDS, EIPs."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from netlab import ALLOW_ALL_NACL, EGRESS_ALL, Flow, Server, eni, ns_socket, ping, tcp, tcp_from_cidr, vpc

from runtime.errors import Conflict, RealiseError
from runtime.host.net import iptables, naming, netns, realise
from runtime.host.net.model import ALL, BLACKHOLE, NaclEntry, PublicIp, Route, RouteTable, SecurityGroup, SgRule
from runtime.host.net.tools import run_in

pytestmark = pytest.mark.host
NO = 0.5
REPO = Path(__file__).resolve().parents[3]


def _vpc_path(vpc_id: str) -> str:
    return naming.netns_path(naming.vpc_netns(vpc_id))


def _three(world, **kw):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    enis = tuple(eni(v, i, "a", f"10.0.1.{10 + i}", default) for i in (1, 2, 3))
    net = vpc(v, enis=enis, **kw)
    realise.ensure_vpc(net)
    return net, [world.instance(v, e) for e in enis]


def _snapshot(vpc_id: str) -> dict[str, str]:
    path = _vpc_path(vpc_id)
    ip = lambda *a: subprocess.run(["ip", "-n", naming.vpc_netns(vpc_id), *a], capture_output=True,  # noqa: E731
                                   text=True, check=True).stdout
    return {"iptables": "\n".join(line for line in run_in(path, ["iptables-save", "-c"]).splitlines()
                                  if not line.startswith("#")),
            "ebtables": "\n".join(line for line in run_in(path, ["ebtables-save"]).splitlines()
                                   if not line.startswith("#")),
            "ipset": run_in(path, ["ipset", "save"]), "links": ip("link"), "addrs": ip("addr"),
            "routes": ip("route", "show", "table", "all"), "rules": ip("rule")}


def _udp_log_server(world, ns: str, port: int) -> list[str]:
    seen: list[str] = []
    sock = ns_socket(ns, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    world.sockets.append(sock)

    def loop() -> None:
        while True:
            try:
                seen.append(sock.recvfrom(100)[1][0])
            except OSError:
                return
    threading.Thread(target=loop, daemon=True).start()
    return seen


def _send_udp_from(ns: str, src: str, dst: str, port: int) -> None:
    s = ns_socket(ns, socket.SOCK_DGRAM)
    try:
        s.bind((src, 0))
        s.sendto(b"x", (dst, port))
    finally:
        s.close()


def _arp_reply(ns: str, src_mac: str, claimed_ip: str, dst_mac: str, dst_ip: str) -> None:
    """Send a forged ARP reply out of eth0 in `ns`: `claimed_ip` is-at `src_mac`."""
    mac = lambda m: bytes.fromhex(m.replace(":", ""))  # noqa: E731
    frame = (mac(dst_mac) + mac(src_mac) + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02"
             + mac(src_mac) + socket.inet_aton(claimed_ip) + mac(dst_mac) + socket.inet_aton(dst_ip))
    s = netns.run_in(naming.netns_path(ns), lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
    try:
        s.bind(("eth0", 0))
        s.send(frame)
    finally:
        s.close()


def _mac(ns: str) -> str:
    return subprocess.run(["ip", "-n", ns, "-br", "link", "show", "eth0"], capture_output=True, text=True,
                          check=True).stdout.split()[2]


def _neigh(ns: str, ip: str) -> str:
    return subprocess.run(["ip", "-n", ns, "neigh", "show", ip], capture_output=True, text=True,
                          check=True).stdout


def _l2_drops(vpc_id: str, eni_id: str) -> int:
    out = run_in(_vpc_path(vpc_id), ["ebtables", "-L", naming.l2_chain(eni_id), "--Lc"])
    last = [line for line in out.splitlines() if line.startswith("-j DROP")][-1]
    return int(last.split("pcnt = ")[1].split()[0])


def test_anti_spoofing_of_ip_and_arp(world):
    net, (na, nb, nc) = _three(world)
    seen = _udp_log_server(world, nc, 7000)
    _send_udp_from(na, "10.0.1.11", "10.0.1.13", 7000)        # control: its own address gets through
    subprocess.run(["ip", "-n", na, "addr", "add", "10.0.1.12/32", "dev", "eth0"], check=True)
    _send_udp_from(na, "10.0.1.12", "10.0.1.13", 7000)        # b's address, b's group: only spoofing stops it
    time.sleep(NO)
    assert seen == ["10.0.1.11"]

    assert tcp(nc, "10.0.1.12", 9, NO) is None                 # c learns b's MAC (no server needed)
    b_mac, a_mac, c_mac = _mac(nb), _mac(na), _mac(nc)
    assert b_mac in _neigh(nc, "10.0.1.12")
    drops = _l2_drops(net.vpc_id, net.enis[0].eni_id)
    time.sleep(1.1)                                            # past the neighbour locktime
    _arp_reply(na, a_mac, "10.0.1.12", c_mac, "10.0.1.13")
    time.sleep(0.2)
    assert b_mac in _neigh(nc, "10.0.1.12")                    # c still maps b's IP to b
    assert _l2_drops(net.vpc_id, net.enis[0].eni_id) > drops   # ... because the bridge dropped the lie


def test_second_ensure_changes_nothing_and_keeps_live_flow(world):
    net, (na, nb, _) = _three(world, public_ips=(PublicIp(world.public_ips[0], "10.0.1.12"),))
    Server(world, nb, 8080)
    flow = Flow(world, na, "10.0.1.12", 8080)
    assert flow.alive()
    before = _snapshot(net.vpc_id)
    started = time.perf_counter()
    realise.ensure_vpc(net)
    warm = time.perf_counter() - started
    assert _snapshot(net.vpc_id) == before                     # counters included: nothing was replaced
    assert flow.alive()
    print(f"warm ensure_vpc: {warm * 1000:.1f} ms")


def test_deleted_bridge_and_flushed_ruleset_are_healed(world):
    net, (na, nb, _) = _three(world)
    Server(world, nb, 8080)
    assert tcp(na, "10.0.1.12", 8080) == "10.0.1.11"
    ns = naming.vpc_netns(net.vpc_id)
    subprocess.run(["ip", "-n", ns, "link", "del", naming.bridge(net.subnets[0].subnet_id)], check=True)
    for table in ("filter", "nat", "raw"):
        subprocess.run(["ip", "netns", "exec", ns, "iptables", "-t", table, "-F"], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "iptables", "-t", table, "-X"], check=True)
    assert tcp(na, "10.0.1.12", 8080, NO) is None              # broken, and closed (policies stay DROP)
    assert realise.ensure_vpc(net) is False                    # healed in place, not a new namespace
    assert tcp(na, "10.0.1.12", 8080) == "10.0.1.11"


def test_failed_apply_keeps_previous_rules(world):
    net, _ = _three(world)
    path = _vpc_path(net.vpc_id)
    before = iptables.applied_digest(path)
    broken = iptables.render_ruleset(replace(net, cidr="10.0.0.0/16")).replace("COMMIT\n", "-A NOPE -j X\nCOMMIT\n")
    with pytest.raises(RealiseError):
        iptables.apply_ruleset(path, broken)
    assert iptables.applied_digest(path) == before != ""


def test_remove_leaves_nothing(world):
    net, instances = _three(world, public_ips=(PublicIp(world.public_ips[1], "10.0.1.11"),))
    names = {naming.vpc_netns(net.vpc_id), naming.uplink(net.vpc_id)}
    assert names <= realise.list_owned()
    realise.remove_vpc(net.vpc_id)
    realise.remove_vpc(net.vpc_id)                             # a second remove tolerates missing
    assert realise.ensure_vpc(net) is True                     # a new namespace: IMDS/ENIs must be redone
    realise.remove_vpc(net.vpc_id)
    realise.detach_eni(net.vpc_id, net.enis[0].eni_id)
    assert not names & realise.list_owned()
    assert naming.vpc_netns(net.vpc_id) not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                              text=True).stdout
    inet = subprocess.run(["ip", "-n", naming.INTERNET_NETNS, "link"], capture_output=True, text=True).stdout
    assert naming.uplink(net.vpc_id) not in inet
    for ns in instances:                                       # the instances lost their eth0 with it
        assert "eth0" not in subprocess.run(["ip", "-n", ns, "link"], capture_output=True, text=True).stdout


def test_remove_orphans_at_start_up():
    """In a private mount namespace (its own /run/netns), so other VPCs on this host are never candidates."""
    script = textwrap.dedent("""
        import subprocess, sys
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/netns"], check=True)
        sys.path.insert(0, "tests/host/net")
        from netlab import vpc, eni
        from runtime.host.net import realise, naming
        keep, drop = "vpc-keep", "vpc-drop"
        for v in (keep, drop):
            realise.ensure_vpc(vpc(v, enis=(eni(v, 1, "a", "10.0.1.11"),)))
        gone = realise.remove_orphans([keep])
        owned = realise.list_owned()
        assert gone == {naming.vpc_netns(drop), naming.uplink(drop)}, gone
        assert naming.vpc_netns(keep) in owned and naming.uplink(keep) in owned, owned
        assert not {naming.vpc_netns(drop), naming.uplink(drop)} & owned, owned
        realise.remove_vpc(keep)
        assert realise.remove_orphans([]) == set()
        print("ok")
    """)
    proc = subprocess.run(["unshare", "--mount", sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_eni_attach_is_idempotent_by_pid_and_detaches(world):
    v = world.vpc()
    e = eni(v, 1, "a", "10.0.1.11", f"sg-default-{world.uid}", mac="02:aa:bb:cc:dd:01")
    realise.ensure_vpc(vpc(v, enis=(e,)))
    ns = f"tr-t-{world.uid}-pid"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    world.instances.append(ns)
    sleeper = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "60"])
    try:
        time.sleep(0.1)                                        # `ip netns exec` execs: the pid is sleep's
        pid = sleeper.pid
        started = time.perf_counter()
        realise.attach_eni(v, e, pid)
        print(f"attach_eni: {(time.perf_counter() - started) * 1000:.1f} ms")
        first = subprocess.run(["ip", "-n", ns, "-d", "link", "show", "eth0"], capture_output=True, text=True).stdout
        realise.attach_eni(v, e, f"/proc/{pid}/ns/net")
        again = subprocess.run(["ip", "-n", ns, "-d", "link", "show", "eth0"], capture_output=True, text=True).stdout
        assert first == again and "02:aa:bb:cc:dd:01" in first
        addr = subprocess.run(["ip", "-n", ns, "-4", "addr", "show", "eth0"], capture_output=True, text=True).stdout
        assert "10.0.1.11/24" in addr
        assert "default via 10.0.1.1 dev eth0" in subprocess.run(["ip", "-n", ns, "route"], capture_output=True,
                                                                 text=True).stdout
        assert realise.eni_attached(v, e.eni_id)
        other = eni(v, 2, "a", "10.0.1.12", f"sg-default-{world.uid}")
        with pytest.raises(Conflict):                          # eth0 there is someone else's
            realise.attach_eni(v, other, ns)
        realise.detach_eni(v, e.eni_id)
        realise.detach_eni(v, e.eni_id)
        assert not realise.eni_attached(v, e.eni_id)
        assert "eth0" not in subprocess.run(["ip", "-n", ns, "link"], capture_output=True, text=True).stdout
    finally:
        sleeper.kill()
        sleeper.wait()


def test_imds_listener_sees_caller_private_ip_past_a_deny_all_nacl(world):
    deny_all = ()
    net, (na, _, _) = _three(world, nacl_b=deny_all)
    net = replace(net, subnets=tuple(replace(s, network_acl_id=net.nacls[1].network_acl_id) for s in net.subnets))
    realise.ensure_vpc(net)
    listener = realise.open_imds_socket(net.vpc_id)
    world.sockets.append(listener)
    listener.settimeout(3)
    got: list[str] = []

    def serve() -> None:
        conn, peer = listener.accept()
        with conn:
            got.append(peer[0])
            conn.recv(100)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\ni-123")
    t = threading.Thread(target=serve)
    t.start()
    s = ns_socket(na)
    s.settimeout(3)
    with s:
        s.connect((iptables.IMDS_IP, iptables.IMDS_PORT))
        s.sendall(b"GET /latest/meta-data/instance-id HTTP/1.0\r\n\r\n")
        assert s.recv(100).endswith(b"i-123")
    t.join()
    assert got == ["10.0.1.11"]


def test_moving_a_public_ip_redirects_existing_udp_flow(world):
    v = world.vpc()
    pub = world.public_ips[2]
    udp_in = SecurityGroup(f"sg-udp-{world.uid}", (SgRule(False, 17, 5000, 5000, cidr="0.0.0.0/0"), EGRESS_ALL))
    a, b = eni(v, 1, "a", "10.0.1.11", udp_in.group_id), eni(v, 2, "a", "10.0.1.12", udp_in.group_id)
    net = vpc(v, enis=(a, b), groups=(udp_in,), public_ips=(PublicIp(pub, "10.0.1.11"),))
    realise.ensure_vpc(net)
    na, nb = world.instance(v, a), world.instance(v, b)
    Server(world, na, 5000, udp=True, tag="a"), Server(world, nb, 5000, udp=True, tag="b")
    host = world.internet_host()
    s = ns_socket(host, socket.SOCK_DGRAM)
    world.sockets.append(s)
    s.settimeout(2)
    s.sendto(b"x", (pub, 5000))
    assert s.recv(100).split()[1] == b"a"
    realise.ensure_vpc(replace(net, public_ips=(PublicIp(pub, "10.0.1.12"),)))
    s.sendto(b"x", (pub, 5000))                                # same 5-tuple: conntrack would pin it to a
    assert s.recv(100).split()[1] == b"b"


def test_sg_rule_on_all_protocols_and_nacl_icmp(world):
    v = world.vpc()
    allow_all = SecurityGroup(f"sg-all-{world.uid}", (SgRule(False, ALL, cidr="10.0.0.0/16"), EGRESS_ALL))
    a, b = eni(v, 1, "a", "10.0.1.11", allow_all.group_id), eni(v, 2, "b", "10.0.2.11", allow_all.group_id)
    nacl_b = (NaclEntry(10, False, "deny", "0.0.0.0/0", 1, icmp_type=8), *ALLOW_ALL_NACL)
    realise.ensure_vpc(vpc(v, enis=(a, b), groups=(allow_all,), nacl_b=nacl_b))
    na, nb = world.instance(v, a), world.instance(v, b)
    Server(world, nb, 8080)
    assert tcp(na, "10.0.2.11", 8080) == "10.0.1.11"
    assert not ping(na, "10.0.2.11", NO)                       # echo requests denied into subnet b
    assert ping(nb, "10.0.1.11")                               # echo replies (type 0) still allowed in


def test_internet_host_and_cidr_rules(world):
    v = world.vpc()
    pub = world.public_ips[3]
    host = world.internet_host()
    only_host = SecurityGroup(f"sg-h-{world.uid}", (tcp_from_cidr(8080, f"{world.internet_ip}/32"), EGRESS_ALL))
    a = eni(v, 1, "a", "10.0.1.11", only_host.group_id)
    realise.ensure_vpc(vpc(v, enis=(a,), groups=(only_host,), public_ips=(PublicIp(pub, "10.0.1.11"),)))
    na = world.instance(v, a)
    Server(world, na, 8080)
    assert tcp(host, pub, 8080) == world.internet_ip


def test_released_public_ip_leaves_the_internet_routes(world):
    v = world.vpc()
    pubs = world.public_ips[4], world.public_ips[5]
    a, b = eni(v, 1, "a", "10.0.1.11"), eni(v, 2, "a", "10.0.1.12")
    net = vpc(v, enis=(a, b), public_ips=(PublicIp(pubs[0], "10.0.1.11"), PublicIp(pubs[1], "10.0.1.12")))
    realise.ensure_vpc(net)
    inet_routes = lambda: subprocess.run(["ip", "-n", naming.INTERNET_NETNS, "route"],  # noqa: E731
                                         capture_output=True, text=True, check=True).stdout
    assert pubs[0] in inet_routes() and pubs[1] in inet_routes()
    realise.ensure_vpc(replace(net, public_ips=net.public_ips[1:]))
    assert pubs[0] not in inet_routes() and pubs[1] in inet_routes()
    realise.ensure_vpc(replace(net, public_ips=(), igw_attached=False))
    assert pubs[1] not in inet_routes()
    assert naming.uplink(v) not in realise.list_owned()


def test_partial_update_equals_full_replace_and_keeps_counters(world):
    net, (na, nb, _) = _three(world, public_ips=(PublicIp(world.public_ips[0], "10.0.1.11"),))
    Server(world, nb, 8080)
    assert tcp(na, "10.0.1.12", 8080) == "10.0.1.11"
    path = _vpc_path(net.vpc_id)
    extra = SecurityGroup(f"sg-extra-{world.uid}", (tcp_from_cidr(443, "10.0.0.0/16"), EGRESS_ALL))
    changed = replace(net, enis=(replace(net.enis[0], security_group_ids=(extra.group_id,)), net.enis[1]),
                      security_groups=(*net.security_groups, extra), public_ips=())
    realise.ensure_vpc(changed)                                # partial: the cache matches the kernel
    saved = lambda: {t: iptables.parse_document(run_in(path, ["iptables-save", "-t", t])).get(t)  # noqa: E731
                     for t in ("raw", "nat", "filter")}
    partial = saved()
    fwd = lambda: int(run_in(path, ["iptables", "-L", "TR-FWD", "-v", "-x", "-n"]).splitlines()[3].split()[0])  # noqa: E731
    assert fwd() > 0                                           # untouched chains kept their counters (TR-NACL jump)
    iptables.apply_ruleset(path, iptables.render_ruleset(changed))
    assert saved() == partial and fwd() == 0                   # a full replace gives the same rules


def test_converges_to_exactly_the_model(world):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    a, b = eni(v, 1, "a", "10.0.1.11", default), eni(v, 2, "b", "10.0.2.11", default)
    net = vpc(v, enis=(a, b))
    private = RouteTable(f"rtb-private-{world.uid}", (Route("198.51.100.0/24", BLACKHOLE),))
    net = replace(net, route_tables=(*net.route_tables, private),
                  subnets=(net.subnets[0], replace(net.subnets[1], route_table_id=private.route_table_id)))
    realise.ensure_vpc(net)
    nb = world.instance(v, b)
    ns = naming.vpc_netns(v)
    ip = lambda *args: subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True,  # noqa: E731
                                      check=True).stdout
    table = str(naming.route_table_number(private.route_table_id))
    assert "blackhole 198.51.100.0/24" in ip("route", "show", "table", table)
    assert f"from 10.0.2.0/24 lookup {table}" in ip("rule")

    realise.ensure_vpc(replace(net, subnets=net.subnets[:1], route_tables=net.route_tables[:1], enis=(a,)))
    assert naming.bridge(net.subnets[1].subnet_id) not in ip("link")
    assert naming.eni_link(b.eni_id) not in ip("link")
    assert "eth0" not in subprocess.run(["ip", "-n", nb, "link"], capture_output=True, text=True).stdout
    assert ip("route", "show", "table", table) == "" and "10.0.2.0/24" not in ip("rule")
    assert naming.bridge(net.subnets[0].subnet_id) in ip("link")


def test_concurrent_ensures_of_different_vpcs(world):
    nets = []
    for n in range(4):
        v = world.vpc(n)
        e = eni(v, 1, "a", "10.0.1.11", f"sg-default-{world.uid}{n}")
        nets.append(vpc(v, enis=(e,), public_ips=(PublicIp(world.public_ips[n], "10.0.1.11"),)))
    errors: list[BaseException] = []

    def run(net) -> None:
        try:
            realise.ensure_vpc(net)
            realise.ensure_vpc(net)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    inet = subprocess.run(["ip", "-n", naming.INTERNET_NETNS, "route"], capture_output=True, text=True).stdout
    assert all(world.public_ips[n] in inet for n in range(4))


def test_no_broadcast_and_bridged_ipv4_only_to_the_owner(world):
    net, (na, nb, nc) = _three(world)
    seen_b, seen_c = _udp_log_server(world, nb, 7001), _udp_log_server(world, nc, 7001)
    s = ns_socket(na, socket.SOCK_DGRAM)
    world.sockets.append(s)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.sendto(b"x", ("10.0.1.255", 7001))                       # subnet broadcast: AWS has none
    s.sendto(b"x", ("255.255.255.255", 7001))
    s.sendto(b"x", ("10.0.1.12", 7001))                        # control: unicast arrives
    time.sleep(NO)
    assert seen_b == ["10.0.1.11"] and seen_c == []
    # b's address in a frame to c's MAC (c even claims the address): the bridge delivers only c's own
    subprocess.run(["ip", "-n", na, "neigh", "replace", "10.0.1.12", "lladdr", _mac(nc), "dev", "eth0"],
                   check=True)
    subprocess.run(["ip", "-n", nc, "addr", "add", "10.0.1.12/32", "dev", "eth0"], check=True)
    s.sendto(b"x", ("10.0.1.12", 7001))
    time.sleep(NO)
    assert seen_c == []


def test_second_interface_keeps_the_primary_default_route(world):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    a, b = eni(v, 1, "a", "10.0.1.11", default), eni(v, 2, "b", "10.0.2.11", default)
    realise.ensure_vpc(vpc(v, enis=(a, b)))
    ns = world.instance(v, a)
    realise.attach_eni(v, b, ns, "eth1")
    routes = subprocess.run(["ip", "-n", ns, "route"], capture_output=True, text=True, check=True).stdout
    assert "default via 10.0.1.1 dev eth0" in routes and "10.0.2.0/24 dev eth1" in routes
    assert "default via 10.0.2.1" not in routes


def test_refresh_undoes_edits_the_digest_cannot_see(world):
    net, (na, nb, _) = _three(world)
    Server(world, nb, 8080)
    ns = naming.vpc_netns(net.vpc_id)
    chain = naming.sg_chain(net.enis[1].eni_id, False)
    subprocess.run(["ip", "netns", "exec", ns, "iptables", "-I", chain, "-j", "DROP"], check=True)
    realise.ensure_vpc(net)
    assert tcp(na, "10.0.1.12", 8080, NO) is None              # digest unchanged: the edit stays
    realise.ensure_vpc(net, refresh=True)
    assert tcp(na, "10.0.1.12", 8080) == "10.0.1.11"
