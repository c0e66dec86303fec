"""Internet gateways: one per VPC and one VPC per gateway. Detaching is refused while the VPC has mapped public
addresses; every attach or detach re-derives the route states (routes to a detached gateway are blackholes).
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import routes
from runtime.services.vpc.common import (ADDRESS, INTERNET_GATEWAY, INTERNET_GATEWAYS, NETWORK_INTERFACE, VPCS,
                                         arns_for, dependency, lookup, lookup_many, paged, select, tag_list)
from runtime.state import Record, Store


def create_gateway(store: Store, account: str, tags: dict | None = None) -> Record:
    return store.put(INTERNET_GATEWAY, ids.new_id("internet-gateway"), account, {"VpcId": None}, tags=tags or {})


def attach(store: Store, igw: Record, vpc: Record) -> None:
    """Attach `igw` to `vpc` (caller has checked both are free) and re-derive that VPC's route states."""
    with store.transaction():
        store.update_spec(INTERNET_GATEWAY, igw.id, lambda s: {**s, "VpcId": vpc.id})
        store.update_status(INTERNET_GATEWAY, igw.id, {"AttachmentState": "available"})
        routes.refresh_route_states(store, vpc.id)


def has_public_addresses(store: Store, vpc_id: str) -> bool:
    enis = store.list(NETWORK_INTERFACE, where={"VpcId": vpc_id})
    if any(eni.spec.get("PublicIp") for eni in enis):
        return True
    eni_ids = {eni.id for eni in enis}
    return any(a.spec.get("NetworkInterfaceId") in eni_ids for a in store.list(ADDRESS))


def shape(igw: Record) -> dict:
    attachments = [{"VpcId": igw.spec["VpcId"], "State": igw.status.get("AttachmentState", "available")}] \
        if igw.spec.get("VpcId") else []
    return {"InternetGatewayId": igw.id, "OwnerId": igw.account, "Attachments": attachments,
            "Tags": tag_list(igw.tags)}


class InternetGatewaysProvider:
    FIELDS = {"internet-gateway-id": lambda r: r.id, "owner-id": lambda r: r.account,
              "attachment.vpc-id": lambda r: r.spec.get("VpcId"),
              "attachment.state": lambda r: r.status.get("AttachmentState") if r.spec.get("VpcId") else None}

    def __init__(self, store: Store) -> None:
        self.store = store

    @operation("CreateInternetGateway", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "internet-gateway", "*")])
    def create_internet_gateway(self, ctx: RequestContext, params: dict) -> dict:
        igw = create_gateway(self.store, ctx.account, tags_from_specifications(params, "internet-gateway"))
        return {"InternetGateway": shape(igw)}

    @operation("DescribeInternetGateways", resources=arns_for(INTERNET_GATEWAYS, "InternetGatewayIds"))
    def describe_internet_gateways(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, INTERNET_GATEWAYS, ctx.account, params.get("InternetGatewayIds"))
        return paged("InternetGateways", [shape(r) for r in select(records, params, self.FIELDS)], params)

    @operation("AttachInternetGateway", resources=lambda ctx, p: arns_for(INTERNET_GATEWAYS, "InternetGatewayId")(
        ctx, p) + arns_for(VPCS, "VpcId")(ctx, p))
    def attach_internet_gateway(self, ctx: RequestContext, params: dict) -> dict:
        igw = lookup(self.store, INTERNET_GATEWAYS, ctx.account, params["InternetGatewayId"])
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        if igw.spec.get("VpcId"):
            raise AwsError("Resource.AlreadyAssociated",
                           f"resource {igw.id} is already attached to network {igw.spec['VpcId']}")
        if self.store.list(INTERNET_GATEWAY, where={"VpcId": vpc.id}):
            raise AwsError("Resource.AlreadyAssociated",
                           f"network {vpc.id} already has an internet gateway attached")
        attach(self.store, igw, vpc)
        return {}

    @operation("DetachInternetGateway", resources=lambda ctx, p: arns_for(INTERNET_GATEWAYS, "InternetGatewayId")(
        ctx, p) + arns_for(VPCS, "VpcId")(ctx, p))
    def detach_internet_gateway(self, ctx: RequestContext, params: dict) -> dict:
        igw = lookup(self.store, INTERNET_GATEWAYS, ctx.account, params["InternetGatewayId"])
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        if igw.spec.get("VpcId") != vpc.id:
            raise AwsError("Gateway.NotAttached", f"resource {igw.id} is not attached to network {vpc.id}")
        if has_public_addresses(self.store, vpc.id):
            raise AwsError("DependencyViolation",
                           f"Network {vpc.id} has some mapped public address(es). Please unmap those public "
                           "address(es) before detaching the gateway.")
        with self.store.transaction():
            self.store.update_spec(INTERNET_GATEWAY, igw.id, lambda s: {**s, "VpcId": None})
            self.store.update_status(INTERNET_GATEWAY, igw.id, {"AttachmentState": None})
            routes.refresh_route_states(self.store, vpc.id)
        return {}

    @operation("DeleteInternetGateway", resources=arns_for(INTERNET_GATEWAYS, "InternetGatewayId"))
    def delete_internet_gateway(self, ctx: RequestContext, params: dict) -> dict:
        igw = lookup(self.store, INTERNET_GATEWAYS, ctx.account, params["InternetGatewayId"])
        if igw.spec.get("VpcId"):
            raise dependency("internetGateway", igw.id)
        self.store.delete(INTERNET_GATEWAY, igw.id)
        return {}
