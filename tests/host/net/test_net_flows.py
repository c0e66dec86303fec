"""Flow matrix: real TCP/UDP/ICMP between throwaway instance namespaces through a realised VPC."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import replace

import pytest
from netlab import (
    ALLOW_ALL_NACL,
    EGRESS_ALL,
    Flow,
    Server,
    eni,
    ns_socket,
    ping,
    tcp,
    tcp_from_cidr,
    tcp_from_group,
    udp,
    vpc,
)

from runtime.host.net import realise
from runtime.host.net.model import ALL, BLACKHOLE, ICMP, IGW, TCP, NaclEntry, PublicIp, Route, SecurityGroup, SgRule

pytestmark = pytest.mark.host
NO = 0.5  # seconds to wait for a packet that must not arrive


def test_same_subnet_security_groups_allow_and_deny(world):
    v = world.vpc()
    web = SecurityGroup(f"sg-web-{world.uid}", (tcp_from_group(8080, f"sg-client-{world.uid}"),
                                               SgRule(False, ICMP, 8, -1, cidr="10.0.1.0/24"), EGRESS_ALL))
    client = SecurityGroup(f"sg-client-{world.uid}", (EGRESS_ALL,))
    other = SecurityGroup(f"sg-other-{world.uid}", (EGRESS_ALL,))
    a = eni(v, 1, "a", "10.0.1.11", client.group_id)
    b = eni(v, 2, "a", "10.0.1.12", web.group_id)
    c = eni(v, 3, "a", "10.0.1.13", other.group_id)
    realise.ensure_vpc(vpc(v, enis=(a, b, c), groups=(web, client, other)))
    na, nb, nc = (world.instance(v, e) for e in (a, b, c))
    Server(world, nb, 8080), Server(world, nb, 9090), Server(world, na, 8080)

    assert tcp(na, "10.0.1.12", 8080) == "10.0.1.11"          # client -> web, allowed by SG reference
    assert tcp(nc, "10.0.1.12", 8080, NO) is None              # not in the referenced group
    assert tcp(na, "10.0.1.12", 9090, NO) is None              # port not allowed
    assert tcp(nb, "10.0.1.11", 8080, NO) is None              # client has no inbound rule at all
    assert ping(nc, "10.0.1.12")                               # ICMP echo allowed by CIDR
    assert not ping(nb, "10.0.1.13", NO)                       # default deny inbound (ICMP too)


def test_sg_reference_across_subnets_and_default_group(world):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    a = eni(v, 1, "a", "10.0.1.11", default)
    b = eni(v, 2, "b", "10.0.2.11", default)
    c = eni(v, 3, "b", "10.0.2.12", f"sg-lonely-{world.uid}")
    lonely = SecurityGroup(f"sg-lonely-{world.uid}", (EGRESS_ALL,))
    realise.ensure_vpc(vpc(v, enis=(a, b, c), groups=(lonely,)))
    na, nb, nc = (world.instance(v, e) for e in (a, b, c))
    Server(world, nb, 8080), Server(world, na, 8080, udp=True)

    assert tcp(na, "10.0.2.11", 8080) == "10.0.1.11"          # default SG: members reach each other
    assert udp(nb, "10.0.1.11", 8080) == "10.0.2.11"
    assert tcp(nc, "10.0.2.11", 8080, NO) is None              # not a member, same subnet as b
    assert udp(nc, "10.0.1.11", 8080, NO) is None


def test_egress_rules_limit_outbound(world):
    v = world.vpc()
    open_in = SecurityGroup(f"sg-in-{world.uid}", (tcp_from_cidr(8080, "10.0.0.0/16"),))
    narrow = SecurityGroup(f"sg-narrow-{world.uid}", (SgRule(True, TCP, 8080, 8080, cidr="10.0.2.11/32"),))
    a = eni(v, 1, "a", "10.0.1.11", narrow.group_id)
    b = eni(v, 2, "b", "10.0.2.11", open_in.group_id)
    c = eni(v, 3, "b", "10.0.2.12", open_in.group_id)
    realise.ensure_vpc(vpc(v, enis=(a, b, c), groups=(open_in, narrow)))
    na, nb, nc = (world.instance(v, e) for e in (a, b, c))
    Server(world, nb, 8080), Server(world, nc, 8080)

    assert tcp(na, "10.0.2.11", 8080) == "10.0.1.11"
    assert tcp(na, "10.0.2.12", 8080, NO) is None              # egress only to 10.0.2.11


def _nacl_pair(world, nacl_b):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    a, b = eni(v, 1, "a", "10.0.1.11", default), eni(v, 2, "b", "10.0.2.11", default)
    net = vpc(v, enis=(a, b), nacl_b=nacl_b)
    realise.ensure_vpc(net)
    na, nb = world.instance(v, a), world.instance(v, b)
    Server(world, nb, 8080)
    return net, na, nb


def test_nacl_rule_number_order(world):
    deny_90 = (NaclEntry(90, False, "deny", "10.0.1.11/32", TCP, 8080, 8080), *ALLOW_ALL_NACL)
    net, na, _ = _nacl_pair(world, deny_90)
    assert tcp(na, "10.0.2.11", 8080, NO) is None              # deny 90 before allow 100

    deny_110 = (NaclEntry(110, False, "deny", "10.0.1.11/32", TCP, 8080, 8080), *ALLOW_ALL_NACL)
    realise.ensure_vpc(replace(net, nacls=(net.nacls[0], replace(net.nacls[1], entries=deny_110))))
    assert tcp(na, "10.0.2.11", 8080) == "10.0.1.11"          # allow 100 wins over deny 110


def test_nacl_is_stateless(world):
    inbound_only = (NaclEntry(100, False, "allow", "0.0.0.0/0", TCP, 8080, 8080),
                    NaclEntry(100, True, "allow", "0.0.0.0/0", TCP, 8080, 8080))
    net, na, _ = _nacl_pair(world, inbound_only)
    assert tcp(na, "10.0.2.11", 8080, NO) is None              # replies to ephemeral ports not allowed out

    with_return = (*inbound_only, NaclEntry(110, True, "allow", "0.0.0.0/0", TCP, 1024, 65535))
    realise.ensure_vpc(replace(net, nacls=(net.nacls[0], replace(net.nacls[1], entries=with_return))))
    assert tcp(na, "10.0.2.11", 8080) == "10.0.1.11"


def test_nacl_deny_cuts_live_flow_but_sg_revoke_does_not(world):
    v = world.vpc()
    web = SecurityGroup(f"sg-web-{world.uid}", (tcp_from_cidr(8080, "10.0.1.0/24"), EGRESS_ALL))
    a = eni(v, 1, "a", "10.0.1.11", f"sg-default-{world.uid}")
    b = eni(v, 2, "b", "10.0.2.11", web.group_id)
    net = vpc(v, enis=(a, b), groups=(web,))
    realise.ensure_vpc(net)
    na, nb = world.instance(v, a), world.instance(v, b)
    Server(world, nb, 8080)
    flow = Flow(world, na, "10.0.2.11", 8080)
    assert flow.alive()

    revoked = replace(net, security_groups=(net.security_groups[0], replace(web, rules=(EGRESS_ALL,))))
    realise.ensure_vpc(revoked)
    assert flow.alive()                                        # tracked flow survives the revoke (AWS)
    assert tcp(na, "10.0.2.11", 8080, NO) is None              # a new connection does not

    deny = (NaclEntry(50, False, "deny", "10.0.1.0/24", ALL), *ALLOW_ALL_NACL)
    realise.ensure_vpc(replace(revoked, nacls=(net.nacls[0], replace(net.nacls[1], entries=deny))))
    assert not flow.alive(NO)                                  # a NACL deny cuts it at once


def test_internet_gateway_inbound_and_outbound_with_public_ip(world):
    v = world.vpc()
    pub = world.public_ips[0]
    web = SecurityGroup(f"sg-web-{world.uid}", (tcp_from_cidr(8080, "0.0.0.0/0"), EGRESS_ALL))
    a = eni(v, 1, "a", "10.0.1.11", web.group_id)
    realise.ensure_vpc(vpc(v, enis=(a,), groups=(web,), public_ips=(PublicIp(pub, "10.0.1.11"),)))
    na = world.instance(v, a)
    host = world.internet_host()
    Server(world, na, 8080), Server(world, host, 80)

    assert tcp(host, pub, 8080) == world.internet_ip           # inbound: instance sees the real client
    assert tcp(na, world.internet_ip, 80) == pub               # outbound: the internet sees the public IP
    assert tcp(host, "10.0.1.11", 8080, NO) is None            # private addresses are not routable outside


def test_no_internet_without_public_ip_or_igw_route(world):
    v = world.vpc()
    default = f"sg-default-{world.uid}"
    a = eni(v, 1, "a", "10.0.1.11", default)
    b = eni(v, 2, "a", "10.0.1.12", default)
    pub = world.public_ips[1]
    net = vpc(v, enis=(a, b), public_ips=(PublicIp(pub, "10.0.1.12"),))
    realise.ensure_vpc(net)
    na, nb = world.instance(v, a), world.instance(v, b)
    host = world.internet_host()
    Server(world, host, 80)

    assert tcp(nb, world.internet_ip, 80) == pub
    assert tcp(na, world.internet_ip, 80, NO) is None          # no public IP: the IGW drops
    realise.ensure_vpc(replace(net, route_tables=(replace(net.route_tables[0], routes=()),)))
    assert tcp(nb, world.internet_ip, 80, NO) is None          # private subnet: no route out


def test_blackhole_route_drops(world):
    v = world.vpc()
    a = eni(v, 1, "a", "10.0.1.11", f"sg-default-{world.uid}")
    pub = world.public_ips[2]
    net = vpc(v, enis=(a,), public_ips=(PublicIp(pub, "10.0.1.11"),),
              routes=(Route("0.0.0.0/0", IGW), Route(f"{world.internet_ip}/32", BLACKHOLE)))
    realise.ensure_vpc(net)
    na = world.instance(v, a)
    host = world.internet_host()
    Server(world, host, 80)
    assert tcp(na, world.internet_ip, 80, NO) is None

    igw_only = replace(net.route_tables[0], routes=net.route_tables[0].routes[:1])
    realise.ensure_vpc(replace(net, route_tables=(igw_only,)))
    assert tcp(na, world.internet_ip, 80) == pub
    realise.ensure_vpc(replace(net, igw_attached=False))       # IGW route without an IGW: blackhole
    assert tcp(na, world.internet_ip, 80, NO) is None


def test_two_vpcs_with_identical_cidrs_and_ips_stay_apart(world):
    v1, v2 = world.vpc(1), world.vpc(2)
    p1, p2 = world.public_ips[3], world.public_ips[4]
    nets, nss = [], []
    for v, pub in ((v1, p1), (v2, p2)):
        web = SecurityGroup(f"sg-web-{v}", (tcp_from_cidr(8080, "0.0.0.0/0"), EGRESS_ALL))
        a = eni(v, 1, "a", "10.0.1.11", web.group_id)
        net = vpc(v, enis=(a,), groups=(web,), public_ips=(PublicIp(pub, "10.0.1.11"),))
        realise.ensure_vpc(net)
        nets.append(net)
        nss.append(world.instance(v, a))
    host = world.internet_host()
    Server(world, nss[0], 8080, tag="one"), Server(world, nss[1], 8080, tag="two")
    Server(world, host, 80)

    assert tcp(host, p1, 8080) == world.internet_ip
    assert tcp(nss[0], world.internet_ip, 80) == p1
    assert tcp(nss[1], world.internet_ip, 80) == p2
    assert tcp(nss[1], p1, 8080) == p2                         # VPC to VPC only through public IPs


def test_vpc_identity_of_answer(world):
    """The same private IP in two VPCs: each public IP reaches its own instance (tagged answers)."""
    v1, v2 = world.vpc(1), world.vpc(2)
    pubs = world.public_ips[3], world.public_ips[4]
    nss = []
    for v, pub in zip((v1, v2), pubs, strict=True):
        web = SecurityGroup(f"sg-web-{v}", (SgRule(False, 17, 5353, 5353, cidr="0.0.0.0/0"), EGRESS_ALL))
        a = eni(v, 1, "a", "10.0.1.11", web.group_id)
        realise.ensure_vpc(vpc(v, enis=(a,), groups=(web,), public_ips=(PublicIp(pub, "10.0.1.11"),)))
        nss.append(world.instance(v, a))
    host = world.internet_host()
    Server(world, nss[0], 5353, udp=True, tag=v1), Server(world, nss[1], 5353, udp=True, tag=v2)
    s = ns_socket(host, 2)
    world.sockets.append(s)
    s.settimeout(2)
    for pub, v in zip(pubs, (v1, v2), strict=True):
        s.sendto(b"x", (pub, 5353))
        assert s.recv(100).decode().split() == [world.internet_ip, v]


def test_opt_in_host_access_reaches_a_public_ip_from_the_root_namespace(world):
    v = world.vpc()
    pub = world.public_ips[5]
    web = SecurityGroup(f"sg-web-{world.uid}", (tcp_from_cidr(8080, "198.51.100.1/32"), EGRESS_ALL))
    a = eni(v, 1, "a", "10.0.1.11", web.group_id)
    realise.ensure_vpc(vpc(v, enis=(a,), groups=(web,), public_ips=(PublicIp(pub, "10.0.1.11"),)))
    Server(world, world.instance(v, a), 8080)
    try:
        realise.ensure_host_access([f"{pub}/32"])
        route = subprocess.run(["ip", "route", "get", pub], capture_output=True, text=True, check=True).stdout
        assert "dev tr-host0" in route and "src 198.51.100.1" in route  # never leaves for the real network
        with socket.create_connection((pub, 8080), timeout=2) as s:
            s.sendall(b"hi")
            assert s.recv(100).split()[0] == b"198.51.100.1"
    finally:
        realise.remove_host_access()
    assert "tr-host0" not in subprocess.run(["ip", "route", "get", pub], capture_output=True, text=True).stdout
