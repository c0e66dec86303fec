"""Pure rendering of VPC desired state into iptables, ebtables and ipset documents (no root needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.host.net import ebtables, iptables, ipset, naming
from runtime.host.net.model import (ALL, ICMP, IGW, TCP, UDP, Eni, Nacl, NaclEntry, PublicIp, Route,
                                    RouteTable, SecurityGroup, SgRule, Subnet, VpcNet, validate)


def _net(**kw) -> VpcNet:
    base = VpcNet(
        vpc_id="vpc-1", cidr="10.0.0.0/16",
        subnets=(Subnet("subnet-a", "10.0.1.0/24", "rtb-1", "acl-1"), Subnet("subnet-b", "10.0.2.0/24", "rtb-1", "acl-2")),
        route_tables=(RouteTable("rtb-1", (Route("0.0.0.0/0", IGW),)),),
        nacls=(Nacl("acl-1", (NaclEntry(100, False, "allow", "0.0.0.0/0"), NaclEntry(100, True, "allow", "0.0.0.0/0"))),
               Nacl("acl-2", (NaclEntry(200, False, "allow", "10.0.0.0/16", TCP, 22, 22),
                              NaclEntry(90, False, "deny", "10.0.1.5/32", TCP, 22, 22),
                              NaclEntry(100, False, "allow", "0.0.0.0/0", ICMP, icmp_type=8, icmp_code=0),
                              NaclEntry(100, True, "allow", "0.0.0.0/0", UDP, 1024, 65535)))),
        security_groups=(
            SecurityGroup("sg-web", (SgRule(False, TCP, 80, 80, cidr="0.0.0.0/0", rule_id="sgr-1"),
                                     SgRule(False, TCP, 8080, 8090, group_id="sg-app"),
                                     SgRule(True, ALL, cidr="0.0.0.0/0"))),
            SecurityGroup("sg-app", (SgRule(False, TCP, 80, 80, cidr="0.0.0.0/0", rule_id="sgr-dup"),
                                     SgRule(True, ALL, cidr="0.0.0.0/0")))),
        enis=(Eni("eni-1", "subnet-a", "10.0.1.11", ("sg-web", "sg-app")),
              Eni("eni-2", "subnet-b", "10.0.2.11", ("sg-app",), mac="02:AA:00:00:00:02", secondary_ips=("10.0.2.12",)),
              Eni("eni-nat", "subnet-a", "10.0.1.99", ("sg-app",), source_dest_check=False)),
        igw_attached=True, public_ips=(PublicIp("203.0.113.5", "10.0.1.11"),))
    return replace(base, **kw)


def _chain(text: str, chain: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"-A {chain} ")]


def test_names_fit_kernel_limits_and_are_owned():
    for aws_id in ("vpc-0123456789abcdef0", "subnet-x", "eni-y"):
        for name in (naming.vpc_netns(aws_id), naming.bridge(aws_id), naming.eni_link(aws_id),
                     naming.uplink(aws_id), naming.host_link(aws_id), naming.IGW_LINK):
            assert name.startswith("tr-") and len(name) <= 15
        for chain in (naming.sg_chain(aws_id, True), naming.nacl_chain(aws_id, False), naming.l2_chain(aws_id)):
            assert chain.startswith("TR-") and len(chain) <= 28
        assert len(naming.sg_ipset(aws_id) + "-n") <= 31
    assert naming.vpc_netns("vpc-a") == naming.vpc_netns("vpc-a") != naming.vpc_netns("vpc-b")
    assert naming.route_table_number("rtb-1") >= 1000


def test_filter_fails_closed_and_ruleset_ends_with_its_digest():
    text = iptables.render_ruleset(_net())
    for policy in (":INPUT DROP", ":FORWARD DROP", ":OUTPUT DROP"):
        assert policy in text
    assert text.count("COMMIT") == 3
    assert iptables.digest_of(text) and iptables.render_ruleset(_net()) == text
    assert iptables.digest_of(iptables.render_ruleset(_net(public_ips=()))) != iptables.digest_of(text)


def test_forward_order_nacl_then_state_then_sg_dispatch():
    fwd = _chain(iptables.render_ruleset(_net()), "FORWARD")
    jumps = [line.split("-j ")[-1] for line in fwd]
    assert jumps[:4] == ["TR-IGW-OUT", "TR-NACL", "ACCEPT", "DROP"]
    assert "RELATED,ESTABLISHED" in fwd[2] and "INVALID" in fwd[3]
    egress = [l for l in fwd if "--physdev-in" in l]
    ingress = [l for l in fwd if " -d " in l]
    assert len(egress) == 3 and all(naming.sg_chain(e, True) in " ".join(egress) for e in ("eni-1", "eni-2"))
    assert {l.split(" -d ")[1].split()[0] for l in ingress} == {"10.0.1.11/32", "10.0.2.11/32", "10.0.2.12/32",
                                                                 "10.0.1.99/32"}
    assert fwd.index(egress[-1]) < fwd.index(ingress[0]) and fwd[-1] == "-A FORWARD -j ACCEPT"


def test_nacl_rules_in_rule_number_order_with_final_deny():
    text = iptables.render_ruleset(_net())
    rules = _chain(text, naming.nacl_chain("acl-2", False))
    assert ["rule 90 deny" in rules[0], "rule 100 allow" in rules[1], "rule 200 allow" in rules[2]] == [True] * 3
    assert rules[0].endswith("-j DROP") and "-s 10.0.1.5/32 -p tcp --dport 22" in rules[0]
    assert "-p icmp --icmp-type 8/0" in rules[1] and rules[1].endswith("-j RETURN")
    assert "rule * deny" in rules[-1] and rules[-1].endswith("-j DROP")
    egress = _chain(text, naming.nacl_chain("acl-2", True))
    assert "-d " not in egress[0] and "-p udp --dport 1024:65535" in egress[0]
    dispatch = _chain(text, "TR-NACL")
    assert "-s 10.0.2.0/24 ! -d 10.0.2.0/24" in dispatch[2] and naming.nacl_chain("acl-2", True) in dispatch[2]


def test_security_group_union_is_deduplicated_and_default_deny():
    text = iptables.render_ruleset(_net())
    ingress = _chain(text, naming.sg_chain("eni-1", False))
    assert len(ingress) == 3                                   # tcp/80 from sg-web and sg-app once
    assert "-p tcp --dport 80" in ingress[0] and "sgr-1" in ingress[0]
    assert f"-m set --match-set {naming.sg_ipset('sg-app')} src -p tcp --dport 8080:8090" in ingress[1]
    assert ingress[-1].endswith("-j DROP") and "default deny inbound" in ingress[-1]
    egress = _chain(text, naming.sg_chain("eni-1", True))
    assert egress[0].endswith("-j RETURN") and " -d " not in egress[0] and " -p " not in egress[0]
    assert all("--comment" in line for line in ingress + egress)


def test_sg_icmp_and_protocol_numbers():
    net = _net(security_groups=(SecurityGroup("sg-web", (SgRule(False, ICMP, 8, -1, cidr="10.0.0.0/8"),
                                                         SgRule(True, 47, cidr="10.9.0.0/16"),
                                                         SgRule(True, UDP, 53, 53, group_id="sg-web"))),
                                SecurityGroup("sg-app")))
    eg = _chain(iptables.render_ruleset(net), naming.sg_chain("eni-1", True))
    ing = _chain(iptables.render_ruleset(net), naming.sg_chain("eni-1", False))
    assert "-s 10.0.0.0/8 -p icmp --icmp-type 8 " in ing[0]
    assert "-d 10.9.0.0/16 -p 47 " in eg[0] and f"--match-set {naming.sg_ipset('sg-web')} dst -p udp --dport 53" in eg[1]


def test_public_ips_get_one_to_one_nat_and_only_they_cross_the_igw():
    text = iptables.render_ruleset(_net())
    assert "-A PREROUTING -i tr-igw -d 203.0.113.5/32" in text and "--to-destination 10.0.1.11" in text
    assert "-A POSTROUTING -o tr-igw -s 10.0.1.11/32" in text and "--to-source 203.0.113.5" in text
    igw_out = _chain(text, "TR-IGW-OUT")
    assert igw_out[0].startswith("-A TR-IGW-OUT -s 10.0.1.11/32") and igw_out[-1].endswith("-j DROP")
    igw_in = _chain(text, "TR-IGW-IN")
    assert "-s 10.0.0.0/16" in igw_in[0] and igw_in[0].endswith("DROP") and igw_in[-1].endswith("-j DROP")


def test_anti_spoofing_except_without_source_dest_check():
    text = iptables.render_ruleset(_net())
    spoof = "TR-S-" + naming.short_hash("eni-2")
    assert _chain(text, spoof) == [f"-A {spoof} -s 10.0.2.11 -j RETURN", f"-A {spoof} -s 10.0.2.12 -j RETURN",
                                   f'-A {spoof} -m comment --comment "spoofed source from eni-2" -j DROP']
    assert "TR-S-" + naming.short_hash("eni-nat") not in text
    l2 = ebtables.render_l2(_net())
    chain = naming.l2_chain("eni-2")
    assert f"-A {chain} -s 02:aa:00:00:00:02 -p ARP --arp-ip-src 10.0.2.12 --arp-mac-src 02:aa:00:00:00:02 -j ACCEPT" in l2
    assert f"-A {chain} -s 02:aa:00:00:00:02 -p IPv4 --ip-src 10.0.2.11 -j ACCEPT" in l2
    nat = naming.l2_chain("eni-nat")
    assert f"-A {nat} -s {naming.mac_for('eni-nat')} -p IPv4 -j ACCEPT" in l2
    assert l2.splitlines()[1:3] == [":INPUT DROP", ":FORWARD DROP"]
    assert ebtables._digest_chain(l2) and ebtables._digest_chain(ebtables.render_l2(_net(enis=()))) != \
        ebtables._digest_chain(l2)


def test_ipset_members_and_atomic_swap():
    sets = ipset.desired_sets(_net())
    assert sets == {naming.sg_ipset("sg-app"): ["10.0.1.11", "10.0.1.99", "10.0.2.11", "10.0.2.12"]}
    doc = ipset.render_sets(sets).splitlines()
    name = naming.sg_ipset("sg-app")
    assert doc[-2:] == [f"swap {name}-n {name}", f"destroy {name}-n"] and f"add {name}-n 10.0.2.12" in doc


@pytest.mark.parametrize("change, message", [
    ({"subnets": (Subnet("s", "10.1.0.0/24", "rtb-1", "acl-1"),)}, "outside"),
    ({"subnets": (Subnet("s", "10.0.1.0/24", "rtb-1", "acl-1"), Subnet("t", "10.0.1.128/25", "rtb-1", "acl-1"))},
     "overlaps"),
    ({"subnets": (Subnet("s", "10.0.1.0/24", "rtb-x", "acl-1"),), "enis": (), "public_ips": ()}, "route table"),
    ({"enis": (Eni("e", "subnet-a", "10.0.2.5"),), "public_ips": ()}, "outside its subnet"),
    ({"public_ips": (PublicIp("203.0.113.9", "10.0.1.200"),)}, "unknown private"),
    ({"route_tables": (RouteTable("rtb-1", (Route("0.0.0.0/0", "pcx-1"),)),)}, "unsupported target"),
])
def test_validate_rejects_inconsistent_models(change, message):
    with pytest.raises(ValueError, match=message):
        validate(_net(**change))
    validate(_net())
