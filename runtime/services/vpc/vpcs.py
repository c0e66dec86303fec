"""VPCs: create (with the main route table, default network ACL and default security group AWS creates alongside),
describe, delete (refused with `DependencyViolation` while anything the user made still lives in it), and the
DNS attributes.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam, nacls, routes, security_groups
from runtime.services.vpc.common import (INTERNET_GATEWAY, NETWORK_ACL, ROUTE_TABLE, SECURITY_GROUP, SUBNET, VPC,
                                         VPCS, arns_for, bool_param, lookup, lookup_many, paged, select, tag_list)
from runtime.state import Record, Store

DHCP_OPTIONS_ID = "dopt-00000000000000001"
ATTRIBUTES = {"enableDnsSupport": "EnableDnsSupport", "enableDnsHostnames": "EnableDnsHostnames",
              "enableNetworkAddressUsageMetrics": "EnableNetworkAddressUsageMetrics"}


def parse_vpc_cidr(raw: str):
    try:
        net = ipam.parse_cidr(raw)
    except ValueError as exc:
        raise AwsError("InvalidParameterValue",
                       f"Value ({raw}) for parameter cidrBlock is invalid. This is not a valid CIDR block.") from exc
    if not ipam.size_allowed(net):
        raise AwsError("InvalidVpc.Range", f"The CIDR '{raw}' is invalid.")
    return net


def create_vpc(store: Store, account: str, cidr: str, *, default: bool = False, tenancy: str = "default",
               tags: dict | None = None) -> Record:
    """The VPC record with its main route table, default network ACL and default security group, atomically."""
    with store.transaction():
        spec = {"CidrBlock": cidr, "CidrAssociationId": "vpc-cidr-assoc-" + ids.new_id("vpc")[4:],
                "IsDefault": default, "EnableDnsSupport": True, "EnableDnsHostnames": default,
                "EnableNetworkAddressUsageMetrics": False, "InstanceTenancy": tenancy,
                "DhcpOptionsId": DHCP_OPTIONS_ID}
        vpc = store.put(VPC, ids.new_id("vpc"), account, spec, tags=tags or {})
        store.update_status(VPC, vpc.id, {"State": "available"})
        routes.create_route_table(store, account, vpc, main=True)
        nacls.create_network_acl(store, account, vpc, default=True)
        security_groups.create_group(store, account, vpc, "default", "default VPC security group", default=True)
        return store.get(VPC, vpc.id)


def shape(vpc: Record) -> dict:
    return {"VpcId": vpc.id, "CidrBlock": vpc.spec["CidrBlock"], "State": vpc.status.get("State", "pending"),
            "DhcpOptionsId": vpc.spec["DhcpOptionsId"], "InstanceTenancy": vpc.spec["InstanceTenancy"],
            "IsDefault": vpc.spec["IsDefault"], "OwnerId": vpc.account,
            "CidrBlockAssociationSet": [{"AssociationId": vpc.spec["CidrAssociationId"],
                                         "CidrBlock": vpc.spec["CidrBlock"],
                                         "CidrBlockState": {"State": "associated"}}],
            "Tags": tag_list(vpc.tags)}


class VpcsProvider:
    FIELDS = {"vpc-id": lambda r: r.id, "cidr": lambda r: r.spec["CidrBlock"],
              "cidr-block-association.cidr-block": lambda r: r.spec["CidrBlock"],
              "cidr-block-association.association-id": lambda r: r.spec["CidrAssociationId"],
              "cidr-block-association.state": lambda r: "associated",
              "state": lambda r: r.status.get("State", "pending"), "is-default": lambda r: r.spec["IsDefault"],
              "isDefault": lambda r: r.spec["IsDefault"], "owner-id": lambda r: r.account,
              "dhcp-options-id": lambda r: r.spec["DhcpOptionsId"]}

    def __init__(self, store: Store) -> None:
        self.store = store

    @operation("CreateVpc", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "vpc", "*")])
    def create_vpc(self, ctx: RequestContext, params: dict) -> dict:
        if not params.get("CidrBlock"):
            raise AwsError("MissingParameter", "The request must contain the parameter cidrBlock")
        if params.get("AmazonProvidedIpv6CidrBlock") or params.get("Ipv4IpamPoolId"):
            raise AwsError("InvalidParameterValue", "IPv6 and IPAM pools are not supported by Terrarium")
        net = parse_vpc_cidr(params["CidrBlock"])
        vpc = create_vpc(self.store, ctx.account, str(net), tenancy=params.get("InstanceTenancy") or "default",
                         tags=tags_from_specifications(params, "vpc"))
        return {"Vpc": shape(vpc)}

    @operation("DescribeVpcs", resources=arns_for(VPCS, "VpcIds"))
    def describe_vpcs(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, VPCS, ctx.account, params.get("VpcIds"))
        return paged("Vpcs", [shape(r) for r in select(records, params, self.FIELDS)], params)

    @operation("DeleteVpc", resources=arns_for(VPCS, "VpcId"))
    def delete_vpc(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        where = {"VpcId": vpc.id}
        user_made = (
            self.store.list(SUBNET, where=where)
            + self.store.list(INTERNET_GATEWAY, where=where)
            + [r for r in self.store.list(ROUTE_TABLE, where=where) if not r.spec["Main"]]
            + [a for a in self.store.list(NETWORK_ACL, where=where) if not a.spec["IsDefault"]]
            + [g for g in self.store.list(SECURITY_GROUP, where=where) if not g.spec["IsDefault"]])
        if user_made:
            raise AwsError("DependencyViolation", f"The vpc '{vpc.id}' has dependencies and cannot be deleted.")
        with self.store.transaction():
            for kind in (ROUTE_TABLE, NETWORK_ACL, SECURITY_GROUP):
                for child in self.store.list(kind, where=where):
                    self.store.delete(kind, child.id)
            self.store.delete(VPC, vpc.id)
        return {"Return": True}

    @operation("DescribeVpcAttribute", resources=arns_for(VPCS, "VpcId"))
    def describe_vpc_attribute(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        name = ATTRIBUTES.get(params["Attribute"])
        if name is None:
            raise AwsError("InvalidParameterValue", f"Value ({params['Attribute']}) for parameter attribute is "
                                                    "invalid. Unknown attribute.")
        return {"VpcId": vpc.id, name: {"Value": vpc.spec[name]}}

    @operation("ModifyVpcAttribute", resources=arns_for(VPCS, "VpcId"))
    def modify_vpc_attribute(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        given = {name: bool_param(params[name]) for name in ATTRIBUTES.values() if params.get(name) is not None}
        if not given:
            raise AwsError("MissingParameter", "The request must contain exactly one attribute to modify")
        if len(given) > 1:
            raise AwsError("InvalidParameterCombination",
                           "Fields for multiple attribute types specified: " + ", ".join(given))
        name, value = next(iter(given.items()))
        if value is None:
            raise AwsError("MissingParameter", f"The request must contain the parameter {name}.Value")
        if name == "EnableDnsHostnames" and value and not vpc.spec["EnableDnsSupport"]:
            raise AwsError("InvalidParameterValue",
                           "Enabling DNS hostnames requires DNS support to be enabled on the VPC")
        self.store.update_spec(VPC, vpc.id, lambda s: {**s, name: value})
        return {}
