"""The default VPC every new account has: 172.31.0.0/16, a /20 default subnet per zone with public IPs on launch,
an attached internet gateway and a 0.0.0.0/0 route to it in the main route table.

As in AWS, a default VPC the user deletes stays deleted (a store meta key remembers that the account had one)
until `CreateDefaultVpc` asks for a new one.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns
from runtime.services.vpc import gateways, ipam, routes, subnets, vpcs
from runtime.services.vpc.common import ROUTE_TABLE, VPC
from runtime.state import Record, Store

DEFAULT_CIDR = "172.31.0.0/16"


def _meta_key(account: str) -> str:
    return f"ec2.default-vpc.{account}"


def ensure_default_vpc(store: Store, account: str, region: str, zones: tuple[str, ...]) -> Record | None:
    """The account's default VPC, created (all of it, in one transaction) the first time; idempotent.

    Returns None when the account had one and deleted it. `region` is accepted for the day records are per
    region; one server is one region today.
    """
    del region
    existing = store.list(VPC, account, where={"IsDefault": True})
    if existing:
        return existing[0]
    if store.get_meta(_meta_key(account)):
        return None
    return create_default_vpc(store, account, zones)


def create_default_vpc(store: Store, account: str, zones: tuple[str, ...]) -> Record:
    net = ipam.parse_cidr(DEFAULT_CIDR)
    with store.transaction():
        vpc = vpcs.create_vpc(store, account, DEFAULT_CIDR, default=True)
        for index, zone in enumerate(zones):
            subnets.create_subnet(store, account, vpc, ipam.default_subnet_cidr(net, index), zone,
                                  default_for_az=True)
        igw = gateways.create_gateway(store, account)
        gateways.attach(store, igw, vpc)
        main = next(t for t in store.list(ROUTE_TABLE, where={"VpcId": vpc.id}) if t.spec["Main"])
        store.update_spec(ROUTE_TABLE, main.id, lambda s: {**s, "Routes": s["Routes"] + [
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw.id, "Origin": "CreateRoute"}]})
        routes.refresh_route_states(store, vpc.id)
        store.set_meta(_meta_key(account), vpc.id)
        return store.get(VPC, vpc.id)


class DefaultVpcProvider:
    def __init__(self, store: Store, zones: tuple[str, ...]) -> None:
        self.store = store
        self.zones = zones

    @operation("CreateDefaultVpc", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "vpc", "*")])
    def create_default_vpc(self, ctx: RequestContext, params: dict) -> dict:
        existing = self.store.list(VPC, ctx.account, where={"IsDefault": True})
        if existing:
            raise AwsError("DefaultVpcAlreadyExists",
                           "A Default VPC already exists for this account in this region.")
        return {"Vpc": vpcs.shape(create_default_vpc(self.store, ctx.account, self.zones))}
