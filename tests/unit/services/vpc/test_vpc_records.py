"""The records the VPC providers write, as the network reconciler reads them (layout in services/vpc/common.py)."""

from __future__ import annotations

import pytest

from runtime.services.vpc import addresses, common, default_vpc, gateways, interfaces, routes, subnets, vpcs
from runtime.state import SqliteStore

ACCOUNT = "123456789012"
ZONES = ("us-east-1a", "us-east-1b")


@pytest.fixture
def store(tmp_path):
    with SqliteStore(tmp_path / "state.db") as s:
        yield s


def test_default_vpc_is_complete_and_idempotent(store):
    vpc = default_vpc.ensure_default_vpc(store, ACCOUNT, "us-east-1", ZONES)
    assert default_vpc.ensure_default_vpc(store, ACCOUNT, "us-east-1", ZONES).id == vpc.id
    assert len(store.list(common.VPC, ACCOUNT)) == 1
    assert vpc.spec["IsDefault"] and vpc.status == {"State": "available"}
    made = store.list(common.SUBNET, parent=vpc.id)
    assert [(s.spec["CidrBlock"], s.spec["AvailabilityZone"], s.spec["MapPublicIpOnLaunch"]) for s in made] == [
        ("172.31.0.0/20", "us-east-1a", True), ("172.31.16.0/20", "us-east-1b", True)]
    assert made[0].spec["GatewayIp"] == "172.31.0.1"
    igw = store.list(common.INTERNET_GATEWAY, ACCOUNT)[0]
    assert igw.spec == {"VpcId": vpc.id} and igw.status == {"AttachmentState": "available"}
    main = routes.table_of_subnet(store, made[0])
    assert main.spec["Main"] and main.status["RouteStates"] == {"172.31.0.0/16": "active", "0.0.0.0/0": "active"}
    acl = next(a for a in store.list(common.NETWORK_ACL, parent=vpc.id))
    assert sorted(a["SubnetId"] for a in acl.spec["Associations"]) == sorted(s.id for s in made)
    group = store.list(common.SECURITY_GROUP, parent=vpc.id)[0]
    ingress = [r for r in group.spec["Rules"] if not r["IsEgress"]]
    assert ingress[0]["ReferencedGroupId"] == group.id and "FromPort" not in ingress[0]


def test_a_new_account_gets_its_own_default_vpc(store):
    first = default_vpc.ensure_default_vpc(store, ACCOUNT, "us-east-1", ZONES)
    other = default_vpc.ensure_default_vpc(store, "210987654321", "us-east-1", ZONES)
    assert first.id != other.id and other.account == "210987654321"


def test_interfaces_take_the_lowest_free_address_and_feed_subnet_counts(store):
    vpc = vpcs.create_vpc(store, ACCOUNT, "10.0.0.0/16")
    subnet = subnets.create_subnet(store, ACCOUNT, vpc, "10.0.1.0/28", "us-east-1a")
    made = [interfaces.create_interface(store, ACCOUNT, subnet) for _ in range(3)]
    assert [e.spec["PrivateIpAddress"] for e in made] == ["10.0.1.4", "10.0.1.5", "10.0.1.6"]
    assert subnets.used_ips(store, subnet.id) == {"10.0.1.4", "10.0.1.5", "10.0.1.6"}
    interfaces.delete_interface(store, made[1])
    assert interfaces.create_interface(store, ACCOUNT, subnet).spec["PrivateIpAddress"] == "10.0.1.5"


def test_route_states_follow_targets(store):
    vpc = vpcs.create_vpc(store, ACCOUNT, "10.0.0.0/16")
    subnet = subnets.create_subnet(store, ACCOUNT, vpc, "10.0.1.0/24", "us-east-1a")
    eni = interfaces.create_interface(store, ACCOUNT, subnet)
    igw = gateways.create_gateway(store, ACCOUNT)
    table = routes.table_of_subnet(store, subnet)
    store.update_spec(common.ROUTE_TABLE, table.id, lambda s: {**s, "Routes": s["Routes"] + [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw.id, "Origin": "CreateRoute"},
        {"DestinationCidrBlock": "192.168.0.0/16", "NetworkInterfaceId": eni.id, "Origin": "CreateRoute"}]})
    routes.refresh_route_states(store, vpc.id)
    assert store.get(common.ROUTE_TABLE, table.id).status["RouteStates"] == {
        "10.0.0.0/16": "active", "0.0.0.0/0": "blackhole", "192.168.0.0/16": "active"}
    gateways.attach(store, igw, vpc)
    interfaces.delete_interface(store, eni)
    assert store.get(common.ROUTE_TABLE, table.id).status["RouteStates"] == {
        "10.0.0.0/16": "active", "0.0.0.0/0": "active", "192.168.0.0/16": "blackhole"}


def test_public_addresses_never_collide(store):
    vpc = vpcs.create_vpc(store, ACCOUNT, "10.0.0.0/16")
    subnet = subnets.create_subnet(store, ACCOUNT, vpc, "10.0.1.0/24", "us-east-1a")
    eni = interfaces.create_interface(store, ACCOUNT, subnet)
    store.update_spec(common.NETWORK_INTERFACE, eni.id, lambda s: {**s, "PublicIp": addresses.allocate_public_ip(store)})
    assert addresses.allocate_public_ip(store) != store.get(common.NETWORK_INTERFACE, eni.id).spec["PublicIp"]
