"""What every VPC provider shares: the record kinds, id validation and lookup with each resource's exact error
codes, `DependencyViolation`, ARNs, tag lists, and `Describe*` plumbing (ids, filters, MaxResults/NextToken).

Record layout (the contract with the reconciler; `spec` is desired, `status` only what AWS shows as a state):
- `ec2.vpc`: spec {CidrBlock, CidrAssociationId, IsDefault, EnableDnsSupport, EnableDnsHostnames,
  InstanceTenancy, DhcpOptionsId}; status {State}.
- `ec2.subnet` (parent vpc): spec {VpcId, CidrBlock, GatewayIp, AvailabilityZone, MapPublicIpOnLaunch,
  DefaultForAz}; status {State}.
- `ec2.routetable` (parent vpc): spec {VpcId, Main, Routes: [{DestinationCidrBlock, GatewayId | NetworkInterfaceId
  | InstanceId, Origin}], Associations: [{RouteTableAssociationId, SubnetId} | {RouteTableAssociationId,
  Main: true}]}; status {RouteStates: {destination: active|blackhole}}.
- `ec2.internetgateway`: spec {VpcId or None}; status {AttachmentState}.
- `ec2.networkacl` (parent vpc): spec {VpcId, IsDefault, Entries: [{RuleNumber, Egress, Protocol ("-1" or a
  number), RuleAction, CidrBlock, PortRange?, IcmpTypeCode?}] (the final `*` deny is implicit), Associations:
  [{NetworkAclAssociationId, SubnetId}]}.
- `ec2.securitygroup` (parent vpc): spec {GroupName, Description, VpcId, IsDefault, Rules: [{SecurityGroupRuleId,
  IsEgress, IpProtocol ("-1", "tcp", "udp", "icmp" or a number), FromPort?, ToPort?, one of CidrIpv4 | CidrIpv6 |
  PrefixListId | ReferencedGroupId, Description?}]}.
- `ec2.networkinterface` (parent subnet): spec {SubnetId, VpcId, AvailabilityZone, PrivateIpAddress, MacAddress,
  Groups: [sg ids], SourceDestCheck, Description, InterfaceType, Attachment: {AttachmentId, InstanceId,
  DeviceIndex, DeleteOnTermination, AttachTime} or None, PublicIp (auto-assigned, not an EIP) or None};
  status {Status: available|in-use}.
- `ec2.address` (name = public IP): spec {PublicIp, Domain, AssociationId, NetworkInterfaceId, PrivateIpAddress,
  InstanceId} (association fields None while unassociated).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.api.context import RequestContext
from runtime.errors import AwsError, NotFound
from runtime.services._shared import arns, ids
from runtime.services._shared.filters import matches_filters
from runtime.state import Record, Store

from runtime.state.kinds import (  # noqa: F401 (re-exported for the VPC providers)
    ADDRESS, INSTANCE, INTERNET_GATEWAY, NETWORK_ACL, NETWORK_INTERFACE, ROUTE_TABLE, SECURITY_GROUP, SUBNET, VPC)


@dataclass(frozen=True)
class Resource:
    """How one resource type is named on the wire: id prefix key, error code stem, noun in messages, ARN type."""

    kind: str
    id_type: str
    code: str
    noun: str
    arn_type: str

    def malformed(self, value: str) -> AwsError:
        prefix = ids.EC2_PREFIXES[self.id_type]
        return AwsError(f"{self.code}.Malformed", f'Invalid id: "{value}" (expecting "{prefix}-...")')

    def not_found(self, value: str) -> AwsError:
        if self.kind == SECURITY_GROUP:
            return AwsError("InvalidGroup.NotFound", f"The security group '{value}' does not exist")
        return AwsError(f"{self.code}.NotFound", f"The {self.noun} ID '{value}' does not exist")


VPCS = Resource(VPC, "vpc", "InvalidVpcID", "vpc", "vpc")
SUBNETS = Resource(SUBNET, "subnet", "InvalidSubnetID", "subnet", "subnet")
ROUTE_TABLES = Resource(ROUTE_TABLE, "route-table", "InvalidRouteTableID", "routeTable", "route-table")
INTERNET_GATEWAYS = Resource(INTERNET_GATEWAY, "internet-gateway", "InvalidInternetGatewayID", "internetGateway",
                             "internet-gateway")
NETWORK_ACLS = Resource(NETWORK_ACL, "network-acl", "InvalidNetworkAclID", "networkAcl", "network-acl")
SECURITY_GROUPS = Resource(SECURITY_GROUP, "security-group", "InvalidGroupId", "security group", "security-group")
NETWORK_INTERFACES = Resource(NETWORK_INTERFACE, "network-interface", "InvalidNetworkInterfaceID",
                              "networkInterface", "network-interface")
ADDRESSES = Resource(ADDRESS, "elastic-ip", "InvalidAllocationID", "allocation", "elastic-ip")
INSTANCES = Resource(INSTANCE, "instance", "InvalidInstanceID", "instance", "instance")

BY_PREFIX: dict[str, Resource] = {ids.EC2_PREFIXES[r.id_type]: r for r in (
    VPCS, SUBNETS, ROUTE_TABLES, INTERNET_GATEWAYS, NETWORK_ACLS, SECURITY_GROUPS, NETWORK_INTERFACES, ADDRESSES,
    INSTANCES)}


def lookup(store: Store, resource: Resource, account: str, value: str) -> Record:
    """The caller's record `value`, or the resource's exact Malformed / NotFound error."""
    if not isinstance(value, str) or not ids.is_id(resource.id_type, value):
        raise resource.malformed(str(value))
    try:
        record = store.get(resource.kind, value)
    except NotFound:
        raise resource.not_found(value) from None
    if record.account != account:
        raise resource.not_found(value)
    return record


def lookup_many(store: Store, resource: Resource, account: str, wanted: list[str] | None) -> list[Record]:
    """All of the caller's records of a type, or exactly those named (every name must exist)."""
    if not wanted:
        return store.list(resource.kind, account)
    return [lookup(store, resource, account, value) for value in dict.fromkeys(wanted)]


def dependency(noun: str, resource_id: str) -> AwsError:
    return AwsError("DependencyViolation", f"The {noun} '{resource_id}' has dependencies and cannot be deleted.")


def arn(ctx: RequestContext, resource: Resource, resource_id: str | None) -> str:
    return arns.ec2_arn(ctx.region, ctx.account, resource.arn_type, resource_id or "*")


def arns_for(resource: Resource, *param_names: str) -> Callable[[RequestContext, dict], list[str]]:
    """A `resources=` function: the ARNs of the ids found in the named parameters (scalars or lists), else `*`."""
    def resources(ctx: RequestContext, params: dict) -> list[str]:
        found: list[str] = []
        for name in param_names:
            value = params.get(name)
            found.extend(value if isinstance(value, list) else [value] if value else [])
        return [arn(ctx, resource, v) for v in found] or [arn(ctx, resource, None)]
    return resources


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _record_tags(record: Record) -> dict[str, str]:
    return record.tags


def select(records: list[Record], params: dict, fields: Mapping[str, Callable[[Record], Any]]) -> list[Record]:
    """Apply `Filters` (with `tag:`, `tag-key`, `tag-value`) to records."""
    return [r for r in records if matches_filters(r, params.get("Filters"), fields, tags=_record_tags)]


def paginate(items: list, params: dict) -> tuple[list, str | None]:
    """One page per MaxResults, the opaque NextToken an offset; an unknown token is InvalidParameterValue."""
    start = 0
    if params.get("NextToken"):
        try:
            start = int(json.loads(base64.urlsafe_b64decode(params["NextToken"].encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AwsError("InvalidParameterValue", "The token provided is invalid.") from exc
    limit = params.get("MaxResults")
    if not limit:
        return items[start:], None
    end = start + limit
    token = base64.urlsafe_b64encode(json.dumps({"offset": end}).encode()).decode() if end < len(items) else None
    return items[start:end], token


def paged(key: str, items: list, params: dict) -> dict:
    page, token = paginate(items, params)
    result: dict = {key: page}
    if token:
        result["NextToken"] = token
    return result


def bool_param(value: Any) -> bool | None:
    """EC2 `AttributeBooleanValue` ({"Value": bool}) or a plain boolean."""
    if isinstance(value, dict):
        return value.get("Value")
    return value
