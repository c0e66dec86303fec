"""Elastic IPs: public addresses from `ipam.PUBLIC_RANGE`, associated with a network interface (or an instance's
primary interface) in a VPC that has an internet gateway. `allocate_public_ip` also serves the auto-assigned
public IPs of instances, so both kinds never collide.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam
from runtime.services.vpc.routes import primary_interface
from runtime.services.vpc.common import (ADDRESS, ADDRESSES, INSTANCES, INTERNET_GATEWAY, NETWORK_INTERFACE,
                                         NETWORK_INTERFACES, arns_for, lookup, lookup_many, select, tag_list)
from runtime.state import Record, Store

UNASSOCIATED = {"AssociationId": None, "NetworkInterfaceId": None, "PrivateIpAddress": None, "InstanceId": None}


def used_public_ips(store: Store) -> set[str]:
    """Every public address in use: Elastic IPs (all accounts) and interfaces' auto-assigned public IPs."""
    used = {a.spec["PublicIp"] for a in store.list(ADDRESS)}
    used.update(e.spec["PublicIp"] for e in store.list(NETWORK_INTERFACE) if e.spec.get("PublicIp"))
    return used


def allocate_public_ip(store: Store) -> str:
    """The next free address of PUBLIC_RANGE (call inside the transaction that records it)."""
    address = ipam.next_public_ip(used_public_ips(store))
    if address is None:
        raise AwsError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
    return address


def shape(address: Record) -> dict:
    spec = address.spec
    result = {"AllocationId": address.id, "PublicIp": spec["PublicIp"], "Domain": spec["Domain"],
              "PublicIpv4Pool": "amazon", "NetworkBorderGroup": spec["NetworkBorderGroup"],
              "Tags": tag_list(address.tags)}
    if spec.get("AssociationId"):
        result.update({"AssociationId": spec["AssociationId"], "NetworkInterfaceId": spec["NetworkInterfaceId"],
                       "NetworkInterfaceOwnerId": address.account, "PrivateIpAddress": spec["PrivateIpAddress"]})
        if spec.get("InstanceId"):
            result["InstanceId"] = spec["InstanceId"]
    return result


class AddressesProvider:
    FIELDS = {"allocation-id": lambda r: r.id, "association-id": lambda r: r.spec.get("AssociationId"),
              "domain": lambda r: r.spec["Domain"], "instance-id": lambda r: r.spec.get("InstanceId"),
              "network-interface-id": lambda r: r.spec.get("NetworkInterfaceId"),
              "network-interface-owner-id": lambda r: r.account if r.spec.get("NetworkInterfaceId") else None,
              "private-ip-address": lambda r: r.spec.get("PrivateIpAddress"),
              "public-ip": lambda r: r.spec["PublicIp"], "network-border-group": lambda r: r.spec["NetworkBorderGroup"]}

    def __init__(self, store: Store, region: str) -> None:
        self.store = store
        self.region = region

    @operation("AllocateAddress", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "elastic-ip", "*")])
    def allocate_address(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("Domain", "vpc") != "vpc":
            raise AwsError("InvalidParameterValue", "Only the vpc domain exists (EC2-Classic is retired)")
        if params.get("Address") or params.get("CustomerOwnedIpv4Pool") or params.get("IpamPoolId"):
            raise AwsError("InvalidParameterValue", "Terrarium allocates Elastic IPs from its own pool only")
        with self.store.transaction():
            public_ip = allocate_public_ip(self.store)
            spec = {"PublicIp": public_ip, "Domain": "vpc", "NetworkBorderGroup": self.region, **UNASSOCIATED}
            record = self.store.put(ADDRESS, ids.new_id("elastic-ip"), ctx.account, spec, name=public_ip,
                                    tags=tags_from_specifications(params, "elastic-ip"))
        return {"AllocationId": record.id, "PublicIp": public_ip, "Domain": "vpc", "PublicIpv4Pool": "amazon",
                "NetworkBorderGroup": self.region}

    def _address(self, ctx: RequestContext, params: dict) -> Record:
        if params.get("AllocationId"):
            return lookup(self.store, ADDRESSES, ctx.account, params["AllocationId"])
        if params.get("PublicIp"):
            found = self.store.find(ADDRESS, ctx.account, params["PublicIp"])
            if found is None:
                raise AwsError("InvalidAddress.NotFound", f"Address '{params['PublicIp']}' not found.")
            return found
        raise AwsError("MissingParameter", "The request must contain the parameter AllocationId")

    @operation("DescribeAddresses", resources=arns_for(ADDRESSES, "AllocationIds"))
    def describe_addresses(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, ADDRESSES, ctx.account, params.get("AllocationIds"))
        for public_ip in params.get("PublicIps") or []:
            if self.store.find(ADDRESS, ctx.account, public_ip) is None:
                raise AwsError("InvalidAddress.NotFound", f"Address '{public_ip}' not found.")
        if params.get("PublicIps"):
            records = [r for r in records if r.spec["PublicIp"] in params["PublicIps"]]
        return {"Addresses": [shape(r) for r in select(records, params, self.FIELDS)]}

    @operation("AssociateAddress", resources=lambda ctx, p: arns_for(ADDRESSES, "AllocationId")(ctx, p)
               + arns_for(NETWORK_INTERFACES, "NetworkInterfaceId")(ctx, p))
    def associate_address(self, ctx: RequestContext, params: dict) -> dict:
        address = self._address(ctx, params)
        instance_id = None
        if params.get("NetworkInterfaceId"):
            eni = lookup(self.store, NETWORK_INTERFACES, ctx.account, params["NetworkInterfaceId"])
            instance_id = (eni.spec.get("Attachment") or {}).get("InstanceId")
        elif params.get("InstanceId"):
            instance = lookup(self.store, INSTANCES, ctx.account, params["InstanceId"])
            instance_id = instance.id
            eni = primary_interface(self.store, instance.id)
            if eni is None:
                raise AwsError("InvalidInstanceID", f"The instance '{instance.id}' has no primary network interface")
        else:
            raise AwsError("MissingParameter", "The request must contain the parameter instanceId or "
                                               "networkInterfaceId")
        private_ip = params.get("PrivateIpAddress") or eni.spec["PrivateIpAddress"]
        if private_ip != eni.spec["PrivateIpAddress"]:
            raise AwsError("InvalidParameterValue",
                           f"The private IP address {private_ip} is not assigned to interface {eni.id}")
        if not self.store.list(INTERNET_GATEWAY, where={"VpcId": eni.spec["VpcId"]}):
            raise AwsError("Gateway.NotAttached", f"Network {eni.spec['VpcId']} is not attached to any internet "
                                                  "gateway")
        reassociate = params.get("AllowReassociation", False)
        if address.spec.get("AssociationId") and address.spec["NetworkInterfaceId"] != eni.id and not reassociate:
            raise AwsError("Resource.AlreadyAssociated",
                           f"resource {address.id} is already associated with associate-id "
                           f"{address.spec['AssociationId']}")
        holder = next((a for a in self.store.list(ADDRESS, where={"NetworkInterfaceId": eni.id})
                       if a.id != address.id), None)
        if holder is not None and not reassociate:
            raise AwsError("Resource.AlreadyAssociated",
                           f"resource {eni.id} is already associated with associate-id {holder.spec['AssociationId']}")
        association_id = ids.new_id("elastic-ip-association")
        with self.store.transaction():
            if holder is not None:
                self.store.update_spec(ADDRESS, holder.id, lambda s: {**s, **UNASSOCIATED})
            self.store.update_spec(ADDRESS, address.id, lambda s: {
                **s, "AssociationId": association_id, "NetworkInterfaceId": eni.id, "PrivateIpAddress": private_ip,
                "InstanceId": instance_id})
        return {"AssociationId": association_id}

    @operation("DisassociateAddress")
    def disassociate_address(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("AssociationId"):
            association_id = params["AssociationId"]
            address = next((a for a in self.store.list(ADDRESS, ctx.account, where={"AssociationId": association_id})),
                           None)
            if address is None:
                raise AwsError("InvalidAssociationID.NotFound",
                               f"The association ID '{association_id}' does not exist")
        else:
            address = self._address(ctx, params)
            if not address.spec.get("AssociationId"):
                raise AwsError("InvalidAssociationID.NotFound", "The address is not associated")
        self.store.update_spec(ADDRESS, address.id, lambda s: {**s, **UNASSOCIATED})
        return {}

    @operation("ReleaseAddress", resources=arns_for(ADDRESSES, "AllocationId"))
    def release_address(self, ctx: RequestContext, params: dict) -> dict:
        address = self._address(ctx, params)
        if address.spec.get("AssociationId"):
            raise AwsError("InvalidIPAddress.InUse", f"Address {address.spec['PublicIp']} is in use.")
        self.store.delete(ADDRESS, address.id)
        return {}
