"""Route tables: the main table every VPC gets (local route only), custom tables, routes to an internet gateway,
a network interface or an instance, subnet and main associations.

A route's `State` is derived, never requested: `active` while its target exists (an internet gateway must also be
attached to the table's VPC, an instance must be pending or running), `blackhole` otherwise. Describe computes it live; every change that can move
it calls `refresh_route_states`, which writes the same values into the table's status for the reconciler.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.services._shared import ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam
from runtime.services.vpc.common import (INSTANCE, INSTANCES, INTERNET_GATEWAY, INTERNET_GATEWAYS,
                                         NETWORK_INTERFACE, NETWORK_INTERFACES, ROUTE_TABLE, ROUTE_TABLES, SUBNETS,
                                         VPCS, arns_for, dependency, lookup, lookup_many, paged, select, tag_list)
from runtime.state import Record, Store

TARGETS = ("GatewayId", "NetworkInterfaceId", "InstanceId")


def local_route(cidr: str) -> dict:
    return {"DestinationCidrBlock": cidr, "GatewayId": "local", "Origin": "CreateRouteTable"}


def create_route_table(store: Store, account: str, vpc: Record, *, main: bool, tags: dict | None = None) -> Record:
    associations = [{"RouteTableAssociationId": ids.new_id("route-table-association"), "Main": True}] if main else []
    spec = {"VpcId": vpc.id, "Main": main, "Routes": [local_route(vpc.spec["CidrBlock"])],
            "Associations": associations}
    with store.transaction():
        record = store.put(ROUTE_TABLE, ids.new_id("route-table"), account, spec, parent=vpc.id, tags=tags or {})
        store.update_status(ROUTE_TABLE, record.id, {"RouteStates": route_states(store, record)})
        return store.get(ROUTE_TABLE, record.id)


def _exists(store: Store, kind: str, record_id: str) -> Record | None:
    try:
        return store.get(kind, record_id)
    except NotFound:
        return None


def route_state(store: Store, table: Record, route: dict) -> str:
    gateway = route.get("GatewayId")
    if gateway == "local":
        return "active"
    if gateway:
        igw = _exists(store, INTERNET_GATEWAY, gateway)
        return "active" if igw is not None and igw.spec.get("VpcId") == table.spec["VpcId"] else "blackhole"
    if route.get("InstanceId"):
        instance = _exists(store, INSTANCE, route["InstanceId"])
        alive = instance is not None and instance.status.get("State") in ("pending", "running")
        return "active" if alive else "blackhole"
    if route.get("NetworkInterfaceId"):
        return "active" if _exists(store, NETWORK_INTERFACE, route["NetworkInterfaceId"]) else "blackhole"
    return "blackhole"


def primary_interface(store: Store, instance_id: str) -> Record | None:
    """The interface at device index 0 of an instance, if it has one."""
    return next((e for e in store.list(NETWORK_INTERFACE)
                 if (e.spec.get("Attachment") or {}).get("InstanceId") == instance_id
                 and e.spec["Attachment"]["DeviceIndex"] == 0), None)


def route_states(store: Store, table: Record) -> dict[str, str]:
    return {r["DestinationCidrBlock"]: route_state(store, table, r) for r in table.spec["Routes"]}


def refresh_route_states(store: Store, vpc_id: str | None = None) -> None:
    """Rewrite `status.RouteStates` of every route table (of one VPC); a no-op where nothing moved."""
    tables = store.list(ROUTE_TABLE, where={"VpcId": vpc_id} if vpc_id else None)
    for table in tables:
        store.update_status(ROUTE_TABLE, table.id, {"RouteStates": route_states(store, table)})


def table_of_subnet(store: Store, subnet: Record) -> Record:
    """The table routing a subnet: its explicit association, else the VPC's main table."""
    main = None
    for table in store.list(ROUTE_TABLE, where={"VpcId": subnet.spec["VpcId"]}):
        if any(a.get("SubnetId") == subnet.id for a in table.spec["Associations"]):
            return table
        if table.spec["Main"]:
            main = table
    assert main is not None, f"VPC {subnet.spec['VpcId']} has no main route table"
    return main


def shape(store: Store, table: Record) -> dict:
    states = route_states(store, table)
    routes = []
    for route in table.spec["Routes"]:
        item = {k: v for k, v in route.items() if v is not None}
        if route.get("InstanceId"):
            item["InstanceOwnerId"] = table.account
        item["State"] = states[route["DestinationCidrBlock"]]
        routes.append(item)
    associations = []
    for assoc in table.spec["Associations"]:
        item = {"Main": bool(assoc.get("Main")), "RouteTableAssociationId": assoc["RouteTableAssociationId"],
                "RouteTableId": table.id, "AssociationState": {"State": "associated"}}
        if assoc.get("SubnetId"):
            item["SubnetId"] = assoc["SubnetId"]
        associations.append(item)
    return {"RouteTableId": table.id, "VpcId": table.spec["VpcId"], "OwnerId": table.account, "Routes": routes,
            "Associations": associations, "PropagatingVgws": [], "Tags": tag_list(table.tags)}


def _assoc_field(name: str):
    return lambda r: [a.get(name) for a in r.spec["Associations"] if a.get(name) is not None]


def _route_field(store: Store, name: str):
    if name == "State":
        return lambda r: list(route_states(store, r).values())
    return lambda r: [x.get(name) for x in r.spec["Routes"] if x.get(name) is not None]


def find_association(store: Store, account: str, association_id: str) -> tuple[Record, dict]:
    for table in store.list(ROUTE_TABLE, account):
        for assoc in table.spec["Associations"]:
            if assoc["RouteTableAssociationId"] == association_id:
                return table, assoc
    raise AwsError("InvalidAssociationID.NotFound", f"The association ID '{association_id}' does not exist")


class RouteTablesProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _fields(self):
        return {
            "route-table-id": lambda r: r.id, "vpc-id": lambda r: r.spec["VpcId"], "owner-id": lambda r: r.account,
            "association.main": lambda r: [bool(a.get("Main")) for a in r.spec["Associations"]],
            "association.subnet-id": _assoc_field("SubnetId"),
            "association.route-table-association-id": _assoc_field("RouteTableAssociationId"),
            "association.route-table-id": lambda r: r.id if r.spec["Associations"] else None,
            "route.destination-cidr-block": _route_field(self.store, "DestinationCidrBlock"),
            "route.gateway-id": _route_field(self.store, "GatewayId"),
            "route.network-interface-id": _route_field(self.store, "NetworkInterfaceId"),
            "route.instance-id": _route_field(self.store, "InstanceId"),
            "route.origin": _route_field(self.store, "Origin"),
            "route.state": _route_field(self.store, "State"),
        }

    @operation("CreateRouteTable", resources=arns_for(VPCS, "VpcId"))
    def create_route_table(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        table = create_route_table(self.store, ctx.account, vpc, main=False,
                                   tags=tags_from_specifications(params, "route-table"))
        return {"RouteTable": shape(self.store, table)}

    @operation("DescribeRouteTables", resources=arns_for(ROUTE_TABLES, "RouteTableIds"))
    def describe_route_tables(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, ROUTE_TABLES, ctx.account, params.get("RouteTableIds"))
        records = select(records, params, self._fields())
        return paged("RouteTables", [shape(self.store, r) for r in records], params)

    @operation("DeleteRouteTable", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def delete_route_table(self, ctx: RequestContext, params: dict) -> dict:
        table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        if table.spec["Main"] or table.spec["Associations"]:
            raise dependency("routeTable", table.id)
        self.store.delete(ROUTE_TABLE, table.id)
        return {}

    # --- routes ----------------------------------------------------------------------------------

    def _route(self, ctx: RequestContext, table: Record, params: dict) -> dict:
        if params.get("DestinationIpv6CidrBlock") or params.get("DestinationPrefixListId"):
            raise AwsError("InvalidParameterValue", "Only IPv4 CIDR destinations are supported")
        raw = params.get("DestinationCidrBlock")
        if not raw:
            raise AwsError("MissingParameter", "The request must contain the parameter destinationCidrBlock")
        try:
            destination = str(ipam.parse_cidr(raw))
        except ValueError as exc:
            raise AwsError("InvalidParameterValue",
                           f"Value ({raw}) for parameter destinationCidrBlock is invalid. "
                           "This is not a valid CIDR block.") from exc
        given = [t for t in TARGETS if params.get(t)]
        unsupported = [k for k in ("NatGatewayId", "VpcPeeringConnectionId", "TransitGatewayId",
                                   "EgressOnlyInternetGatewayId", "VpcEndpointId", "LocalGatewayId",
                                   "CarrierGatewayId") if params.get(k)]
        if unsupported:
            raise AwsError("InvalidParameterValue", f"Route target {unsupported[0]} is not supported by Terrarium")
        if len(given) != 1:
            raise AwsError("InvalidParameterCombination",
                           "The request must contain exactly one of gatewayId, networkInterfaceId or instanceId")
        target = given[0]
        value = params[target]
        vpc_id = table.spec["VpcId"]
        if target == "GatewayId":
            igw = lookup(self.store, INTERNET_GATEWAYS, ctx.account, value)
            if igw.spec.get("VpcId") != vpc_id:
                raise AwsError("InvalidParameterValue",
                               f"route table {table.id} and network gateway {value} belong to different networks")
        elif target == "NetworkInterfaceId":
            eni = lookup(self.store, NETWORK_INTERFACES, ctx.account, value)
            if eni.spec["VpcId"] != vpc_id:
                raise AwsError("InvalidParameterValue",
                               f"route table {table.id} and interface {value} belong to different networks")
        else:
            instance = lookup(self.store, INSTANCES, ctx.account, value)
            primary = primary_interface(self.store, instance.id)
            if primary is not None and primary.spec["VpcId"] != vpc_id:
                raise AwsError("InvalidParameterValue",
                               f"route table {table.id} and instance {value} belong to different networks")
            if primary is not None:  # AWS shows the instance's primary interface next to the instance
                return {"DestinationCidrBlock": destination, "InstanceId": value,
                        "NetworkInterfaceId": primary.id, "Origin": "CreateRoute"}
        return {"DestinationCidrBlock": destination, target: value, "Origin": "CreateRoute"}

    def _save_routes(self, table: Record, routes: list[dict]) -> None:
        with self.store.transaction():
            updated = self.store.update_spec(ROUTE_TABLE, table.id, lambda s: {**s, "Routes": routes})
            self.store.update_status(ROUTE_TABLE, table.id, {"RouteStates": route_states(self.store, updated)})

    @operation("CreateRoute", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def create_route(self, ctx: RequestContext, params: dict) -> dict:
        table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        route = self._route(ctx, table, params)
        if any(r["DestinationCidrBlock"] == route["DestinationCidrBlock"] for r in table.spec["Routes"]):
            raise AwsError("RouteAlreadyExists", f"The route identified by {route['DestinationCidrBlock']} "
                                                 "already exists.")
        self._save_routes(table, table.spec["Routes"] + [route])
        return {"Return": True}

    @operation("ReplaceRoute", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def replace_route(self, ctx: RequestContext, params: dict) -> dict:
        table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        route = self._route(ctx, table, params)
        destination = route["DestinationCidrBlock"]
        index = next((i for i, r in enumerate(table.spec["Routes"]) if r["DestinationCidrBlock"] == destination),
                     None)
        if index is None:
            raise AwsError("InvalidParameterValue", f"There is no route defined for '{destination}' in the route "
                                                    "table. Use CreateRoute instead.")
        if table.spec["Routes"][index].get("GatewayId") == "local":
            raise AwsError("InvalidParameterValue", f"cannot replace local route {destination} in route table "
                                                    f"{table.id}")
        routes = list(table.spec["Routes"])
        routes[index] = {**route, "Origin": "CreateRoute"}
        self._save_routes(table, routes)
        return {}

    @operation("DeleteRoute", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def delete_route(self, ctx: RequestContext, params: dict) -> dict:
        table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        raw = params.get("DestinationCidrBlock") or ""
        try:
            destination = str(ipam.parse_cidr(raw))
        except ValueError:
            destination = raw
        found = [r for r in table.spec["Routes"] if r["DestinationCidrBlock"] == destination]
        if not found:
            raise AwsError("InvalidRoute.NotFound",
                           f"no route with destination-cidr-block {raw} in route table {table.id}")
        if found[0].get("GatewayId") == "local":
            raise AwsError("InvalidParameterValue", f"cannot remove local route {destination} in route table "
                                                    f"{table.id}")
        self._save_routes(table, [r for r in table.spec["Routes"] if r["DestinationCidrBlock"] != destination])
        return {}

    # --- associations ----------------------------------------------------------------------------

    @operation("AssociateRouteTable", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def associate_route_table(self, ctx: RequestContext, params: dict) -> dict:
        table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        if params.get("GatewayId"):
            raise AwsError("InvalidParameterValue", "Gateway route table associations are not supported")
        if not params.get("SubnetId"):
            raise AwsError("MissingParameter", "The request must contain the parameter subnetId")
        subnet = lookup(self.store, SUBNETS, ctx.account, params["SubnetId"])
        if subnet.spec["VpcId"] != table.spec["VpcId"]:
            raise AwsError("InvalidParameterValue",
                           f"Route table {table.id} and subnet {subnet.id} belong to different networks")
        current = table_of_subnet(self.store, subnet)
        if any(a.get("SubnetId") == subnet.id for a in current.spec["Associations"]):
            raise AwsError("Resource.AlreadyAssociated",
                           f"the specified association for route table {table.id} conflicts with an existing "
                           "association")
        association_id = ids.new_id("route-table-association")
        self.store.update_spec(ROUTE_TABLE, table.id, lambda s: {**s, "Associations": s["Associations"] + [
            {"RouteTableAssociationId": association_id, "SubnetId": subnet.id}]})
        return {"AssociationId": association_id, "AssociationState": {"State": "associated"}}

    @operation("DisassociateRouteTable")
    def disassociate_route_table(self, ctx: RequestContext, params: dict) -> dict:
        table, assoc = find_association(self.store, ctx.account, params["AssociationId"])
        if assoc.get("Main"):
            raise AwsError("InvalidParameterValue",
                           f"cannot disassociate the main route table association {assoc['RouteTableAssociationId']}")
        self._drop_association(table, assoc["RouteTableAssociationId"])
        return {}

    def _drop_association(self, table: Record, association_id: str) -> None:
        self.store.update_spec(ROUTE_TABLE, table.id, lambda s: {**s, "Associations": [
            a for a in s["Associations"] if a["RouteTableAssociationId"] != association_id]})

    @operation("ReplaceRouteTableAssociation", resources=arns_for(ROUTE_TABLES, "RouteTableId"))
    def replace_route_table_association(self, ctx: RequestContext, params: dict) -> dict:
        new_table = lookup(self.store, ROUTE_TABLES, ctx.account, params["RouteTableId"])
        old_table, assoc = find_association(self.store, ctx.account, params["AssociationId"])
        if old_table.spec["VpcId"] != new_table.spec["VpcId"]:
            raise AwsError("InvalidParameterValue",
                           f"Route table {new_table.id} belongs to a different network than the association")
        association_id = ids.new_id("route-table-association")
        moved = {k: v for k, v in assoc.items() if k != "RouteTableAssociationId"}
        main = bool(assoc.get("Main"))
        with self.store.transaction():
            self._drop_association(old_table, assoc["RouteTableAssociationId"])
            if main:
                self.store.update_spec(ROUTE_TABLE, old_table.id, lambda s: {**s, "Main": False})
            self.store.update_spec(ROUTE_TABLE, new_table.id, lambda s: {
                **s, "Main": s["Main"] or main,
                "Associations": s["Associations"] + [{"RouteTableAssociationId": association_id, **moved}]})
        return {"NewAssociationId": association_id, "AssociationState": {"State": "associated"}}


def forget_subnet(store: Store, subnet_id: str, vpc_id: str) -> None:
    """Drop a deleted subnet's explicit association (AWS removes it with the subnet)."""
    for table in store.list(ROUTE_TABLE, where={"VpcId": vpc_id}):
        if any(a.get("SubnetId") == subnet_id for a in table.spec["Associations"]):
            store.update_spec(ROUTE_TABLE, table.id, lambda s: {**s, "Associations": [
                a for a in s["Associations"] if a.get("SubnetId") != subnet_id]})
