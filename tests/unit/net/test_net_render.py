"""Pure rendering of VPC desired state into iptables, ebtables and ipset documents (no root needed)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.host.net import ebtables, ipset, iptables, naming
from runtime.host.net.model import (
    ALL,
    ICMP,
    IGW,
    TCP,
    UDP,
    Eni,
    Nacl,
    NaclEntry,
    PublicIp,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Subnet,
    VpcNet,
    validate,
)


def _net(**kw) -> VpcNet:
    base = VpcNet(
        vpc_id="vpc-1", cidr="10.0.0.0/16",
        subnets=(Subnet("subnet-a", "10.0.1.0/24", "rtb-1", "acl-1"),
                 Subnet("subnet-b", "10.0.2.0/24", "rtb-1", "acl-2")),
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


def test_builtin_chains_only_jump_into_ours():
    text = iptables.render_ruleset(_net())
    builtin = [line for line in text.splitlines() if line.startswith("-A ") and not line.split()[1].startswith("TR-")]
    assert builtin == ["-A PREROUTING -j TR-RAW", "-A PREROUTING -j TR-DNAT", "-A POSTROUTING -j TR-SNAT",
                       "-A INPUT -j TR-INPUT", "-A FORWARD -j TR-FWD", "-A OUTPUT -j TR-OUTPUT"]


def test_forward_order_nacl_then_state_then_sg_dispatch():
    text = iptables.render_ruleset(_net())
    jumps = [line.split("-j ")[-1] for line in _chain(text, "TR-FWD")]
    assert jumps == ["TR-IGW-OUT", "TR-NACL", "ACCEPT", "DROP", "TR-SG-OUT", "TR-SG-IN", "ACCEPT"]
    fwd = _chain(text, "TR-FWD")
    assert "RELATED,ESTABLISHED" in fwd[2] and "INVALID" in fwd[3]
    egress = _chain(text, "TR-SG-OUT")
    assert [line.split("--physdev-in ")[1].split()[0] for line in egress] == [naming.eni_link(e) for e in
                                                                        ("eni-1", "eni-2", "eni-nat")]
    ingress = _chain(text, "TR-SG-IN")
    assert [line.split(" -d ")[1].split()[0] for line in ingress] == ["10.0.1.11/32", "10.0.2.11/32", "10.0.2.12/32",
                                                                "10.0.1.99/32"]
    assert ingress[2].endswith(f"-j {naming.sg_chain('eni-2', False)}")


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


def test_eni_chain_is_the_union_of_its_groups_then_default_deny():
    text = iptables.render_ruleset(_net())
    chain = naming.sg_chain("eni-1", False)
    assert _chain(text, chain) == [
        f"-A {chain} -j {naming.group_chain('sg-web', False)}", f"-A {chain} -m mark --mark 0x2/0x2 -j RETURN",
        f"-A {chain} -j {naming.group_chain('sg-app', False)}", f"-A {chain} -m mark --mark 0x2/0x2 -j RETURN",
        f'-A {chain} -m comment --comment "SG default deny inbound for eni-1" -j DROP']
    assert _chain(text, naming.sg_chain("eni-1", True))[1].endswith("--mark 0x1/0x1 -j RETURN")


def test_group_rules_mark_and_deduplicate():
    net = _net(security_groups=(SecurityGroup("sg-web", (
        SgRule(False, TCP, 80, 80, cidr="0.0.0.0/0", rule_id="sgr-1"),
        SgRule(False, TCP, 80, 80, cidr="0.0.0.0/0", rule_id="sgr-same"),
        SgRule(False, TCP, 8080, 8090, group_id="sg-app"),
        SgRule(False, ICMP, 8, -1, cidr="10.0.0.0/8"),
        SgRule(True, 47, cidr="10.9.0.0/16"),
        SgRule(True, UDP, 53, 53, group_id="sg-web"),
        SgRule(True, ALL, cidr="0.0.0.0/0"))), SecurityGroup("sg-app")))
    text = iptables.render_ruleset(net)
    ing = _chain(text, naming.group_chain("sg-web", False))
    assert len(ing) == 3 and all(line.endswith("-j MARK --set-xmark 0x2/0x2") for line in ing)
    assert "-p tcp --dport 80 " in ing[0] and "sgr-1" in ing[0]
    assert f"-m set --match-set {naming.sg_ipset('sg-app')} src -p tcp --dport 8080:8090" in ing[1]
    assert "-s 10.0.0.0/8 -p icmp --icmp-type 8 " in ing[2]
    eg = _chain(text, naming.group_chain("sg-web", True))
    assert "-d 10.9.0.0/16 -p 47 " in eg[0]
    assert f"--match-set {naming.sg_ipset('sg-web')} dst -p udp --dport 53" in eg[1]
    assert " -d " not in eg[2] and " -p " not in eg[2] and eg[2].endswith("--set-xmark 0x1/0x1")
    assert all("--comment" in line for line in ing + eg)
    assert _chain(text, naming.group_chain("sg-app", False)) == []     # no rules: nothing allowed


def test_one_rule_change_updates_only_that_groups_chain():
    old = iptables.render_ruleset(_net())
    groups = _net().security_groups
    web = replace(groups[0], rules=groups[0].rules + (SgRule(False, TCP, 443, 443, cidr="0.0.0.0/0"),))
    new = iptables.render_ruleset(_net(security_groups=(web, groups[1])))
    update = iptables.render_update(old, new).splitlines()
    declared = [line for line in update if line.startswith(":")]
    assert update[0] == "*filter" and update[-1] == "COMMIT"
    assert declared == [f":{naming.group_chain('sg-web', False)} - [0:0]", ":TR-STATE - [0:0]"]
    assert any("--dport 443" in line for line in update)
    assert iptables.digest_of("\n".join(update)) == iptables.digest_of(new)


def test_removed_eni_chains_are_flushed_and_deleted():
    old = iptables.render_ruleset(_net())
    new = iptables.render_ruleset(_net(enis=_net().enis[:1], public_ips=()))
    update = iptables.render_update(old, new)
    for gone in (naming.sg_chain("eni-2", True), naming.sg_chain("eni-2", False), naming.spoof_chain("eni-2")):
        assert f":{gone} - [0:0]" in update and f"-X {gone}" in update
    assert update.index("*raw") < update.index("*nat") < update.index("*filter")
    assert iptables.parse_document(new)["filter"]["TR-SG-IN"] == [
        line for line in update.splitlines() if line.startswith("-A TR-SG-IN")]


def test_public_ips_get_one_to_one_nat_and_only_they_cross_the_igw():
    text = iptables.render_ruleset(_net())
    assert "-A TR-DNAT -i tr-igw -d 203.0.113.5/32" in text and "--to-destination 10.0.1.11" in text
    assert "-A TR-SNAT -o tr-igw -s 10.0.1.11/32" in text and "--to-source 203.0.113.5" in text
    assert iptables.nat_map_of(text) == {"203.0.113.5": "10.0.1.11"}
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
    chain, into, port = naming.l2_chain("eni-2"), naming.l2_in_chain("eni-2"), naming.eni_link("eni-2")
    mac = "02:aa:00:00:00:02"
    assert _chain(l2, chain) == [
        f"-A {chain} -s {mac} -p ARP --arp-ip-src 10.0.2.11 --arp-mac-src {mac} -j RETURN",
        f"-A {chain} -s {mac} -p ARP --arp-ip-src 10.0.2.12 --arp-mac-src {mac} -j RETURN",
        f"-A {chain} -p IPv4 -d Multicast -j DROP",
        f"-A {chain} -s {mac} -p IPv4 --ip-src 10.0.2.11 -j RETURN",
        f"-A {chain} -s {mac} -p IPv4 --ip-src 10.0.2.12 -j RETURN",
        f"-A {chain} -j DROP"]
    assert _chain(l2, into)[-1] == f"-A {into} -p IPv4 -j DROP"
    forward = _chain(l2, "FORWARD")
    delivery = [i for i, line in enumerate(forward) if " -o " in line]
    accepts = [i for i, line in enumerate(forward) if line.endswith("-j ACCEPT")]
    assert f"-A FORWARD -o {port} -j {into}" in forward and max(delivery) < min(accepts)
    assert forward.index(f"-A FORWARD -i {port} -j {chain}") < forward.index(f"-A FORWARD -i {port} -j ACCEPT")
    nat = naming.l2_chain("eni-nat")
    assert f"-A {nat} -s {naming.mac_for('eni-nat')} -p IPv4 -j RETURN" in l2
    assert naming.l2_in_chain("eni-nat") not in l2
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


def test_state_read_back_from_iptables_save_format():
    saved = "\n".join([
        "*nat", ":TR-DNAT - [0:0]",
        '-A TR-DNAT -d 203.0.113.5/32 -i tr-igw -m comment --comment "x" -j DNAT --to-destination 10.0.1.11',
        "COMMIT", "*filter", ":TR-SG-IN - [0:0]",
        '-A TR-SG-IN -d 10.0.1.11/32 -m comment --comment "ingress of eni-1" -j TR-I-0123456789', "COMMIT"])
    assert iptables.nat_map_of(saved) == {"203.0.113.5": "10.0.1.11"}
    assert iptables.eni_ips_of(saved) == {"10.0.1.11"}
    assert iptables.eni_ips_of(iptables.render_ruleset(_net())) == {"10.0.1.11", "10.0.2.11", "10.0.2.12", "10.0.1.99"}
