"""Where an instance sits in a VPC: its subnet, security groups, primary ENI, private and public addresses.

At launch an instance gets a primary network interface (`ec2.networkinterface`, attached, deleted on
termination), an address from its subnet (the requested one, or the lowest free), the VPC's default security
group unless others are named, and an auto-assigned public IP when its subnet maps public IPs on launch or the
request asks for one. The public IP lives on the ENI, as in AWS: it is released on stop and a new one is
assigned on start; an Elastic IP associated with the ENI takes precedence and survives stop/start.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.api.context import RequestContext
from runtime.errors import AwsError, NotFound
from runtime.services.vpc import addresses, common, interfaces
from runtime.services.vpc.security_groups import default_group
from runtime.services.vpc.subnets import zone_id
from runtime.state import Record, Store

ENI = common.NETWORK_INTERFACE


@dataclass(frozen=True)
class LaunchNet:
    vpc_id: str
    vpc_cidr: str
    subnet_id: str
    subnet_cidr: str
    zone: str
    zone_id: str
    eni_id: str
    attachment_id: str
    private_ip: str
    mac: str
    groups: tuple[tuple[str, str], ...]
    public_ip: str | None
    region: str

    def as_spec(self) -> dict:
        return {"VpcId": self.vpc_id, "VpcCidr": self.vpc_cidr, "SubnetId": self.subnet_id,
                "SubnetCidr": self.subnet_cidr, "AvailabilityZone": self.zone, "AvailabilityZoneId": self.zone_id,
                "NetworkInterfaceId": self.eni_id, "AttachmentId": self.attachment_id,
                "PrivateIpAddress": self.private_ip, "MacAddress": self.mac, "Region": self.region,
                "Groups": [{"GroupId": g, "GroupName": n} for g, n in self.groups]}


def _subnet(store: Store, ctx: RequestContext, params: dict, nic: dict, zones: tuple[str, ...]) -> Record:
    subnet_id = nic.get("SubnetId") or params.get("SubnetId")
    if subnet_id:
        return common.lookup(store, common.SUBNETS, ctx.account, subnet_id)
    zone = (params.get("Placement") or {}).get("AvailabilityZone")
    defaults = [v for v in store.list(common.VPC, ctx.account) if v.spec.get("IsDefault")]
    if not defaults:
        raise AwsError("VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic "
                                            "and default VPC.")
    candidates = [s for s in store.list(common.SUBNET, ctx.account, parent=defaults[0].id)
                  if s.spec.get("DefaultForAz") and (zone is None or s.spec["AvailabilityZone"] == zone)]
    if not candidates:
        raise AwsError("InvalidParameterValue", f"No default subnet for availability zone '{zone}'.")
    candidates.sort(key=lambda s: zones.index(s.spec["AvailabilityZone"]) if s.spec["AvailabilityZone"] in zones
                    else len(zones))
    return candidates[0]


def _groups(store: Store, ctx: RequestContext, params: dict, nic: dict, vpc_id: str,
            subnet_id: str) -> list[Record]:
    ids_wanted = nic.get("Groups") or params.get("SecurityGroupIds") or []
    names = params.get("SecurityGroups") or []
    chosen: list[Record] = []
    for group_id in ids_wanted:
        group = common.lookup(store, common.SECURITY_GROUPS, ctx.account, group_id)
        if group.spec["VpcId"] != vpc_id:
            raise AwsError("InvalidParameter", f"Security group {group_id} and subnet {subnet_id} belong to "
                                               f"different networks.")
        chosen.append(group)
    in_vpc = store.list(common.SECURITY_GROUP, ctx.account, parent=vpc_id)
    for name in names:
        group = next((g for g in in_vpc if g.spec["GroupName"] == name), None)
        if group is None:
            raise AwsError("InvalidGroup.NotFound", f"The security group '{name}' does not exist in VPC '{vpc_id}'")
        chosen.append(group)
    return chosen or [default_group(store, vpc_id)]


def place(store: Store, ctx: RequestContext, params: dict, instance_id: str, zones: tuple[str, ...]) -> LaunchNet:
    """Create the instance's primary ENI and return where the instance sits (call inside a transaction)."""
    nics = params.get("NetworkInterfaces") or []
    nic = next((n for n in nics if n.get("DeviceIndex", 0) == 0), {})
    subnet = _subnet(store, ctx, params, nic, zones)
    vpc = store.get(common.VPC, subnet.spec["VpcId"])
    groups = _groups(store, ctx, params, nic, vpc.id, subnet.id)
    eni = interfaces.create_interface(store, ctx.account, subnet,
                                      private_ip=nic.get("PrivateIpAddress") or params.get("PrivateIpAddress"),
                                      group_ids=[g.id for g in groups])
    associate = nic.get("AssociatePublicIpAddress")
    if associate is None:
        associate = bool(subnet.spec.get("MapPublicIpOnLaunch"))
    public_ip = addresses.allocate_public_ip(store) if associate else None
    attachment_id = interfaces.attach_interface(store, eni, instance_id, 0, delete_on_termination=True)
    store.update_spec(ENI, eni.id, lambda spec: {**spec, "PublicIp": public_ip,
                                                 "AutoAssignPublicIp": bool(associate)})
    eni_id, private_ip, mac = eni.id, eni.spec["PrivateIpAddress"], eni.spec["MacAddress"]
    return LaunchNet(vpc.id, vpc.spec["CidrBlock"], subnet.id, subnet.spec["CidrBlock"],
                     subnet.spec["AvailabilityZone"], zone_id(ctx.region, subnet.spec["AvailabilityZone"]), eni_id,
                     attachment_id, private_ip, mac, tuple((g.id, g.spec["GroupName"]) for g in groups), public_ip,
                     ctx.region)


def public_ip(store: Store, eni_id: str) -> str | None:
    """The instance's public address: an associated Elastic IP first, else the ENI's auto-assigned one."""
    for address in store.list(common.ADDRESS, where={"NetworkInterfaceId": eni_id}):
        return address.spec["PublicIp"]
    try:
        return store.get(ENI, eni_id).spec.get("PublicIp")
    except NotFound:  # the ENI went with a terminated instance
        return None


def release_public_ip(store: Store, instance: Record) -> None:
    """Stop: the auto-assigned public IP goes back to the pool."""
    eni = store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"])
    if eni.spec.get("PublicIp"):
        store.update_spec(ENI, eni.id, {**eni.spec, "PublicIp": None})


def assign_public_ip(store: Store, instance: Record) -> None:
    """Start: an instance that had an auto-assigned public IP gets a new one."""
    eni = store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"])
    if eni.spec.get("AutoAssignPublicIp") and not eni.spec.get("PublicIp"):
        store.update_spec(ENI, eni.id, {**eni.spec, "PublicIp": addresses.allocate_public_ip(store)})


def release(store: Store, instance: Record) -> None:
    """Terminate: the primary ENI (DeleteOnTermination) goes, and Elastic IPs on it are disassociated."""
    try:
        eni = store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"])
    except NotFound:
        return
    interfaces.delete_interface(store, eni)


def change_groups(store: Store, ctx: RequestContext, instance: Record, group_ids: list[str]) -> dict:
    vpc_id = instance.spec["Placement"]["VpcId"]
    groups = _groups(store, ctx, {"SecurityGroupIds": group_ids}, {}, vpc_id, instance.spec["Placement"]["SubnetId"])
    eni = store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"])
    store.update_spec(ENI, eni.id, {**eni.spec, "Groups": [g.id for g in groups]})
    return {**instance.spec["Placement"], "Groups": [{"GroupId": g.id, "GroupName": g.spec["GroupName"]}
                                                     for g in groups]}


def source_dest_check(store: Store, instance: Record) -> bool:
    return store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"]).spec.get("SourceDestCheck", True)


def set_source_dest_check(store: Store, instance: Record, value: bool) -> None:
    eni = store.get(ENI, instance.spec["Placement"]["NetworkInterfaceId"])
    store.update_spec(ENI, eni.id, {**eni.spec, "SourceDestCheck": bool(value)})
