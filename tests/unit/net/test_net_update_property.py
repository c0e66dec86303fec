"""Property: a partial `--noflush` update turns the old ruleset into exactly the new one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.host.net import iptables
from runtime.host.net.model import (
    ALL,
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

GROUPS = ("sg-a", "sg-b", "sg-c")
SUBNETS = (Subnet("subnet-1", "10.0.1.0/24", "rtb-1", "acl-1"), Subnet("subnet-2", "10.0.2.0/24", "rtb-1", "acl-2"))

sg_rule = st.builds(
    SgRule, egress=st.booleans(), protocol=st.sampled_from([ALL, TCP, UDP]),
    from_port=st.integers(1, 100), to_port=st.integers(100, 200),
    cidr=st.sampled_from(["0.0.0.0/0", "10.0.0.0/16", "192.0.2.0/24"]))
group_rule = st.builds(SgRule, egress=st.booleans(), protocol=st.sampled_from([ALL, TCP]),
                       group_id=st.sampled_from(GROUPS))
nacl_entry = st.builds(NaclEntry, rule_number=st.integers(1, 32766), egress=st.booleans(),
                       action=st.sampled_from(["allow", "deny"]), cidr=st.sampled_from(["0.0.0.0/0", "10.0.1.0/24"]),
                       protocol=st.sampled_from([ALL, TCP]))


@st.composite
def vpcs(draw) -> VpcNet:
    groups = tuple(SecurityGroup(g, tuple(draw(st.lists(st.one_of(sg_rule, group_rule), max_size=4))))
                   for g in GROUPS)
    enis = []
    for n in draw(st.lists(st.integers(10, 40), unique=True, max_size=5)):
        subnet = draw(st.sampled_from(SUBNETS))
        enis.append(Eni(f"eni-{n}", subnet.subnet_id, subnet.cidr.replace("0/24", str(n)),
                        tuple(draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3))),
                        source_dest_check=draw(st.booleans())))
    public = [PublicIp(f"203.0.113.{i}", e.private_ip) for i, e in enumerate(enis) if draw(st.booleans())]
    nacls = tuple(Nacl(f"acl-{i}", tuple(draw(st.lists(nacl_entry, max_size=4)))) for i in (1, 2))
    net = VpcNet("vpc-p", "10.0.0.0/16", SUBNETS, (RouteTable("rtb-1", (Route("0.0.0.0/0", IGW),)),), nacls,
                 groups, tuple(enis), True, tuple(public))
    validate(net)
    return net


def _apply(chains: iptables.Chains, update: str) -> iptables.Chains:
    """What iptables-restore --noflush does with one of our update documents."""
    out = {table: dict(c) for table, c in chains.items()}
    table = ""
    for line in update.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            out[table][line[1:].split()[0]] = []
        elif line.startswith("-A "):
            out[table][line.split()[1]].append(line)
        elif line.startswith("-X "):
            del out[table][line.split()[1]]
    return out


@settings(max_examples=60, deadline=None)
@given(vpcs(), vpcs())
def test_partial_update_reaches_the_new_ruleset(old_net, new_net):
    old, new = iptables.render_ruleset(old_net), iptables.render_ruleset(new_net)
    assert _apply(iptables.parse_document(old), iptables.render_update(old, new)) == iptables.parse_document(new)


@settings(max_examples=30, deadline=None)
@given(vpcs())
def test_rendering_is_deterministic_and_every_chain_ends_in_a_verdict(net):
    text = iptables.render_ruleset(net)
    assert text == iptables.render_ruleset(net)
    chains = iptables.parse_document(text)["filter"]
    for chain, rules in chains.items():
        if chain.startswith(("TR-NE-", "TR-NI-", "TR-O-", "TR-I-")):
            assert rules[-1].endswith("-j DROP"), chain
