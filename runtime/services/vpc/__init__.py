"""The VPC half of the EC2 API: VPCs, subnets, route tables, internet gateways, network ACLs, security groups,
network interfaces, Elastic IPs and tags, recorded in the state store (layout in `common.py`) for the network
reconciler to realise.

Public API for the rest of Terrarium:
- `providers(store, region, zones)`: every provider to register for "ec2".
- `ensure_default_vpc(store, account, region, zones)`: idempotent; call at start.
- `ipam.PUBLIC_RANGE`, `addresses.allocate_public_ip(store)`: the public address pool.
- `interfaces.create_interface(...)`, `interfaces.attach_interface(...)`, `interfaces.delete_interface(...)`,
  `routes.table_of_subnet(store, subnet)`, `routes.primary_interface(store, instance_id)`,
  `routes.refresh_route_states(store, vpc_id)` (call after an instance changes state or loses its ENI, so
  routes to it show `blackhole`).
"""

from __future__ import annotations

from runtime.services.vpc.addresses import AddressesProvider
from runtime.services.vpc.default_vpc import DefaultVpcProvider, ensure_default_vpc
from runtime.services.vpc.gateways import InternetGatewaysProvider
from runtime.services.vpc.interfaces import NetworkInterfacesProvider
from runtime.services.vpc.ipam import PUBLIC_RANGE
from runtime.services.vpc.nacls import NetworkAclsProvider
from runtime.services.vpc.routes import RouteTablesProvider
from runtime.services.vpc.security_groups import SecurityGroupsProvider
from runtime.services.vpc.subnets import SubnetsProvider
from runtime.services.vpc.tags import TagsProvider
from runtime.services.vpc.vpcs import VpcsProvider
from runtime.state import Store

__all__ = ["PUBLIC_RANGE", "ensure_default_vpc", "providers"]


def providers(store: Store, region: str, zones: tuple[str, ...]) -> list[object]:
    return [VpcsProvider(store), SubnetsProvider(store, region, zones), RouteTablesProvider(store),
            InternetGatewaysProvider(store), NetworkAclsProvider(store), SecurityGroupsProvider(store),
            NetworkInterfacesProvider(store), AddressesProvider(store, region), TagsProvider(store),
            DefaultVpcProvider(store, zones)]
