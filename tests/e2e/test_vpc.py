"""The VPC half of EC2 through boto3 against a real server: VPCs, subnets, route tables, internet gateways,
network ACLs, security groups, network interfaces, Elastic IPs, tags, filters, pagination, the default VPC and
persistence across a restart. Error codes are asserted exactly (reference/aws-spec.md §4)."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.server import REPO, start_server

PUBLIC = ipaddress.ip_network("198.51.100.0/24")


def error_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def ec2(server):
    return server.client("ec2")


@pytest.fixture
def vpc(ec2):
    """A fresh 10.0.0.0/16 VPC, torn down with everything made in it (tests may leave dependents)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    teardown(ec2, vpc_id)


def teardown(ec2, vpc_id: str) -> None:
    flt = [{"Name": "vpc-id", "Values": [vpc_id]}]
    for address in ec2.describe_addresses()["Addresses"]:
        if address.get("AssociationId"):
            ec2.disassociate_address(AssociationId=address["AssociationId"])
    for eni in ec2.describe_network_interfaces(Filters=flt)["NetworkInterfaces"]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    for address in ec2.describe_addresses()["Addresses"]:
        ec2.release_address(AllocationId=address["AllocationId"])
    for igw in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
            "InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    for subnet in ec2.describe_subnets(Filters=flt)["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for table in ec2.describe_route_tables(Filters=flt)["RouteTables"]:
        if not any(a["Main"] for a in table["Associations"]):
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    for acl in ec2.describe_network_acls(Filters=flt)["NetworkAcls"]:
        if not acl["IsDefault"]:
            ec2.delete_network_acl(NetworkAclId=acl["NetworkAclId"])
    groups = ec2.describe_security_groups(Filters=flt)["SecurityGroups"]
    for group in groups:
        for direction, revoke in (("IpPermissions", ec2.revoke_security_group_ingress),
                                  ("IpPermissionsEgress", ec2.revoke_security_group_egress)):
            if group["GroupName"] != "default" and group[direction]:
                revoke(GroupId=group["GroupId"], IpPermissions=group[direction])
    for group in groups:
        if group["GroupName"] != "default":
            ec2.delete_security_group(GroupId=group["GroupId"])
    ec2.delete_vpc(VpcId=vpc_id)


def main_table(ec2, vpc_id: str) -> dict:
    return ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]


# --- VPCs ----------------------------------------------------------------------------------------------------

def test_create_vpc_makes_main_table_default_acl_and_default_group(ec2, vpc):
    described = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    assert described["CidrBlock"] == "10.0.0.0/16" and described["State"] == "available"
    assert described["IsDefault"] is False
    assert described["CidrBlockAssociationSet"][0]["CidrBlockState"]["State"] == "associated"
    table = main_table(ec2, vpc)
    assert table["Routes"] == [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local",
                                "Origin": "CreateRouteTable", "State": "active"}]
    acl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                             {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]
    entries = sorted((e["Egress"], e["RuleNumber"], e["RuleAction"], e["Protocol"], e["CidrBlock"])
                     for e in acl["Entries"])
    assert entries == [(False, 100, "allow", "-1", "0.0.0.0/0"), (False, 32767, "deny", "-1", "0.0.0.0/0"),
                       (True, 100, "allow", "-1", "0.0.0.0/0"), (True, 32767, "deny", "-1", "0.0.0.0/0")]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert group["IpPermissions"] == [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                                       "UserIdGroupPairs": [{"GroupId": group["GroupId"],
                                                             "UserId": group["OwnerId"]}]}]
    assert group["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]


@pytest.mark.parametrize("cidr,code", [("10.0.0.0/8", "InvalidVpc.Range"), ("10.0.0.0/29", "InvalidVpc.Range"),
                                       ("10.0.0.300/16", "InvalidParameterValue"),
                                       ("nonsense", "InvalidParameterValue")])
def test_create_vpc_rejects_bad_blocks(ec2, cidr, code):
    assert error_of(lambda: ec2.create_vpc(CidrBlock=cidr)) == code


def test_vpc_cidr_is_canonicalised(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="100.68.0.18/18")["Vpc"]["VpcId"]
    try:
        assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "100.68.0.0/18"
    finally:
        ec2.delete_vpc(VpcId=vpc_id)


def test_vpc_ids_malformed_and_not_found(ec2):
    assert error_of(lambda: ec2.describe_vpcs(VpcIds=["vpc-zz"])) == "InvalidVpcID.Malformed"
    assert error_of(lambda: ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])) == "InvalidVpcID.NotFound"
    assert error_of(lambda: ec2.delete_vpc(VpcId="vpc-0123456789abcdef0")) == "InvalidVpcID.NotFound"


def test_dry_run_creates_nothing(ec2):
    before = len(ec2.describe_vpcs()["Vpcs"])
    assert error_of(lambda: ec2.create_vpc(CidrBlock="10.3.0.0/16", DryRun=True)) == "DryRunOperation"
    assert len(ec2.describe_vpcs()["Vpcs"]) == before


def test_vpc_attributes(ec2, vpc):
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"] is True
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"][
        "Value"] is False
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    assert error_of(lambda: ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True},
                                                     EnableDnsSupport={"Value": True})) == \
        "InvalidParameterCombination"
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]


def test_delete_vpc_dependency_chain(ec2):
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    table = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]["NetworkAclId"]
    group = ec2.create_security_group(VpcId=vpc_id, GroupName="web", Description="web")["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    steps = [
        lambda: ec2.delete_network_interface(NetworkInterfaceId=eni),
        lambda: ec2.delete_subnet(SubnetId=subnet),
        lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id),
        lambda: ec2.delete_route_table(RouteTableId=table),
        lambda: ec2.delete_network_acl(NetworkAclId=acl),
        lambda: ec2.delete_security_group(GroupId=group),
    ]
    assert error_of(lambda: ec2.delete_subnet(SubnetId=subnet)) == "DependencyViolation"
    for step in steps:
        assert error_of(lambda: ec2.delete_vpc(VpcId=vpc_id)) == "DependencyViolation"
        step()
    ec2.delete_vpc(VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    assert error_of(lambda: ec2.describe_vpcs(VpcIds=[vpc_id])) == "InvalidVpcID.NotFound"
    assert error_of(lambda: ec2.describe_security_groups(GroupIds=[group])) == "InvalidGroup.NotFound"


# --- subnets -------------------------------------------------------------------------------------------------

def test_subnets(ec2, vpc, server):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/28", AvailabilityZone="us-east-1b")["Subnet"]
    assert subnet["AvailableIpAddressCount"] == 11 and subnet["AvailabilityZone"] == "us-east-1b"
    assert subnet["State"] == "available" and subnet["MapPublicIpOnLaunch"] is False
    assert subnet["DefaultForAz"] is False and subnet["AvailabilityZoneId"] == "use1-az2"
    assert subnet["SubnetArn"] == f"arn:aws:ec2:us-east-1:{server.account_id}:subnet/{subnet['SubnetId']}"
    assert error_of(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")) == "InvalidSubnet.Conflict"
    assert error_of(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/29")) == "InvalidSubnet.Range"
    assert error_of(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.0.0/24")) == "InvalidSubnet.Range"
    assert error_of(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/15")) == "InvalidSubnet.Range"
    assert error_of(lambda: ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.9.0/24",
                                              AvailabilityZone="mars-1a")) == "InvalidParameterValue"
    assert error_of(lambda: ec2.create_subnet(VpcId="vpc-0123456789abcdef0",
                                              CidrBlock="10.0.9.0/24")) == "InvalidVpcID.NotFound"
    ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    ec2.create_network_interface(SubnetId=subnet["SubnetId"])
    again = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]
    assert again["MapPublicIpOnLaunch"] is True and again["AvailableIpAddressCount"] == 10
    assert error_of(lambda: ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])) == \
        "InvalidSubnetID.NotFound"
    assert error_of(lambda: ec2.describe_subnets(SubnetIds=["sub-1"])) == "InvalidSubnetID.Malformed"
    assert error_of(lambda: ec2.delete_subnet(SubnetId=subnet["SubnetId"])) == "DependencyViolation"


def test_subnet_filters(ec2, vpc):
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1c")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[b], Tags=[{"Key": "tier", "Value": "private"}])

    def ids(*filters):
        return sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                                          *filters])["Subnets"])
    assert ids() == sorted([a, b])
    assert ids({"Name": "availability-zone", "Values": ["us-east-1c"]}) == [b]
    assert ids({"Name": "cidr-block", "Values": ["10.0.1.0/24"]}) == [a]
    assert ids({"Name": "tag:tier", "Values": ["priv*"]}) == [b]
    assert ids({"Name": "tag-key", "Values": ["tier"]}) == [b]
    assert ids({"Name": "state", "Values": ["available"]}) == sorted([a, b])
    assert ids({"Name": "default-for-az", "Values": ["true"]}) == []
    assert error_of(lambda: ec2.describe_subnets(Filters=[{"Name": "bogus", "Values": ["x"]}])) == \
        "InvalidParameterValue"


# --- route tables --------------------------------------------------------------------------------------------

def test_route_tables_routes_and_blackhole(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]
    table_id = table["RouteTableId"]
    assert table["Associations"] == [] and len(table["Routes"]) == 1
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert error_of(lambda: ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0",
                                             GatewayId=igw)) == "InvalidParameterValue"
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert error_of(lambda: ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0",
                                             GatewayId=igw)) == "RouteAlreadyExists"
    assert error_of(lambda: ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0",
                                             GatewayId="igw-0123456789abcdef0")) == "InvalidInternetGatewayID.NotFound"
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="192.168.0.0/16", NetworkInterfaceId=eni)
    assert error_of(lambda: ec2.create_route(RouteTableId=table_id, DestinationCidrBlock="192.169.0.0/16",
                                             InstanceId="i-0123456789abcdef0")) == "InvalidInstanceID.NotFound"

    def states():
        routes = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]["Routes"]
        return {r["DestinationCidrBlock"]: r["State"] for r in routes}
    assert states() == {"10.0.0.0/16": "active", "0.0.0.0/0": "active", "192.168.0.0/16": "active"}
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    assert states() == {"10.0.0.0/16": "active", "0.0.0.0/0": "blackhole", "192.168.0.0/16": "blackhole"}
    blackholes = ec2.describe_route_tables(Filters=[{"Name": "route.state", "Values": ["blackhole"]}])
    assert [t["RouteTableId"] for t in blackholes["RouteTables"]] == [table_id]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert states()["0.0.0.0/0"] == "active"
    ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="192.168.0.0/16", GatewayId=igw)
    assert states()["192.168.0.0/16"] == "active"
    assert error_of(lambda: ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock="172.16.0.0/12",
                                              GatewayId=igw)) == "InvalidParameterValue"
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="192.168.0.0/16")
    assert error_of(lambda: ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="192.168.0.0/16")) == \
        "InvalidRoute.NotFound"
    assert error_of(lambda: ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="10.0.0.0/16")) == \
        "InvalidParameterValue"
    ec2.delete_route(RouteTableId=table_id, DestinationCidrBlock="0.0.0.0/0")


def test_route_table_associations(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    other = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    assert association["AssociationState"] == {"State": "associated"}
    assert error_of(lambda: ec2.associate_route_table(RouteTableId=other, SubnetId=subnet)) == \
        "Resource.AlreadyAssociated"
    assert error_of(lambda: ec2.delete_route_table(RouteTableId=table)) == "DependencyViolation"
    found = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [table]
    moved = ec2.replace_route_table_association(AssociationId=association["AssociationId"], RouteTableId=other)
    assert moved["NewAssociationId"] != association["AssociationId"]
    ec2.disassociate_route_table(AssociationId=moved["NewAssociationId"])
    assert error_of(lambda: ec2.disassociate_route_table(AssociationId=moved["NewAssociationId"])) == \
        "InvalidAssociationID.NotFound"
    main = main_table(ec2, vpc)
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    assert error_of(lambda: ec2.delete_route_table(RouteTableId=main["RouteTableId"])) == "DependencyViolation"
    assert error_of(lambda: ec2.disassociate_route_table(AssociationId=main_assoc)) == "InvalidParameterValue"
    new_main = ec2.replace_route_table_association(AssociationId=main_assoc, RouteTableId=table)["NewAssociationId"]
    assert main_table(ec2, vpc)["RouteTableId"] == table
    ec2.replace_route_table_association(AssociationId=new_main, RouteTableId=main["RouteTableId"])
    assert main_table(ec2, vpc)["RouteTableId"] == main["RouteTableId"]
    assert error_of(lambda: ec2.describe_route_tables(RouteTableIds=["rtb-0123456789abcdef0"])) == \
        "InvalidRouteTableID.NotFound"
    assert error_of(lambda: ec2.delete_route_table(RouteTableId="rtb-x")) == "InvalidRouteTableID.Malformed"


# --- internet gateways ---------------------------------------------------------------------------------------

def test_internet_gateways(ec2, vpc):
    igw = ec2.create_internet_gateway(TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": [
        {"Key": "Name", "Value": "gw"}]}])["InternetGateway"]
    igw_id = igw["InternetGatewayId"]
    assert igw["Attachments"] == [] and igw["Tags"] == [{"Key": "Name", "Value": "gw"}]
    assert error_of(lambda: ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)) == \
        "Gateway.NotAttached"
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)
    described = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    assert described["InternetGateways"][0]["Attachments"] == [{"VpcId": vpc, "State": "available"}]
    assert error_of(lambda: ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc)) == \
        "Resource.AlreadyAssociated"
    second = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert error_of(lambda: ec2.attach_internet_gateway(InternetGatewayId=second, VpcId=vpc)) == \
        "Resource.AlreadyAssociated"
    ec2.delete_internet_gateway(InternetGatewayId=second)
    assert error_of(lambda: ec2.delete_internet_gateway(InternetGatewayId=igw_id)) == "DependencyViolation"
    assert error_of(lambda: ec2.describe_internet_gateways(InternetGatewayIds=["igw-0123456789abcdef0"])) == \
        "InvalidInternetGatewayID.NotFound"
    assert error_of(lambda: ec2.attach_internet_gateway(InternetGatewayId="igw-nope", VpcId=vpc)) == \
        "InvalidInternetGatewayID.Malformed"


# --- network ACLs --------------------------------------------------------------------------------------------

def test_network_acls(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]
    acl_id = acl["NetworkAclId"]
    assert acl["IsDefault"] is False and acl["Associations"] == []
    assert sorted((e["RuleNumber"], e["RuleAction"], e["Egress"]) for e in acl["Entries"]) == \
        [(32767, "deny", False), (32767, "deny", True)]
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="6", RuleAction="allow",
                                 Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22})
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=90, Protocol="1", RuleAction="deny",
                                 Egress=False, CidrBlock="10.0.0.0/8", IcmpTypeCode={"Type": 8, "Code": -1})
    ec2.create_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="-1", RuleAction="allow",
                                 Egress=True, CidrBlock="0.0.0.0/0")
    assert error_of(lambda: ec2.create_network_acl_entry(
        NetworkAclId=acl_id, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=False,
        CidrBlock="0.0.0.0/0")) == "NetworkAclEntryAlreadyExists"
    for number in (0, 32767):
        assert error_of(lambda: ec2.create_network_acl_entry(
            NetworkAclId=acl_id, RuleNumber=number, Protocol="-1", RuleAction="allow", Egress=False,
            CidrBlock="0.0.0.0/0")) == "InvalidParameterValue"
    ec2.replace_network_acl_entry(NetworkAclId=acl_id, RuleNumber=100, Protocol="17", RuleAction="deny",
                                  Egress=False, CidrBlock="10.0.0.0/16", PortRange={"From": 53, "To": 53})
    assert error_of(lambda: ec2.replace_network_acl_entry(
        NetworkAclId=acl_id, RuleNumber=5, Protocol="-1", RuleAction="allow", Egress=False,
        CidrBlock="0.0.0.0/0")) == "InvalidNetworkAclEntry.NotFound"
    entries = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"]
    ingress = [e for e in entries if not e["Egress"]]
    assert [e["RuleNumber"] for e in ingress] == [90, 100, 32767]
    assert ingress[0]["IcmpTypeCode"] == {"Type": 8, "Code": -1}
    assert ingress[1] == {"RuleNumber": 100, "Egress": False, "Protocol": "17", "RuleAction": "deny",
                          "CidrBlock": "10.0.0.0/16", "PortRange": {"From": 53, "To": 53}}
    ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=90, Egress=False)
    assert error_of(lambda: ec2.delete_network_acl_entry(NetworkAclId=acl_id, RuleNumber=90, Egress=False)) == \
        "InvalidNetworkAclEntry.NotFound"

    default = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
        "NetworkAcls"][0]
    assert default["IsDefault"] is True
    association = next(a for a in default["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
    moved = ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl_id)["NewAssociationId"]
    assert ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Associations"] == [
        {"NetworkAclAssociationId": moved, "NetworkAclId": acl_id, "SubnetId": subnet}]
    assert error_of(lambda: ec2.delete_network_acl(NetworkAclId=acl_id)) == "DependencyViolation"
    assert error_of(lambda: ec2.delete_network_acl(NetworkAclId=default["NetworkAclId"])) == \
        "InvalidParameterValue"
    ec2.replace_network_acl_association(AssociationId=moved, NetworkAclId=default["NetworkAclId"])
    ec2.delete_network_acl(NetworkAclId=acl_id)
    assert error_of(lambda: ec2.describe_network_acls(NetworkAclIds=[acl_id])) == "InvalidNetworkAclID.NotFound"
    assert error_of(lambda: ec2.replace_network_acl_association(
        AssociationId="aclassoc-0123456789abcdef0", NetworkAclId=default["NetworkAclId"])) == \
        "InvalidAssociationID.NotFound"


# --- security groups -----------------------------------------------------------------------------------------

def test_security_groups_rules(ec2, vpc):
    web = ec2.create_security_group(VpcId=vpc, GroupName="web", Description="web tier")
    web_id = web["GroupId"]
    assert web["SecurityGroupArn"].endswith(f":security-group/{web_id}")
    assert error_of(lambda: ec2.create_security_group(VpcId=vpc, GroupName="WEB", Description="x")) == \
        "InvalidGroup.Duplicate"
    assert error_of(lambda: ec2.create_security_group(VpcId=vpc, GroupName="sg-x", Description="x")) == \
        "InvalidParameterValue"
    db_id = ec2.create_security_group(VpcId=vpc, GroupName="db", Description="db tier")["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[web_id])["SecurityGroups"][0]
    assert group["IpPermissions"] == [] and len(group["IpPermissionsEgress"]) == 1

    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.0/24",
                                                                            "Description": "office"}]}
    added = ec2.authorize_security_group_ingress(GroupId=web_id, IpPermissions=[ssh])["SecurityGroupRules"]
    assert len(added) == 1 and added[0]["SecurityGroupRuleId"].startswith("sgr-")
    assert added[0]["CidrIpv4"] == "203.0.113.0/24" and added[0]["IsEgress"] is False
    assert error_of(lambda: ec2.authorize_security_group_ingress(GroupId=web_id, IpPermissions=[ssh])) == \
        "InvalidPermission.Duplicate"
    ec2.authorize_security_group_ingress(GroupId=db_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web_id}]}])
    ec2.authorize_security_group_ingress(GroupId=web_id, IpProtocol="icmp", FromPort=-1, ToPort=-1,
                                         CidrIp="10.0.0.0/16")
    ec2.authorize_security_group_ingress(GroupId=web_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    assert error_of(lambda: ec2.authorize_security_group_ingress(GroupId=web_id, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [
            {"GroupId": "sg-0123456789abcdef0"}]}])) == "InvalidGroup.NotFound"
    db = ec2.describe_security_groups(GroupIds=[db_id])["SecurityGroups"][0]
    assert db["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == web_id
    referencing = ec2.describe_security_groups(Filters=[{"Name": "ip-permission.group-id", "Values": [web_id]}])
    assert [g["GroupId"] for g in referencing["SecurityGroups"]] == [db_id]

    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [web_id]}])[
        "SecurityGroupRules"]
    assert sorted((r["IsEgress"], r["IpProtocol"], r["FromPort"]) for r in rules) == \
        [(False, "icmp", -1), (False, "tcp", 22), (False, "tcp", 443), (True, "-1", -1)]
    ssh_rule = next(r for r in rules if r["FromPort"] == 22)
    ec2.modify_security_group_rules(GroupId=web_id, SecurityGroupRules=[{
        "SecurityGroupRuleId": ssh_rule["SecurityGroupRuleId"],
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 2222, "ToPort": 2222, "CidrIpv4": "0.0.0.0/0"}}])
    changed = ec2.describe_security_group_rules(SecurityGroupRuleIds=[ssh_rule["SecurityGroupRuleId"]])[
        "SecurityGroupRules"][0]
    assert (changed["FromPort"], changed["CidrIpv4"]) == (2222, "0.0.0.0/0")
    assert error_of(lambda: ec2.describe_security_group_rules(SecurityGroupRuleIds=["sgr-0123456789abcdef0"])) == \
        "InvalidSecurityGroupRuleId.NotFound"

    assert error_of(lambda: ec2.revoke_security_group_ingress(GroupId=web_id, IpPermissions=[ssh])) == \
        "InvalidPermission.NotFound"
    revoked = ec2.revoke_security_group_ingress(GroupId=web_id, SecurityGroupRuleIds=[
        ssh_rule["SecurityGroupRuleId"]])["RevokedSecurityGroupRules"]
    assert [(r["SecurityGroupRuleId"], r["GroupId"], r["FromPort"]) for r in revoked] == [
        (ssh_rule["SecurityGroupRuleId"], web_id, 2222)]
    ec2.revoke_security_group_ingress(GroupId=web_id, IpProtocol="icmp", FromPort=-1, ToPort=-1,
                                      CidrIp="10.0.0.0/16")
    ec2.revoke_security_group_egress(GroupId=web_id, IpPermissions=[{"IpProtocol": "-1",
                                                                     "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert ec2.describe_security_groups(GroupIds=[web_id])["SecurityGroups"][0]["IpPermissionsEgress"] == []

    assert error_of(lambda: ec2.delete_security_group(GroupId=web_id)) == "DependencyViolation"
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])[
        "SecurityGroups"][0]
    assert error_of(lambda: ec2.delete_security_group(GroupId=default["GroupId"])) == "CannotDelete"
    assert error_of(lambda: ec2.describe_security_groups(GroupIds=["sg-0123456789abcdef0"])) == \
        "InvalidGroup.NotFound"
    assert error_of(lambda: ec2.describe_security_groups(GroupIds=["sg-bad"])) == "InvalidGroupId.Malformed"


def test_security_group_in_use_by_interface(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(VpcId=vpc, GroupName="app", Description="app")["GroupId"]
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]["NetworkInterfaceId"]
    assert error_of(lambda: ec2.delete_security_group(GroupId=group)) == "DependencyViolation"
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.delete_security_group(GroupId=group)


# --- network interfaces --------------------------------------------------------------------------------------

def test_network_interfaces(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]
    group = ec2.create_security_group(VpcId=vpc, GroupName="eni", Description="eni")["GroupId"]
    first = ec2.create_network_interface(SubnetId=subnet, Description="first")["NetworkInterface"]
    assert first["PrivateIpAddress"] == "10.0.1.4"
    assert first["Groups"] == [{"GroupId": default_sg["GroupId"], "GroupName": "default"}]
    assert first["Status"] == "available" and first["SourceDestCheck"] is True
    assert first["MacAddress"].startswith("02:") and first["VpcId"] == vpc
    second = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.1.77",
                                          Groups=[group])["NetworkInterface"]
    assert second["PrivateIpAddress"] == "10.0.1.77"
    assert error_of(lambda: ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.1.77")) == \
        "InvalidIPAddress.InUse"
    assert error_of(lambda: ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.0.1.1")) == \
        "InvalidParameterValue"
    assert error_of(lambda: ec2.create_network_interface(SubnetId=subnet, Groups=["sg-0123456789abcdef0"])) == \
        "InvalidGroup.NotFound"
    third = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    assert third["PrivateIpAddress"] == "10.0.1.5"
    eni = second["NetworkInterfaceId"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": False})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[group, default_sg["GroupId"]])
    foreign_vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    try:
        foreign = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [foreign_vpc]}])[
            "SecurityGroups"][0]["GroupId"]
        assert error_of(lambda: ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[foreign])) \
            == "InvalidParameterValue"
    finally:
        ec2.delete_vpc(VpcId=foreign_vpc)
    described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert described["SourceDestCheck"] is False
    assert [g["GroupId"] for g in described["Groups"]] == [group, default_sg["GroupId"]]

    def ids(*filters):
        return sorted(e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}, *filters])["NetworkInterfaces"])
    assert ids({"Name": "group-id", "Values": [group]}) == [eni]
    assert ids({"Name": "private-ip-address", "Values": ["10.0.1.4"]}) == [first["NetworkInterfaceId"]]
    assert ids({"Name": "subnet-id", "Values": [subnet]}) == sorted(
        [first["NetworkInterfaceId"], eni, third["NetworkInterfaceId"]])
    assert ids({"Name": "description", "Values": ["first"]}) == [first["NetworkInterfaceId"]]
    assert ids({"Name": "status", "Values": ["in-use"]}) == []
    assert error_of(lambda: ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId="i-0123456789abcdef0",
                                                         DeviceIndex=1)) == "InvalidInstanceID.NotFound"
    assert error_of(lambda: ec2.detach_network_interface(AttachmentId="eni-attach-0123456789abcdef0")) == \
        "InvalidAttachmentID.NotFound"
    assert error_of(lambda: ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-0123456789abcdef0"])) == \
        "InvalidNetworkInterfaceID.NotFound"
    assert error_of(lambda: ec2.delete_network_interface(NetworkInterfaceId="eni-zz")) == \
        "InvalidNetworkInterfaceID.Malformed"


def test_interface_attach_to_recorded_instance(ec2, vpc, server):
    """An `ec2.instance` record (as the instances provider writes it) is all attach needs; a stopped one keeps the
    instance realiser idle."""
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    from runtime.state import SqliteStore
    instance_id = "i-0abcdef0123456789"

    def set_state(state: str) -> None:
        with SqliteStore(server.data_dir / "state.db") as store:
            store.update_status("ec2.instance", instance_id, {"State": state})
    with SqliteStore(server.data_dir / "state.db") as store:
        store.put("ec2.instance", instance_id, server.account_id, {"DesiredState": "stopped",
                                                                   "Placement": {"VpcId": vpc}})
    set_state("stopped")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    try:
        attachment = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance_id,
                                                  DeviceIndex=0)["AttachmentId"]
        described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        assert described["Status"] == "in-use"
        assert (described["Attachment"]["InstanceId"], described["Attachment"]["DeviceIndex"]) == (instance_id, 0)
        assert error_of(lambda: ec2.delete_network_interface(NetworkInterfaceId=eni)) == \
            "InvalidNetworkInterface.InUse"
        found = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id",
                                                          "Values": [instance_id]}])["NetworkInterfaces"]
        assert [e["NetworkInterfaceId"] for e in found] == [eni]

        table = main_table(ec2, vpc)["RouteTableId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.168.0.0/16", InstanceId=instance_id)

        def route():
            routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
            return next(r for r in routes if r["DestinationCidrBlock"] == "192.168.0.0/16")
        assert (route()["InstanceId"], route()["NetworkInterfaceId"], route()["State"]) == \
            (instance_id, eni, "blackhole")
        set_state("running")
        assert route()["State"] == "active"

        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.associate_address(AllocationId=allocation, InstanceId=instance_id)
        address = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": [instance_id]}])["Addresses"]
        assert [(a["AllocationId"], a["NetworkInterfaceId"]) for a in address] == [(allocation, eni)]
        ec2.disassociate_address(AssociationId=address[0]["AssociationId"])

        assert error_of(lambda: ec2.detach_network_interface(AttachmentId=attachment)) == "OperationNotPermitted"
        ec2.detach_network_interface(AttachmentId=attachment, Force=True)
        assert ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0][
            "Status"] == "available"
        set_state("terminated")
        assert route()["State"] == "blackhole"
        assert error_of(lambda: ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=instance_id,
                                                             DeviceIndex=1)) == "IncorrectInstanceState"
    finally:
        ec2.release_address(AllocationId=allocation)
        with SqliteStore(server.data_dir / "state.db") as store:
            store.delete("ec2.instance", instance_id)


# --- Elastic IPs ---------------------------------------------------------------------------------------------

def test_elastic_ips(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    allocation = ec2.allocate_address(Domain="vpc")
    assert ipaddress.ip_address(allocation["PublicIp"]) in PUBLIC
    allocation_id = allocation["AllocationId"]
    assert allocation_id.startswith("eipalloc-")
    assert error_of(lambda: ec2.associate_address(AllocationId=allocation_id, NetworkInterfaceId=eni)) == \
        "Gateway.NotAttached"
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    association = ec2.associate_address(AllocationId=allocation_id, NetworkInterfaceId=eni)["AssociationId"]
    described = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
    assert described["AssociationId"] == association and described["NetworkInterfaceId"] == eni
    assert described["PrivateIpAddress"] == "10.0.1.4"
    interface = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert interface["Association"]["PublicIp"] == allocation["PublicIp"]
    assert error_of(lambda: ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)) == \
        "DependencyViolation"
    assert error_of(lambda: ec2.release_address(AllocationId=allocation_id)) == "InvalidIPAddress.InUse"
    other = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    assert error_of(lambda: ec2.associate_address(AllocationId=allocation_id, NetworkInterfaceId=other,
                                                  AllowReassociation=False)) == "Resource.AlreadyAssociated"
    moved = ec2.associate_address(AllocationId=allocation_id, NetworkInterfaceId=other, AllowReassociation=True)
    by_filter = ec2.describe_addresses(Filters=[{"Name": "network-interface-id", "Values": [other]}])["Addresses"]
    assert [a["AssociationId"] for a in by_filter] == [moved["AssociationId"]]
    ec2.disassociate_address(AssociationId=moved["AssociationId"])
    assert error_of(lambda: ec2.disassociate_address(AssociationId=moved["AssociationId"])) == \
        "InvalidAssociationID.NotFound"
    ec2.release_address(AllocationId=allocation_id)
    assert error_of(lambda: ec2.describe_addresses(AllocationIds=[allocation_id])) == "InvalidAllocationID.NotFound"
    assert error_of(lambda: ec2.release_address(AllocationId=allocation_id)) == "InvalidAllocationID.NotFound"
    assert error_of(lambda: ec2.release_address(AllocationId="eipalloc-x")) == "InvalidAllocationID.Malformed"


def test_addresses_are_unique(ec2):
    allocations = [ec2.allocate_address(Domain="vpc") for _ in range(3)]
    try:
        assert len({a["PublicIp"] for a in allocations}) == 3
    finally:
        for allocation in allocations:
            ec2.release_address(AllocationId=allocation["AllocationId"])


# --- tags, pagination ----------------------------------------------------------------------------------------

def test_tags_on_every_resource(ec2, vpc):
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    resources = [vpc, subnet, ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"],
                 ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"],
                 ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"],
                 ec2.create_security_group(VpcId=vpc, GroupName="t", Description="t")["GroupId"],
                 ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    try:
        ec2.create_tags(Resources=resources + [allocation], Tags=[{"Key": "env", "Value": "test"},
                                                                   {"Key": "gone", "Value": "x"}])
        tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]},
                                          {"Name": "resource-id", "Values": resources + [allocation]}])["Tags"]
        assert sorted(t["ResourceType"] for t in tags) == sorted([
            "vpc", "subnet", "route-table", "internet-gateway", "network-acl", "security-group",
            "network-interface", "elastic-ip"])
        ec2.delete_tags(Resources=resources, Tags=[{"Key": "gone"}])
        ec2.delete_tags(Resources=[allocation], Tags=[{"Key": "gone", "Value": "not-x"}])
        remaining = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["gone"]}])["Tags"]
        assert [t["ResourceId"] for t in remaining] == [allocation]
        assert ec2.describe_vpcs(Filters=[{"Name": "tag:env", "Values": ["test"]}])["Vpcs"][0]["VpcId"] == vpc
        assert error_of(lambda: ec2.create_tags(Resources=["vpc-0123456789abcdef0"], Tags=[
            {"Key": "a", "Value": "b"}])) == "InvalidVpcID.NotFound"
        assert error_of(lambda: ec2.create_tags(Resources=[vpc], Tags=[{"Key": "aws:x", "Value": "b"}])) == \
            "InvalidParameterValue"
    finally:
        ec2.release_address(AllocationId=allocation)
    igw = resources[3]
    ec2.delete_internet_gateway(InternetGatewayId=igw)


def test_pagination(ec2):
    made = [ec2.create_vpc(CidrBlock=f"10.{100 + i}.0.0/16",
                           TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "page", "Value": "yes"}]}])[
        "Vpc"]["VpcId"] for i in range(7)]
    try:
        flt = [{"Name": "tag:page", "Values": ["yes"]}]
        first = ec2.describe_vpcs(Filters=flt, MaxResults=5)
        assert len(first["Vpcs"]) == 5 and first["NextToken"]
        second = ec2.describe_vpcs(Filters=flt, MaxResults=5, NextToken=first["NextToken"])
        assert len(second["Vpcs"]) == 2 and "NextToken" not in second
        assert sorted(v["VpcId"] for v in first["Vpcs"] + second["Vpcs"]) == sorted(made)
        paginator = ec2.get_paginator("describe_security_groups")
        pages = list(paginator.paginate(Filters=[{"Name": "vpc-id", "Values": made}],
                                        PaginationConfig={"PageSize": 5}))
        assert len(pages) == 2 and sum(len(p["SecurityGroups"]) for p in pages) == 7
    finally:
        for vpc_id in made:
            ec2.delete_vpc(VpcId=vpc_id)


# --- default VPC, persistence --------------------------------------------------------------------------------

def test_default_vpc(ec2):
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    default = vpcs[0]
    assert default["CidrBlock"] == "172.31.0.0/16" and default["IsDefault"] is True
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [default["VpcId"]]}])["Subnets"]
    assert sorted((s["AvailabilityZone"], s["CidrBlock"]) for s in subnets) == [
        ("us-east-1a", "172.31.0.0/20"), ("us-east-1b", "172.31.16.0/20"), ("us-east-1c", "172.31.32.0/20")]
    assert all(s["DefaultForAz"] and s["MapPublicIpOnLaunch"] for s in subnets)
    assert all(s["AvailableIpAddressCount"] <= 4091 for s in subnets)
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [default["VpcId"]]}])
    igw = igws["InternetGateways"][0]["InternetGatewayId"]
    routes = main_table(ec2, default["VpcId"])["Routes"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw, "Origin": "CreateRoute",
            "State": "active"} in routes
    assert ec2.describe_vpc_attribute(VpcId=default["VpcId"], Attribute="enableDnsHostnames")[
        "EnableDnsHostnames"]["Value"] is True
    web = ec2.create_security_group(GroupName="in-default", Description="no VpcId given")["GroupId"]
    try:
        assert ec2.describe_security_groups(GroupNames=["in-default"])["SecurityGroups"][0]["VpcId"] == \
            default["VpcId"]
    finally:
        ec2.delete_security_group(GroupName="in-default")
    assert error_of(lambda: ec2.describe_security_groups(GroupIds=[web])) == "InvalidGroup.NotFound"


def test_state_survives_restart(tmp_path):
    data = tmp_path / "data"
    first = start_server(data)
    try:
        ec2 = first.client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(VpcId=vpc_id, GroupName="keep", Description="keep")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpProtocol="tcp", FromPort=80, ToPort=80,
                                             CidrIp="0.0.0.0/0")
        eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"]
        default_before = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    finally:
        first.stop()
    second = start_server(data)
    try:
        ec2 = second.client("ec2")
        assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"] == "10.50.0.0/16"
        assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == default_before
        described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])[
            "NetworkInterfaces"][0]
        assert described["PrivateIpAddress"] == eni["PrivateIpAddress"]
        rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
        assert rules[0]["FromPort"] == 80
        teardown(ec2, vpc_id)
    finally:
        second.stop()


def delete_default_vpc(ec2) -> str:
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    teardown(ec2, vpc_id)
    return vpc_id


def test_deleted_default_vpc_stays_deleted_until_created_again(tmp_path):
    data = tmp_path / "data"
    first = start_server(data)
    try:
        deleted = delete_default_vpc(first.client("ec2"))
    finally:
        first.stop()
    second = start_server(data)
    try:
        ec2 = second.client("ec2")
        assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == []
        created = ec2.create_default_vpc()["Vpc"]
        assert created["IsDefault"] is True and created["VpcId"] != deleted
        assert created["CidrBlock"] == "172.31.0.0/16"
        assert len(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [created["VpcId"]]}])["Subnets"]) == 3
        assert error_of(lambda: ec2.create_default_vpc()) == "DefaultVpcAlreadyExists"
    finally:
        second.stop()


def test_aws_cli_builds_a_public_subnet(server, tmp_path):
    """The everyday CLI flow: VPC, subnet, gateway, route, security group rule, filters, and an error exit."""
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("AWS_PROFILE", None)
    subprocess.check_call([sys.executable, "-m", "runtime", "credentials", "--data-dir", str(server.data_dir),
                           "--listen", server.endpoint.removeprefix("http://"), "--aws-profile", "terrarium"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    aws_bin = os.path.join(os.path.dirname(sys.executable), "aws")

    def aws(*args, ok=True):
        result = subprocess.run([aws_bin, "--profile", "terrarium", "--output", "json", "ec2", *args], env=env,
                                capture_output=True, text=True, timeout=60)
        assert (result.returncode == 0) is ok, result.stderr
        return json.loads(result.stdout) if ok and result.stdout.strip() else result.stderr
    vpc_id = aws("create-vpc", "--cidr-block", "10.77.0.0/16")["Vpc"]["VpcId"]
    try:
        subnet = aws("create-subnet", "--vpc-id", vpc_id, "--cidr-block", "10.77.1.0/24")["Subnet"]["SubnetId"]
        igw = aws("create-internet-gateway")["InternetGateway"]["InternetGatewayId"]
        aws("attach-internet-gateway", "--internet-gateway-id", igw, "--vpc-id", vpc_id)
        table = aws("create-route-table", "--vpc-id", vpc_id)["RouteTable"]["RouteTableId"]
        assert aws("create-route", "--route-table-id", table, "--destination-cidr-block", "0.0.0.0/0",
                   "--gateway-id", igw)["Return"] is True
        aws("associate-route-table", "--route-table-id", table, "--subnet-id", subnet)
        group = aws("create-security-group", "--vpc-id", vpc_id, "--group-name", "ssh",
                    "--description", "ssh")["GroupId"]
        aws("authorize-security-group-ingress", "--group-id", group, "--protocol", "tcp", "--port", "22",
            "--cidr", "0.0.0.0/0")
        found = aws("describe-security-groups", "--filters", "Name=ip-permission.from-port,Values=22",
                    f"Name=vpc-id,Values={vpc_id}")["SecurityGroups"]
        assert [g["GroupId"] for g in found] == [group]
        assert "InvalidSubnet.Conflict" in aws("create-subnet", "--vpc-id", vpc_id, "--cidr-block",
                                               "10.77.1.128/25", ok=False)
    finally:
        teardown(server.client("ec2"), vpc_id)


def test_policies_see_vpc_resource_arns(server, ec2, vpc):
    """`resources=` on the operations: a user allowed to act on one VPC's ARN only is refused elsewhere."""
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    arn = f"arn:aws:ec2:us-east-1:{server.account_id}"
    iam = server.client("iam")
    name = f"vpc-user-{vpc[-8:]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="one-vpc", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["ec2:CreateTags", "ec2:ModifyVpcAttribute"],
             "Resource": f"{arn}:vpc/{vpc}"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        user = server.client("ec2", aws_access_key_id=key["AccessKeyId"],
                             aws_secret_access_key=key["SecretAccessKey"])
        user.create_tags(Resources=[vpc], Tags=[{"Key": "owner", "Value": name}])
        user.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        assert error_of(lambda: user.create_tags(Resources=[subnet], Tags=[{"Key": "a", "Value": "b"}])) == \
            "UnauthorizedOperation"
        assert error_of(lambda: user.create_vpc(CidrBlock="10.8.0.0/16")) == "UnauthorizedOperation"
        assert user.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"] == [{"Key": "owner", "Value": name}]
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="one-vpc")
        iam.delete_user(UserName=name)
