"""`terrarium net VPC-ID`: the VPC's namespace, bridges, ports, routes and the realiser's own iptables ruleset,
each rule annotated with the AWS rule it implements, checked against what the kernel holds."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.test_operator_cli import terrarium

pytestmark = pytest.mark.host


@pytest.fixture
def lab_vpc(server):
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=public)["AssociationId"]
    web = ec2.create_security_group(GroupName="net-web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    eni = ec2.create_network_interface(SubnetId=public, Groups=[web])["NetworkInterface"]["NetworkInterfaceId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock="0.0.0.0/0", PortRange={"From": 8080, "To": 8080})
    old = next(a for n in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
               for a in n["Associations"] if a["SubnetId"] == private)
    ec2.replace_network_acl_association(AssociationId=old["NetworkAclAssociationId"], NetworkAclId=acl)
    yield {"vpc": vpc, "public": public, "private": private, "table": table, "eni": eni, "web": web, "acl": acl}
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    ec2.disassociate_route_table(AssociationId=association)
    for subnet in (public, private):
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_network_acl(NetworkAclId=acl)
    ec2.delete_security_group(GroupId=web)
    ec2.delete_route_table(RouteTableId=table)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_vpc(VpcId=vpc)


def net_report(server, vpc: str, timeout: float = 30) -> dict:
    """The --json report once the realiser has put the VPC's current ruleset in the kernel."""
    deadline = time.monotonic() + timeout
    while True:
        result = terrarium(server, "net", vpc, "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        if report["Ruleset"]["InSync"] or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


def test_net_shows_the_vpc_as_the_kernel_holds_it(server, lab_vpc):
    report = net_report(server, lab_vpc["vpc"])
    assert report["NamespacePresent"] and report["Ruleset"]["InSync"]
    assert report["Namespace"].startswith("tr-v-") and report["InternetGateway"]["Attached"]
    bridges = {b["SubnetId"]: b for b in report["Bridges"]}
    assert bridges[lab_vpc["public"]]["Gateway"] == "10.42.1.1"
    assert bridges[lab_vpc["public"]]["RouteTableId"] == lab_vpc["table"]
    assert bridges[lab_vpc["private"]]["NetworkAclId"] == lab_vpc["acl"]
    assert all(b["Kernel"] != "absent" for b in bridges.values())
    port = next(p for p in report["Ports"] if p["NetworkInterfaceId"] == lab_vpc["eni"])
    assert port["Link"].startswith("tr-e-") and port["SecurityGroups"] == [lab_vpc["web"]]
    routes = next(t for t in report["RouteTables"] if t["RouteTableId"] == lab_vpc["table"])["Routes"]
    assert {"Destination": "0.0.0.0/0", "Target": "igw"} in routes
    assert {"Destination": "10.42.0.0/16", "Target": "local"} in routes
    assert any(r["Selector"] == "from 10.42.1.0/24" for r in report["PolicyRules"])
    assert any(r.get("src") == "10.42.1.0" for r in report["KernelRules"])
    annotations = [r["aws"] for r in report["Ruleset"]["Rules"]]
    assert "NACL ingress rule 90 deny 0.0.0.0/0" in annotations
    sg_rule = next(r for r in report["Ruleset"]["Rules"] if lab_vpc["web"] in r["aws"] and "--dport 80" in r["rule"])
    assert sg_rule["table"] == "filter" and sg_rule["aws"].startswith(f"SG {lab_vpc['web']} ingress")


def test_net_table_annotates_each_rule(server, lab_vpc):
    net_report(server, lab_vpc["vpc"])
    result = terrarium(server, "net", lab_vpc["vpc"])
    assert result.returncode == 0
    assert "in sync with the kernel" in result.stdout
    lines = result.stdout.splitlines()
    deny = next(i for i, line in enumerate(lines) if "^ AWS: NACL ingress rule 90 deny" in line)
    assert "--dport 8080" in lines[deny - 1] and "-j DROP" in lines[deny - 1]


def test_net_unknown_vpc_fails(server):
    result = terrarium(server, "net", "vpc-0123456789abcdef0")
    assert result.returncode == 1 and "vpc-0123456789abcdef0" in result.stderr and result.stdout == ""
