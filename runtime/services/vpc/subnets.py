"""Subnets: a CIDR inside the VPC's block that overlaps no other subnet, one zone, 5 reserved addresses, the
public-IP-on-launch flag; each new subnet is associated with the VPC's default network ACL.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam, nacls, routes
from runtime.services.vpc.common import (NETWORK_INTERFACE, SUBNET, SUBNETS, VPCS, arns_for, bool_param,
                                         lookup, lookup_many, paged, select, tag_list)
from runtime.state import Record, Store


def zone_id(region: str, zone: str) -> str:
    """`us-east-1b` -> `use1-az2`: AWS's zone ids, here a fixed mapping of the zone letter."""
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1] if len(parts) >= 3 else region
    return f"{short}-az{ord(zone[-1]) - ord('a') + 1}"


def used_ips(store: Store, subnet_id: str) -> set[str]:
    return {eni.spec["PrivateIpAddress"] for eni in store.list(NETWORK_INTERFACE, parent=subnet_id)}


def create_subnet(store: Store, account: str, vpc: Record, cidr: str, zone: str, *, default_for_az: bool = False,
                  tags: dict | None = None) -> Record:
    """The subnet record, available, associated with the default network ACL (one transaction)."""
    net = ipam.parse_cidr(cidr)
    with store.transaction():
        spec = {"VpcId": vpc.id, "CidrBlock": str(net), "GatewayIp": ipam.gateway_ip(net), "AvailabilityZone": zone,
                "MapPublicIpOnLaunch": default_for_az, "DefaultForAz": default_for_az}
        subnet = store.put(SUBNET, ids.new_id("subnet"), account, spec, parent=vpc.id, tags=tags or {})
        store.update_status(SUBNET, subnet.id, {"State": "available"})
        nacls.associate_subnet(store, subnet)
        return store.get(SUBNET, subnet.id)


class SubnetsProvider:
    def __init__(self, store: Store, region: str, zones: tuple[str, ...]) -> None:
        self.store = store
        self.region = region
        self.zones = zones

    def _available(self, subnet: Record) -> int:
        return ipam.usable_count(ipam.parse_cidr(subnet.spec["CidrBlock"])) - len(used_ips(self.store, subnet.id))

    def shape(self, subnet: Record) -> dict:
        zone = subnet.spec["AvailabilityZone"]
        return {"SubnetId": subnet.id, "VpcId": subnet.spec["VpcId"], "CidrBlock": subnet.spec["CidrBlock"],
                "State": subnet.status.get("State", "pending"), "AvailabilityZone": zone,
                "AvailabilityZoneId": zone_id(self.region, zone), "AvailableIpAddressCount": self._available(subnet),
                "DefaultForAz": subnet.spec["DefaultForAz"], "MapPublicIpOnLaunch": subnet.spec["MapPublicIpOnLaunch"],
                "MapCustomerOwnedIpOnLaunch": False, "AssignIpv6AddressOnCreation": False, "EnableDns64": False,
                "Ipv6Native": False, "Ipv6CidrBlockAssociationSet": [], "OwnerId": subnet.account,
                "SubnetArn": arns.ec2_arn(self.region, subnet.account, "subnet", subnet.id),
                "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                                  "EnableResourceNameDnsAAAARecord": False},
                "Tags": tag_list(subnet.tags)}

    def _fields(self):
        return {"subnet-id": lambda r: r.id, "vpc-id": lambda r: r.spec["VpcId"],
                "cidr": lambda r: r.spec["CidrBlock"], "cidr-block": lambda r: r.spec["CidrBlock"],
                "cidrBlock": lambda r: r.spec["CidrBlock"], "availability-zone": lambda r: r.spec["AvailabilityZone"],
                "availabilityZone": lambda r: r.spec["AvailabilityZone"],
                "availability-zone-id": lambda r: zone_id(self.region, r.spec["AvailabilityZone"]),
                "available-ip-address-count": self._available, "availableIpAddressCount": self._available,
                "default-for-az": lambda r: r.spec["DefaultForAz"], "defaultForAz": lambda r: r.spec["DefaultForAz"],
                "map-public-ip-on-launch": lambda r: r.spec["MapPublicIpOnLaunch"],
                "state": lambda r: r.status.get("State", "pending"), "owner-id": lambda r: r.account,
                "subnet-arn": lambda r: arns.ec2_arn(self.region, r.account, "subnet", r.id)}

    def _zone(self, vpc: Record, params: dict) -> str:
        if params.get("AvailabilityZoneId"):
            by_id = {zone_id(self.region, z): z for z in self.zones}
            if params["AvailabilityZoneId"] not in by_id:
                raise AwsError("InvalidParameterValue", f"Value ({params['AvailabilityZoneId']}) for parameter "
                                                        "availabilityZoneId is invalid.")
            return by_id[params["AvailabilityZoneId"]]
        zone = params.get("AvailabilityZone")
        if zone is None:
            count = len(self.store.list(SUBNET, where={"VpcId": vpc.id}))
            return self.zones[count % len(self.zones)]
        if zone not in self.zones:
            raise AwsError("InvalidParameterValue",
                           f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently only be "
                           f"created in the following availability zones: {', '.join(self.zones)}.")
        return zone

    @operation("CreateSubnet", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "subnet", "*")]
               + arns_for(VPCS, "VpcId")(ctx, p))
    def create_subnet(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        raw = params.get("CidrBlock")
        if not raw:
            raise AwsError("MissingParameter", "The request must contain the parameter cidrBlock")
        try:
            net = ipam.parse_cidr(raw)
        except ValueError as exc:
            raise AwsError("InvalidParameterValue", f"Value ({raw}) for parameter cidrBlock is invalid. This is "
                                                    "not a valid CIDR block.") from exc
        if not ipam.size_allowed(net) or not ipam.contains(ipam.parse_cidr(vpc.spec["CidrBlock"]), net):
            raise AwsError("InvalidSubnet.Range", f"The CIDR '{raw}' is invalid.")
        for other in self.store.list(SUBNET, where={"VpcId": vpc.id}):
            if ipam.overlaps(net, ipam.parse_cidr(other.spec["CidrBlock"])):
                raise AwsError("InvalidSubnet.Conflict", f"The CIDR '{raw}' conflicts with another subnet")
        subnet = create_subnet(self.store, ctx.account, vpc, str(net), self._zone(vpc, params),
                               tags=tags_from_specifications(params, "subnet"))
        return {"Subnet": self.shape(subnet)}

    @operation("DescribeSubnets", resources=arns_for(SUBNETS, "SubnetIds"))
    def describe_subnets(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, SUBNETS, ctx.account, params.get("SubnetIds"))
        return paged("Subnets", [self.shape(r) for r in select(records, params, self._fields())], params)

    @operation("DeleteSubnet", resources=arns_for(SUBNETS, "SubnetId"))
    def delete_subnet(self, ctx: RequestContext, params: dict) -> dict:
        subnet = lookup(self.store, SUBNETS, ctx.account, params["SubnetId"])
        if self.store.list(NETWORK_INTERFACE, parent=subnet.id):
            raise AwsError("DependencyViolation",
                           f"The subnet '{subnet.id}' has dependencies and cannot be deleted.")
        with self.store.transaction():
            nacls.forget_subnet(self.store, subnet.id, subnet.spec["VpcId"])
            routes.forget_subnet(self.store, subnet.id, subnet.spec["VpcId"])
            self.store.delete(SUBNET, subnet.id)
        return {}

    @operation("ModifySubnetAttribute", resources=arns_for(SUBNETS, "SubnetId"))
    def modify_subnet_attribute(self, ctx: RequestContext, params: dict) -> dict:
        subnet = lookup(self.store, SUBNETS, ctx.account, params["SubnetId"])
        value = bool_param(params.get("MapPublicIpOnLaunch"))
        if value is None:
            unsupported = [k for k in params if k not in ("SubnetId", "DryRun")]
            raise AwsError("InvalidParameterValue", f"Subnet attribute {', '.join(unsupported) or '(none)'} is not "
                                                    "supported by Terrarium")
        self.store.update_spec(SUBNET, subnet.id, lambda s: {**s, "MapPublicIpOnLaunch": value})
        return {}
