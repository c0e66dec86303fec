"""Rendering a VPC's records (the layout documented in services/vpc/common.py) into the host network model."""

from __future__ import annotations

import pytest

from runtime.control.vpc_net import VpcNetRealiser, render
from runtime.host.net import model
from runtime.state import SqliteStore

ACCOUNT = "123456789012"


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "state.db") as s:
        yield s


def seed(store) -> None:
    store.put("ec2.vpc", "vpc-1", ACCOUNT, {"CidrBlock": "10.0.0.0/16"})
    store.put("ec2.subnet", "subnet-a", ACCOUNT, {"VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}, parent="vpc-1")
    store.put("ec2.subnet", "subnet-b", ACCOUNT, {"VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24"}, parent="vpc-1")
    store.put("ec2.routetable", "rtb-main", ACCOUNT, {"VpcId": "vpc-1", "Main": True, "Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}], "Associations": [
        {"RouteTableAssociationId": "rtbassoc-m", "Main": True}]}, parent="vpc-1")
    store.put("ec2.routetable", "rtb-public", ACCOUNT, {"VpcId": "vpc-1", "Main": False, "Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"},
        {"DestinationCidrBlock": "192.0.2.0/24", "GatewayId": "igw-gone"}],
        "Associations": [{"RouteTableAssociationId": "rtbassoc-a", "SubnetId": "subnet-a"}]}, parent="vpc-1")
    store.put("ec2.internetgateway", "igw-1", ACCOUNT, {"VpcId": "vpc-1"})
    store.put("ec2.networkacl", "acl-default", ACCOUNT, {"VpcId": "vpc-1", "IsDefault": True, "Entries": [
        {"RuleNumber": 100, "Egress": False, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"},
        {"RuleNumber": 100, "Egress": True, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}],
        "Associations": [{"NetworkAclAssociationId": "aclassoc-a", "SubnetId": "subnet-a"}]}, parent="vpc-1")
    store.put("ec2.networkacl", "acl-custom", ACCOUNT, {"VpcId": "vpc-1", "IsDefault": False, "Entries": [
        {"RuleNumber": 10, "Egress": False, "Protocol": "6", "RuleAction": "deny", "CidrBlock": "0.0.0.0/0",
         "PortRange": {"From": 22, "To": 22}},
        {"RuleNumber": 20, "Egress": False, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "10.0.0.0/8",
         "IcmpTypeCode": {"Type": 8, "Code": -1}}],
        "Associations": [{"NetworkAclAssociationId": "aclassoc-b", "SubnetId": "subnet-b"}]}, parent="vpc-1")
    store.put("ec2.securitygroup", "sg-web", ACCOUNT, {"VpcId": "vpc-1", "GroupName": "web", "Rules": [
        {"SecurityGroupRuleId": "sgr-1", "IsEgress": False, "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
         "CidrIpv4": "0.0.0.0/0"},
        {"SecurityGroupRuleId": "sgr-2", "IsEgress": False, "IpProtocol": "-1", "ReferencedGroupId": "sg-web"},
        {"SecurityGroupRuleId": "sgr-3", "IsEgress": True, "IpProtocol": "-1", "CidrIpv6": "::/0"}]},
        parent="vpc-1")
    store.put("ec2.networkinterface", "eni-1", ACCOUNT, {"VpcId": "vpc-1", "SubnetId": "subnet-a",
                                                         "PrivateIpAddress": "10.0.1.10", "Groups": ["sg-web"],
                                                         "MacAddress": "02:00:00:00:00:01", "PublicIp": "198.51.100.20"},
              parent="subnet-a")
    store.put("ec2.networkinterface", "eni-2", ACCOUNT, {"VpcId": "vpc-1", "SubnetId": "subnet-b",
                                                         "PrivateIpAddress": "10.0.2.10", "Groups": ["sg-web"]},
              parent="subnet-b")
    store.put("ec2.address", "eipalloc-1", ACCOUNT, {"PublicIp": "198.51.100.30", "NetworkInterfaceId": "eni-2",
                                                     "PrivateIpAddress": "10.0.2.10"}, name="198.51.100.30")


def test_render_applies_aws_defaults_and_semantics(store):
    seed(store)
    net = render(store, store.get("ec2.vpc", "vpc-1"))
    model.validate(net)
    subnets = {s.subnet_id: s for s in net.subnets}
    assert subnets["subnet-a"].route_table_id == "rtb-public"
    assert subnets["subnet-b"].route_table_id == "rtb-main"      # no association: the main table
    assert subnets["subnet-b"].network_acl_id == "acl-custom"
    public = next(t for t in net.route_tables if t.route_table_id == "rtb-public")
    assert public.routes == (model.Route("0.0.0.0/0", model.IGW), model.Route("192.0.2.0/24", model.BLACKHOLE))
    assert net.igw_attached is True
    custom = next(n for n in net.nacls if n.network_acl_id == "acl-custom")
    assert custom.entries[0] == model.NaclEntry(10, False, "deny", "0.0.0.0/0", model.TCP, 22, 22)
    assert custom.entries[1].icmp_type == 8 and custom.entries[1].protocol == model.ICMP
    web = net.group("sg-web")
    assert [r.rule_id for r in web.rules] == ["sgr-1", "sgr-2"]  # the IPv6 rule has nothing to match
    assert set(net.public_ips) == {model.PublicIp("198.51.100.20", "10.0.1.10"),
                                   model.PublicIp("198.51.100.30", "10.0.2.10")}


def test_targets_map_every_kind_to_its_vpc(store):
    seed(store)
    realiser = VpcNetRealiser()
    for key in [("ec2.subnet", "subnet-a"), ("ec2.securitygroup", "sg-web"), ("ec2.networkinterface", "eni-1"),
                ("ec2.address", "eipalloc-1"), ("ec2.vpc", "vpc-1")]:
        assert realiser.targets_for(store, key) == {("vpc", "vpc-1")}
    assert realiser.targets_for(store, ("iam.user", "AIDA1")) == set()
