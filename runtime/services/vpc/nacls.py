"""Network ACLs: the default ACL of a VPC (rule 100 allow all + the final deny, both directions), custom ACLs that
deny everything until entries are added, entries 1-32766 per direction, and the subnet associations (every subnet
has exactly one; a new subnet gets the default ACL). The final `*` rule (32767, deny) is implicit in the record
and shown by Describe.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import ids
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc import ipam
from runtime.services.vpc.common import (NETWORK_ACL, NETWORK_ACLS, VPCS, arns_for, dependency, lookup,
                                         lookup_many, paged, select, tag_list)
from runtime.state import Record, Store

FINAL_RULE = 32767
PROTOCOL_NUMBERS = {"all": "-1", "tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}


def allow_all(egress: bool) -> dict:
    return {"RuleNumber": 100, "Egress": egress, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}


def create_network_acl(store: Store, account: str, vpc: Record, *, default: bool,
                       tags: dict | None = None) -> Record:
    entries = [allow_all(False), allow_all(True)] if default else []
    spec = {"VpcId": vpc.id, "IsDefault": default, "Entries": entries, "Associations": []}
    return store.put(NETWORK_ACL, ids.new_id("network-acl"), account, spec, parent=vpc.id, tags=tags or {})


def default_acl(store: Store, vpc_id: str) -> Record:
    return next(a for a in store.list(NETWORK_ACL, where={"VpcId": vpc_id}) if a.spec["IsDefault"])


def associate_subnet(store: Store, subnet: Record) -> None:
    """Give a new subnet its association with the VPC's default ACL."""
    acl = default_acl(store, subnet.spec["VpcId"])
    association = {"NetworkAclAssociationId": ids.new_id("network-acl-association"), "SubnetId": subnet.id}
    store.update_spec(NETWORK_ACL, acl.id, lambda s: {**s, "Associations": s["Associations"] + [association]})


def forget_subnet(store: Store, subnet_id: str, vpc_id: str) -> None:
    for acl in store.list(NETWORK_ACL, where={"VpcId": vpc_id}):
        if any(a["SubnetId"] == subnet_id for a in acl.spec["Associations"]):
            store.update_spec(NETWORK_ACL, acl.id, lambda s: {**s, "Associations": [
                a for a in s["Associations"] if a["SubnetId"] != subnet_id]})


def _entry_shape(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if v is not None}


def shape(acl: Record) -> dict:
    entries = sorted(acl.spec["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"]))
    finals = [{"RuleNumber": FINAL_RULE, "Egress": egress, "Protocol": "-1", "RuleAction": "deny",
               "CidrBlock": "0.0.0.0/0"} for egress in (False, True)]
    return {"NetworkAclId": acl.id, "VpcId": acl.spec["VpcId"], "IsDefault": acl.spec["IsDefault"],
            "OwnerId": acl.account, "Entries": [_entry_shape(e) for e in entries] + finals,
            "Associations": [{**a, "NetworkAclId": acl.id} for a in acl.spec["Associations"]],
            "Tags": tag_list(acl.tags)}


def _entries_field(name: str):
    return lambda r: [e.get(name) for e in r.spec["Entries"] if e.get(name) is not None]


def parse_entry(params: dict) -> dict:
    """The stored form of a Create/ReplaceNetworkAclEntry request, validated as AWS does."""
    number = params["RuleNumber"]
    if not 1 <= number <= 32766:
        raise AwsError("InvalidParameterValue",
                       f"Value ({number}) for parameter ruleNumber is invalid. Rule number must be between 1 and "
                       "32766.")
    protocol = str(params["Protocol"]).lower()
    protocol = PROTOCOL_NUMBERS.get(protocol, protocol)
    if protocol != "-1" and not (protocol.isdigit() and 0 <= int(protocol) <= 255):
        raise AwsError("InvalidParameterValue", f"Invalid value for parameter protocol: {params['Protocol']}")
    action = params["RuleAction"]
    if action not in ("allow", "deny"):
        raise AwsError("InvalidParameterValue", f"Invalid value for parameter ruleAction: {action}")
    if params.get("Ipv6CidrBlock"):
        raise AwsError("InvalidParameterValue", "IPv6 network ACL entries are not supported by Terrarium")
    raw = params.get("CidrBlock")
    if not raw:
        raise AwsError("MissingParameter", "The request must contain the parameter cidrBlock")
    try:
        cidr = str(ipam.parse_cidr(raw))
    except ValueError as exc:
        raise AwsError("InvalidParameterValue",
                       f"Value ({raw}) for parameter cidrBlock is invalid. This is not a valid CIDR block.") from exc
    entry = {"RuleNumber": number, "Egress": bool(params["Egress"]), "Protocol": protocol, "RuleAction": action,
             "CidrBlock": cidr}
    if protocol in ("6", "17"):
        ports = params.get("PortRange") or {}
        low, high = ports.get("From"), ports.get("To")
        if low is None or high is None:
            raise AwsError("InvalidParameterValue",
                           "TCP and UDP entries must specify a port range (PortRange From and To)")
        if not (0 <= low <= 65535 and 0 <= high <= 65535 and low <= high):
            raise AwsError("InvalidParameterValue", f"Invalid port range {low}-{high}")
        entry["PortRange"] = {"From": low, "To": high}
    elif protocol == "1":
        icmp = params.get("IcmpTypeCode") or {}
        if icmp.get("Type") is None or icmp.get("Code") is None:
            raise AwsError("InvalidParameterValue", "ICMP entries must specify IcmpTypeCode Type and Code")
        entry["IcmpTypeCode"] = {"Type": icmp["Type"], "Code": icmp["Code"]}
    return entry


def _same(entry: dict, number: int, egress: bool) -> bool:
    return entry["RuleNumber"] == number and entry["Egress"] == egress


def _missing_entry(number: int) -> AwsError:
    return AwsError("InvalidNetworkAclEntry.NotFound", f"The network acl entry identified by {number} does not "
                                                       "exist.")


class NetworkAclsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    FIELDS = {
        "network-acl-id": lambda r: r.id, "vpc-id": lambda r: r.spec["VpcId"],
        "default": lambda r: r.spec["IsDefault"], "owner-id": lambda r: r.account,
        "association.association-id": lambda r: [a["NetworkAclAssociationId"] for a in r.spec["Associations"]],
        "association.subnet-id": lambda r: [a["SubnetId"] for a in r.spec["Associations"]],
        "association.network-acl-id": lambda r: r.id if r.spec["Associations"] else None,
        "entry.rule-number": _entries_field("RuleNumber"), "entry.cidr": _entries_field("CidrBlock"),
        "entry.protocol": _entries_field("Protocol"), "entry.rule-action": _entries_field("RuleAction"),
        "entry.egress": _entries_field("Egress"),
        "entry.port-range.from": lambda r: [e["PortRange"]["From"] for e in r.spec["Entries"] if "PortRange" in e],
        "entry.port-range.to": lambda r: [e["PortRange"]["To"] for e in r.spec["Entries"] if "PortRange" in e],
    }

    @operation("CreateNetworkAcl", resources=arns_for(VPCS, "VpcId"))
    def create_network_acl(self, ctx: RequestContext, params: dict) -> dict:
        vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        acl = create_network_acl(self.store, ctx.account, vpc, default=False,
                                 tags=tags_from_specifications(params, "network-acl"))
        return {"NetworkAcl": shape(acl)}

    @operation("DescribeNetworkAcls", resources=arns_for(NETWORK_ACLS, "NetworkAclIds"))
    def describe_network_acls(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, NETWORK_ACLS, ctx.account, params.get("NetworkAclIds"))
        return paged("NetworkAcls", [shape(r) for r in select(records, params, self.FIELDS)], params)

    @operation("DeleteNetworkAcl", resources=arns_for(NETWORK_ACLS, "NetworkAclId"))
    def delete_network_acl(self, ctx: RequestContext, params: dict) -> dict:
        acl = lookup(self.store, NETWORK_ACLS, ctx.account, params["NetworkAclId"])
        if acl.spec["IsDefault"]:
            raise AwsError("InvalidParameterValue", f"cannot delete default network ACL {acl.id}")
        if acl.spec["Associations"]:
            raise dependency("networkAcl", acl.id)
        self.store.delete(NETWORK_ACL, acl.id)
        return {}

    @operation("CreateNetworkAclEntry", resources=arns_for(NETWORK_ACLS, "NetworkAclId"))
    def create_network_acl_entry(self, ctx: RequestContext, params: dict) -> dict:
        acl = lookup(self.store, NETWORK_ACLS, ctx.account, params["NetworkAclId"])
        entry = parse_entry(params)
        if any(_same(e, entry["RuleNumber"], entry["Egress"]) for e in acl.spec["Entries"]):
            raise AwsError("NetworkAclEntryAlreadyExists",
                           f"The network acl entry identified by {entry['RuleNumber']} already exists.")
        self.store.update_spec(NETWORK_ACL, acl.id, lambda s: {**s, "Entries": s["Entries"] + [entry]})
        return {}

    @operation("ReplaceNetworkAclEntry", resources=arns_for(NETWORK_ACLS, "NetworkAclId"))
    def replace_network_acl_entry(self, ctx: RequestContext, params: dict) -> dict:
        acl = lookup(self.store, NETWORK_ACLS, ctx.account, params["NetworkAclId"])
        entry = parse_entry(params)
        if not any(_same(e, entry["RuleNumber"], entry["Egress"]) for e in acl.spec["Entries"]):
            raise _missing_entry(entry["RuleNumber"])
        self.store.update_spec(NETWORK_ACL, acl.id, lambda s: {**s, "Entries": [
            entry if _same(e, entry["RuleNumber"], entry["Egress"]) else e for e in s["Entries"]]})
        return {}

    @operation("DeleteNetworkAclEntry", resources=arns_for(NETWORK_ACLS, "NetworkAclId"))
    def delete_network_acl_entry(self, ctx: RequestContext, params: dict) -> dict:
        acl = lookup(self.store, NETWORK_ACLS, ctx.account, params["NetworkAclId"])
        number, egress = params["RuleNumber"], bool(params["Egress"])
        if not any(_same(e, number, egress) for e in acl.spec["Entries"]):
            raise _missing_entry(number)
        self.store.update_spec(NETWORK_ACL, acl.id, lambda s: {**s, "Entries": [
            e for e in s["Entries"] if not _same(e, number, egress)]})
        return {}

    @operation("ReplaceNetworkAclAssociation", resources=arns_for(NETWORK_ACLS, "NetworkAclId"))
    def replace_network_acl_association(self, ctx: RequestContext, params: dict) -> dict:
        target = lookup(self.store, NETWORK_ACLS, ctx.account, params["NetworkAclId"])
        association_id = params["AssociationId"]
        current = next((acl for acl in self.store.list(NETWORK_ACL, ctx.account)
                        if any(a["NetworkAclAssociationId"] == association_id for a in acl.spec["Associations"])),
                       None)
        if current is None:
            raise AwsError("InvalidAssociationID.NotFound", f"The association ID '{association_id}' does not exist")
        if current.spec["VpcId"] != target.spec["VpcId"]:
            raise AwsError("InvalidParameterValue",
                           f"Network ACL {target.id} belongs to a different network than the association")
        subnet_id = next(a["SubnetId"] for a in current.spec["Associations"]
                         if a["NetworkAclAssociationId"] == association_id)
        new_id = ids.new_id("network-acl-association")
        with self.store.transaction():
            self.store.update_spec(NETWORK_ACL, current.id, lambda s: {**s, "Associations": [
                a for a in s["Associations"] if a["NetworkAclAssociationId"] != association_id]})
            self.store.update_spec(NETWORK_ACL, target.id, lambda s: {**s, "Associations": s["Associations"] + [
                {"NetworkAclAssociationId": new_id, "SubnetId": subnet_id}]})
        return {"NewAssociationId": new_id}
