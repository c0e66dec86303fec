"""The default VPC every new account has: 172.31.0.0/16, a /20 default subnet per zone with public IPs on launch,
an attached internet gateway and a 0.0.0.0/0 route to it in the main route table.
"""

from __future__ import annotations

from runtime.services.vpc import gateways, ipam, routes, subnets, vpcs
from runtime.services.vpc.common import ROUTE_TABLE, VPC
from runtime.state import Record, Store

DEFAULT_CIDR = "172.31.0.0/16"


def ensure_default_vpc(store: Store, account: str, region: str, zones: tuple[str, ...]) -> Record:
    """The account's default VPC, created (all of it, in one transaction) unless one exists; idempotent.

    `region` is accepted for the day records are per region; one server is one region today.
    """
    del region
    existing = store.list(VPC, account, where={"IsDefault": True})
    if existing:
        return existing[0]
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
        return store.get(VPC, vpc.id)
