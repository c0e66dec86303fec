"""Network interfaces: a private IP from the subnet (the lowest free one, or the one asked for), security groups
of the same VPC (the VPC's default group when none is given), source/destination check, attachment to an
instance. `create_interface` is the entry point for other services (instances, Lambda in a VPC) too.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam, routes, security_groups, subnets
from runtime.services.vpc.common import (ADDRESS, INSTANCES, NETWORK_INTERFACE, NETWORK_INTERFACES,
                                         SECURITY_GROUP, SECURITY_GROUPS, SUBNETS, arns_for, bool_param, lookup,
                                         lookup_many, paginate, select, tag_list)
from runtime.state import Record, Store


def _mac() -> str:
    return "02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))


def resolve_groups(store: Store, account: str, vpc_id: str, group_ids: list[str] | None) -> list[str]:
    """The interface's groups: the named ones (all in `vpc_id`) or the VPC's default group."""
    if not group_ids:
        return [security_groups.default_group(store, vpc_id).id]
    groups = [lookup(store, SECURITY_GROUPS, account, g) for g in dict.fromkeys(group_ids)]
    for group in groups:
        if group.spec["VpcId"] != vpc_id:
            raise AwsError("InvalidParameterValue",
                           f"The security group '{group.id}' does not belong to VPC '{vpc_id}'")
    if len(groups) > 5:
        raise AwsError("SecurityGroupsPerInterfaceLimitExceeded",
                       "The maximum number of security groups per interface has been reached.")
    return [g.id for g in groups]


def create_interface(store: Store, account: str, subnet: Record, *, private_ip: str | None = None,
                     group_ids: list[str] | None = None, description: str = "",
                     interface_type: str = "interface", tags: dict | None = None) -> Record:
    """A new, unattached interface in `subnet`: `InvalidIPAddress.InUse` / `InvalidParameterValue` for a bad
    requested address, `InsufficientFreeAddressesInSubnet` when the subnet is full."""
    net = ipam.parse_cidr(subnet.spec["CidrBlock"])
    groups = resolve_groups(store, account, subnet.spec["VpcId"], group_ids)
    with store.transaction():
        used = subnets.used_ips(store, subnet.id)
        if private_ip:
            if not ipam.assignable(net, private_ip):
                raise AwsError("InvalidParameterValue",
                               f"Address {private_ip} does not fall within the subnet's address range")
            if private_ip in used:
                raise AwsError("InvalidIPAddress.InUse", f"The specified address {private_ip} is already in use.")
            address = private_ip
        else:
            address = ipam.next_free_ip(net, used)
            if address is None:
                raise AwsError("InsufficientFreeAddressesInSubnet",
                               "There are not enough free addresses in subnet '%s' to satisfy the requested number "
                               "of instances." % subnet.id)
        spec = {"SubnetId": subnet.id, "VpcId": subnet.spec["VpcId"],
                "AvailabilityZone": subnet.spec["AvailabilityZone"], "PrivateIpAddress": address,
                "MacAddress": _mac(), "Groups": groups, "SourceDestCheck": True, "Description": description,
                "InterfaceType": interface_type, "Attachment": None, "PublicIp": None}
        eni = store.put(NETWORK_INTERFACE, ids.new_id("network-interface"), account, spec, parent=subnet.id,
                        tags=tags or {})
        store.update_status(NETWORK_INTERFACE, eni.id, {"Status": "available"})
        return store.get(NETWORK_INTERFACE, eni.id)


def attach_interface(store: Store, eni: Record, instance_id: str, device_index: int,
                     delete_on_termination: bool = False) -> str:
    """Record the attachment; returns its `eni-attach-` id. The caller has checked the instance exists."""
    for other in store.list(NETWORK_INTERFACE, eni.account):
        attachment = other.spec.get("Attachment")
        if attachment and attachment["InstanceId"] == instance_id and attachment["DeviceIndex"] == device_index:
            raise AwsError("InvalidParameterValue",
                           f"Instance '{instance_id}' already has an interface attached at device index "
                           f"'{device_index}'.")
    attachment_id = ids.new_id("network-interface-attachment")
    with store.transaction():
        store.update_spec(NETWORK_INTERFACE, eni.id, lambda s: {**s, "Attachment": {
            "AttachmentId": attachment_id, "InstanceId": instance_id, "DeviceIndex": device_index,
            "DeleteOnTermination": delete_on_termination, "AttachTime": time.time()}})
        store.update_status(NETWORK_INTERFACE, eni.id, {"Status": "in-use"})
    return attachment_id


def address_of(store: Store, eni: Record) -> Record | None:
    return next((a for a in store.list(ADDRESS, where={"NetworkInterfaceId": eni.id})), None)


def shape(store: Store, eni: Record, region: str) -> dict:
    return shape_many(store, [eni], region)[0]


def shape_many(store: Store, enis: list[Record], region: str) -> list[dict]:
    """Describe shapes, with group names and Elastic IPs read once for the whole list."""
    accounts = {e.account for e in enis}
    names = {g.id: g.spec["GroupName"] for a in accounts for g in store.list(SECURITY_GROUP, a)}
    eips = {a.spec["NetworkInterfaceId"]: a for acct in accounts for a in store.list(ADDRESS, acct)
            if a.spec.get("NetworkInterfaceId")}
    return [_shape(eni, region, names, eips.get(eni.id)) for eni in enis]


def _shape(eni: Record, region: str, names: dict[str, str], eip: Record | None) -> dict:
    spec = eni.spec
    association = None
    if eip is not None:
        association = {"PublicIp": eip.spec["PublicIp"], "IpOwnerId": eni.account, "AllocationId": eip.id,
                       "AssociationId": eip.spec["AssociationId"], "PublicDnsName": ""}
    elif spec.get("PublicIp"):
        association = {"PublicIp": spec["PublicIp"], "IpOwnerId": "amazon", "PublicDnsName": ""}
    private_dns = f"ip-{spec['PrivateIpAddress'].replace('.', '-')}.ec2.internal" if region == "us-east-1" else \
        f"ip-{spec['PrivateIpAddress'].replace('.', '-')}.{region}.compute.internal"
    primary = {"Primary": True, "PrivateIpAddress": spec["PrivateIpAddress"], "PrivateDnsName": private_dns}
    if association:
        primary["Association"] = association
    result = {"NetworkInterfaceId": eni.id, "SubnetId": spec["SubnetId"], "VpcId": spec["VpcId"],
              "AvailabilityZone": spec["AvailabilityZone"], "Description": spec["Description"],
              "OwnerId": eni.account, "RequesterManaged": spec.get("RequesterManaged", False), "Status": eni.status.get("Status", "available"),
              "MacAddress": spec["MacAddress"], "PrivateIpAddress": spec["PrivateIpAddress"],
              "PrivateDnsName": private_dns, "SourceDestCheck": spec["SourceDestCheck"],
              "InterfaceType": spec["InterfaceType"],
              "Groups": [{"GroupId": g, "GroupName": names.get(g, "")} for g in spec["Groups"]],
              "PrivateIpAddresses": [primary], "Ipv6Addresses": [], "TagSet": tag_list(eni.tags)}
    if association:
        result["Association"] = association
    attachment = spec.get("Attachment")
    if attachment:
        result["Attachment"] = {
            "AttachmentId": attachment["AttachmentId"],
            "InstanceOwnerId": attachment.get("InstanceOwnerId", eni.account), "DeviceIndex": attachment["DeviceIndex"],
            "NetworkCardIndex": 0, "DeleteOnTermination": attachment["DeleteOnTermination"], "Status": "attached",
            "AttachTime": datetime.fromtimestamp(attachment["AttachTime"], timezone.utc)}
        if attachment.get("InstanceId"):  # a requester-managed interface (Lambda's) has no instance
            result["Attachment"]["InstanceId"] = attachment["InstanceId"]
    return result


def _attachment(name: str):
    return lambda r: (r.spec.get("Attachment") or {}).get(name)


class NetworkInterfacesProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _fields(self):
        def group_names(r):
            return [g.spec["GroupName"] for g in self.store.list(SECURITY_GROUP, where={"VpcId": r.spec["VpcId"]})
                    if g.id in r.spec["Groups"]]

        def public_ip(r):
            eip = address_of(self.store, r)
            return eip.spec["PublicIp"] if eip else r.spec.get("PublicIp")
        return {"network-interface-id": lambda r: r.id, "subnet-id": lambda r: r.spec["SubnetId"],
                "vpc-id": lambda r: r.spec["VpcId"], "availability-zone": lambda r: r.spec["AvailabilityZone"],
                "status": lambda r: r.status.get("Status"), "owner-id": lambda r: r.account,
                "private-ip-address": lambda r: r.spec["PrivateIpAddress"],
                "addresses.private-ip-address": lambda r: r.spec["PrivateIpAddress"],
                "group-id": lambda r: r.spec["Groups"], "group-name": group_names,
                "description": lambda r: r.spec["Description"], "mac-address": lambda r: r.spec["MacAddress"],
                "source-dest-check": lambda r: r.spec["SourceDestCheck"],
                "interface-type": lambda r: r.spec["InterfaceType"],
                "requester-managed": lambda r: bool(r.spec.get("RequesterManaged")),
                "attachment.instance-id": _attachment("InstanceId"),
                "attachment.attachment-id": _attachment("AttachmentId"),
                "attachment.device-index": _attachment("DeviceIndex"),
                "attachment.status": lambda r: "attached" if r.spec.get("Attachment") else None,
                "association.public-ip": public_ip}

    @operation("CreateNetworkInterface", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "network-interface", "*")] + arns_for(SUBNETS, "SubnetId")(ctx, p))
    def create_network_interface(self, ctx: RequestContext, params: dict) -> dict:
        subnet = lookup(self.store, SUBNETS, ctx.account, params["SubnetId"])
        unsupported = [k for k in ("Ipv6Addresses", "Ipv6AddressCount", "Ipv4Prefixes", "Ipv4PrefixCount",
                                   "Ipv6Prefixes", "Ipv6PrefixCount", "SecondaryPrivateIpAddressCount")
                       if params.get(k)]
        extra = [p for p in params.get("PrivateIpAddresses") or [] if not p.get("Primary")]
        if unsupported or extra:
            raise AwsError("InvalidParameterValue", "Secondary and IPv6 addresses and prefixes are not supported by "
                                                    "Terrarium")
        private_ip = params.get("PrivateIpAddress") or next(
            (p.get("PrivateIpAddress") for p in params.get("PrivateIpAddresses") or []), None)
        interface_type = params.get("InterfaceType") or "interface"
        eni = create_interface(self.store, ctx.account, subnet, private_ip=private_ip,
                               group_ids=params.get("Groups"), description=params.get("Description") or "",
                               interface_type=interface_type,
                               tags=tags_from_specifications(params, "network-interface"))
        result = {"NetworkInterface": shape(self.store, eni, ctx.region)}
        if params.get("ClientToken"):
            result["ClientToken"] = params["ClientToken"]
        return result

    @operation("DescribeNetworkInterfaces", resources=arns_for(NETWORK_INTERFACES, "NetworkInterfaceIds"))
    def describe_network_interfaces(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, NETWORK_INTERFACES, ctx.account, params.get("NetworkInterfaceIds"))
        page, token = paginate(select(records, params, self._fields()), params)
        result: dict = {"NetworkInterfaces": shape_many(self.store, page, ctx.region)}
        if token:
            result["NextToken"] = token
        return result

    @operation("DeleteNetworkInterface", resources=arns_for(NETWORK_INTERFACES, "NetworkInterfaceId"))
    def delete_network_interface(self, ctx: RequestContext, params: dict) -> dict:
        eni = lookup(self.store, NETWORK_INTERFACES, ctx.account, params["NetworkInterfaceId"])
        if eni.spec.get("Attachment"):
            raise AwsError("InvalidNetworkInterface.InUse", f"The network interface '{eni.id}' is currently in use.")
        delete_interface(self.store, eni)
        return {}

    @operation("AttachNetworkInterface", resources=lambda ctx, p: arns_for(
        NETWORK_INTERFACES, "NetworkInterfaceId")(ctx, p) + arns_for(INSTANCES, "InstanceId")(ctx, p))
    def attach_network_interface(self, ctx: RequestContext, params: dict) -> dict:
        eni = lookup(self.store, NETWORK_INTERFACES, ctx.account, params["NetworkInterfaceId"])
        instance = lookup(self.store, INSTANCES, ctx.account, params["InstanceId"])
        if instance.status.get("State") in ("terminated", "shutting-down"):
            raise AwsError("IncorrectInstanceState",
                           f"The instance '{instance.id}' is not in a valid state for this operation.")
        if eni.spec.get("Attachment"):
            raise AwsError("InvalidNetworkInterface.InUse", f"Interface: {eni.id} in use.")
        attachment_id = attach_interface(self.store, eni, instance.id, params["DeviceIndex"])
        return {"AttachmentId": attachment_id, "NetworkCardIndex": 0}

    @operation("DetachNetworkInterface")
    def detach_network_interface(self, ctx: RequestContext, params: dict) -> dict:
        attachment_id = params["AttachmentId"]
        if not ids.is_id("network-interface-attachment", attachment_id):
            raise AwsError("InvalidAttachmentID.Malformed", f'Invalid id: "{attachment_id}"')
        eni = next((e for e in self.store.list(NETWORK_INTERFACE, ctx.account)
                    if (e.spec.get("Attachment") or {}).get("AttachmentId") == attachment_id), None)
        if eni is None:
            raise AwsError("InvalidAttachmentID.NotFound", f"The attachment ID '{attachment_id}' does not exist")
        if eni.spec["Attachment"]["DeviceIndex"] == 0 and not params.get("Force"):
            raise AwsError("OperationNotPermitted",
                           "The network interface at device index 0 and networkCard index 0 cannot be detached.")
        with self.store.transaction():
            self.store.update_spec(NETWORK_INTERFACE, eni.id, lambda s: {**s, "Attachment": None})
            self.store.update_status(NETWORK_INTERFACE, eni.id, {"Status": "available"})
        return {}

    @operation("ModifyNetworkInterfaceAttribute", resources=arns_for(NETWORK_INTERFACES, "NetworkInterfaceId"))
    def modify_network_interface_attribute(self, ctx: RequestContext, params: dict) -> dict:
        eni = lookup(self.store, NETWORK_INTERFACES, ctx.account, params["NetworkInterfaceId"])
        changes: dict = {}
        if params.get("Groups"):
            changes["Groups"] = resolve_groups(self.store, ctx.account, eni.spec["VpcId"], params["Groups"])
        if params.get("SourceDestCheck") is not None:
            changes["SourceDestCheck"] = bool(bool_param(params["SourceDestCheck"]))
        if params.get("Description") is not None:
            changes["Description"] = bool_param(params["Description"]) or ""
        if params.get("Attachment"):
            wanted = params["Attachment"]
            current = eni.spec.get("Attachment")
            if not current or current["AttachmentId"] != wanted.get("AttachmentId"):
                raise AwsError("InvalidAttachmentID.NotFound",
                               f"The attachment ID '{wanted.get('AttachmentId')}' does not exist")
            changes["Attachment"] = {**current, "DeleteOnTermination": bool(wanted.get("DeleteOnTermination"))}
        if not changes:
            raise AwsError("MissingParameter", "The request must contain one attribute to modify")
        self.store.update_spec(NETWORK_INTERFACE, eni.id, lambda s: {**s, **changes})
        return {}


def delete_interface(store: Store, eni: Record) -> None:
    """Remove an interface, disassociating its Elastic IP (kept allocated) and blackholing routes to it."""
    with store.transaction():
        eip = address_of(store, eni)
        if eip is not None:
            store.update_spec(ADDRESS, eip.id, lambda s: {**s, "AssociationId": None, "NetworkInterfaceId": None,
                                                          "PrivateIpAddress": None, "InstanceId": None})
        store.delete(NETWORK_INTERFACE, eni.id)
        routes.refresh_route_states(store, eni.spec["VpcId"])
