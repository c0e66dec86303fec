"""Security groups: the default group of each VPC (all inbound from itself, all outbound), custom groups (no
inbound, all outbound), rules by CIDR, IPv6 CIDR, prefix list or referenced group, each with its own `sgr-` id.

Rules are stored flat, one per (direction, protocol, ports, peer), which is what both `DescribeSecurityGroupRules`
and the host's per-ENI chains want; `IpPermissions` are grouped back from them for `DescribeSecurityGroups`.
"""

from __future__ import annotations

import ipaddress

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services._shared.filters import matches_filters
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.vpc.common import (NETWORK_INTERFACE, SECURITY_GROUP, SECURITY_GROUPS, VPC, VPCS, arns_for,
                                         lookup, lookup_many, paged, select, tag_list)
from runtime.state import Record, Store

MAX_RULES_PER_DIRECTION = 60
PROTOCOLS = {"-1": "-1", "all": "-1", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
             "icmpv6": "icmpv6", "58": "icmpv6"}
PEERS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")


def new_rule(egress: bool, protocol: str, peer: str, value: str, from_port=None, to_port=None,
             description: str | None = None) -> dict:
    rule = {"SecurityGroupRuleId": ids.new_id("security-group-rule"), "IsEgress": egress, "IpProtocol": protocol,
            peer: value}
    if from_port is not None:
        rule["FromPort"], rule["ToPort"] = from_port, to_port
    if description:
        rule["Description"] = description
    return rule


def create_group(store: Store, account: str, vpc: Record, name: str, description: str, *, default: bool,
                 tags: dict | None = None) -> Record:
    group_id = ids.new_id("security-group")
    rules = [new_rule(True, "-1", "CidrIpv4", "0.0.0.0/0")]
    if default:
        rules.insert(0, new_rule(False, "-1", "ReferencedGroupId", group_id))
    spec = {"GroupName": name, "Description": description, "VpcId": vpc.id, "IsDefault": default, "Rules": rules}
    return store.put(SECURITY_GROUP, group_id, account, spec, parent=vpc.id, tags=tags or {})


def default_group(store: Store, vpc_id: str) -> Record:
    return next(g for g in store.list(SECURITY_GROUP, where={"VpcId": vpc_id}) if g.spec["IsDefault"])


def peer_of(rule: dict) -> tuple[str, str]:
    return next((p, rule[p]) for p in PEERS if rule.get(p))


def identity(rule: dict) -> tuple:
    return (rule["IsEgress"], rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), *peer_of(rule))


def _ports(protocol: str, from_port, to_port) -> tuple[int | None, int | None]:
    if protocol in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise AwsError("InvalidParameterValue",
                           "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
        if not (0 <= from_port <= 65535 and 0 <= to_port <= 65535) or from_port > to_port:
            raise AwsError("InvalidParameterValue",
                           f"Invalid value for portRange. FromPort ({from_port}) must not be greater than ToPort "
                           f"({to_port}) and both must be 0-65535.")
        return from_port, to_port
    if protocol in ("icmp", "icmpv6"):
        icmp_type = -1 if from_port is None else from_port
        icmp_code = -1 if to_port is None else to_port
        if not (-1 <= icmp_type <= 255 and -1 <= icmp_code <= 255):
            raise AwsError("InvalidParameterValue", f"Invalid ICMP type {icmp_type} or code {icmp_code}")
        return icmp_type, icmp_code
    return None, None


def _protocol(raw) -> str:
    text = str(raw).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise AwsError("InvalidParameterValue", f"Invalid value '{raw}' for IP protocol. Unknown protocol.")


def _cidr(raw: str, v6: bool = False) -> str:
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError as exc:
        raise AwsError("InvalidParameterValue", f"CIDR block {raw} is malformed") from exc
    if (net.version == 6) != v6:
        raise AwsError("InvalidParameterValue", f"CIDR block {raw} is malformed")
    return str(net)


class SecurityGroupsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- lookups ---------------------------------------------------------------------------------

    def _default_vpc(self, account: str) -> Record | None:
        return next(iter(self.store.list(VPC, account, where={"IsDefault": True})), None)

    def _by_name(self, account: str, name: str) -> Record:
        vpc = self._default_vpc(account)
        found = [g for g in self.store.list(SECURITY_GROUP, account, where={"VpcId": vpc.id if vpc else None})
                 if g.spec["GroupName"] == name]
        if not found:
            where = f" in default VPC '{vpc.id}'" if vpc else ""
            raise AwsError("InvalidGroup.NotFound", f"The security group '{name}' does not exist{where}")
        return found[0]

    def _group(self, ctx: RequestContext, params: dict) -> Record:
        if params.get("GroupId"):
            return lookup(self.store, SECURITY_GROUPS, ctx.account, params["GroupId"])
        if params.get("GroupName"):
            return self._by_name(ctx.account, params["GroupName"])
        raise AwsError("MissingParameter", "The request must contain the parameter groupId")

    # --- groups ----------------------------------------------------------------------------------

    @operation("CreateSecurityGroup", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "security-group", "*")] + arns_for(VPCS, "VpcId")(ctx, p))
    def create_security_group(self, ctx: RequestContext, params: dict) -> dict:
        name, description = params["GroupName"], params["Description"]
        if not name or len(name) > 255 or name.lower().startswith("sg-"):
            raise AwsError("InvalidParameterValue",
                           f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the "
                           "format sg-*.")
        if not description or len(description) > 255:
            raise AwsError("InvalidParameterValue", "Value for parameter GroupDescription is invalid.")
        if params.get("VpcId"):
            vpc = lookup(self.store, VPCS, ctx.account, params["VpcId"])
        else:
            vpc = self._default_vpc(ctx.account)
            if vpc is None:
                raise AwsError("VPCIdNotSpecified", "No default VPC for this user")
        taken = {g.spec["GroupName"].lower() for g in self.store.list(SECURITY_GROUP, ctx.account,
                                                                        where={"VpcId": vpc.id})}
        if name.lower() in taken:
            raise AwsError("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC "
                                                     f"'{vpc.id}'")
        group = create_group(self.store, ctx.account, vpc, name, description, default=False,
                             tags=tags_from_specifications(params, "security-group"))
        return {"GroupId": group.id, "Tags": tag_list(group.tags),
                "SecurityGroupArn": arns.ec2_arn(ctx.region, ctx.account, "security-group", group.id)}

    def _fields(self):
        def perm(egress: bool, getter):
            return lambda r: [v for rule in r.spec["Rules"] if rule["IsEgress"] == egress
                              for v in [getter(rule)] if v is not None]
        fields = {"group-id": lambda r: r.id, "group-name": lambda r: r.spec["GroupName"],
                  "vpc-id": lambda r: r.spec["VpcId"], "description": lambda r: r.spec["Description"],
                  "owner-id": lambda r: r.account}
        for prefix, egress in (("ip-permission.", False), ("egress.ip-permission.", True)):
            fields.update({
                prefix + "cidr": perm(egress, lambda x: x.get("CidrIpv4")),
                prefix + "ipv6-cidr": perm(egress, lambda x: x.get("CidrIpv6")),
                prefix + "prefix-list-id": perm(egress, lambda x: x.get("PrefixListId")),
                prefix + "group-id": perm(egress, lambda x: x.get("ReferencedGroupId")),
                prefix + "protocol": perm(egress, lambda x: x["IpProtocol"]),
                prefix + "from-port": perm(egress, lambda x: x.get("FromPort")),
                prefix + "to-port": perm(egress, lambda x: x.get("ToPort")),
            })
        return fields

    def shape(self, group: Record, region: str) -> dict:
        return {"GroupId": group.id, "GroupName": group.spec["GroupName"], "Description": group.spec["Description"],
                "VpcId": group.spec["VpcId"], "OwnerId": group.account,
                "IpPermissions": self._permissions(group, False),
                "IpPermissionsEgress": self._permissions(group, True), "Tags": tag_list(group.tags),
                "SecurityGroupArn": arns.ec2_arn(region, group.account, "security-group", group.id)}

    def _permissions(self, group: Record, egress: bool) -> list[dict]:
        grouped: dict[tuple, dict] = {}
        for rule in group.spec["Rules"]:
            if rule["IsEgress"] != egress:
                continue
            key = (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))
            perm = grouped.setdefault(key, {"IpProtocol": rule["IpProtocol"], "IpRanges": [], "Ipv6Ranges": [],
                                            "PrefixListIds": [], "UserIdGroupPairs": []})
            if rule.get("FromPort") is not None:
                perm["FromPort"], perm["ToPort"] = rule["FromPort"], rule["ToPort"]
            extra = {"Description": rule["Description"]} if rule.get("Description") else {}
            if rule.get("CidrIpv4"):
                perm["IpRanges"].append({"CidrIp": rule["CidrIpv4"], **extra})
            elif rule.get("CidrIpv6"):
                perm["Ipv6Ranges"].append({"CidrIpv6": rule["CidrIpv6"], **extra})
            elif rule.get("PrefixListId"):
                perm["PrefixListIds"].append({"PrefixListId": rule["PrefixListId"], **extra})
            else:
                perm["UserIdGroupPairs"].append({"GroupId": rule["ReferencedGroupId"], "UserId": group.account,
                                                 **extra})
        return list(grouped.values())

    @operation("DescribeSecurityGroups", resources=arns_for(SECURITY_GROUPS, "GroupIds"))
    def describe_security_groups(self, ctx: RequestContext, params: dict) -> dict:
        records = lookup_many(self.store, SECURITY_GROUPS, ctx.account, params.get("GroupIds"))
        if params.get("GroupNames"):
            named = {self._by_name(ctx.account, n).id for n in params["GroupNames"]}
            records = [r for r in records if r.id in named]
        records = select(records, params, self._fields())
        return paged("SecurityGroups", [self.shape(r, ctx.region) for r in records], params)

    @operation("DeleteSecurityGroup", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def delete_security_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self._group(ctx, params)
        if group.spec["IsDefault"]:
            raise AwsError("CannotDelete", f'the specified group: "{group.id}" name: "default" cannot be deleted '
                                           "by a user")
        in_use = any(group.id in eni.spec["Groups"] for eni in self.store.list(NETWORK_INTERFACE, ctx.account))
        referenced = any(rule.get("ReferencedGroupId") == group.id
                         for other in self.store.list(SECURITY_GROUP, ctx.account) if other.id != group.id
                         for rule in other.spec["Rules"])
        if in_use or referenced:
            raise AwsError("DependencyViolation", f"resource {group.id} has a dependent object")
        self.store.delete(SECURITY_GROUP, group.id)
        return {"Return": True, "GroupId": group.id}

    # --- rules -----------------------------------------------------------------------------------

    def _expand(self, ctx: RequestContext, params: dict, egress: bool) -> list[dict]:
        permissions = list(params.get("IpPermissions") or [])
        if params.get("IpProtocol") or params.get("CidrIp"):
            legacy = {"IpProtocol": params.get("IpProtocol", "-1"), "FromPort": params.get("FromPort"),
                      "ToPort": params.get("ToPort")}
            if params.get("CidrIp"):
                legacy["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
            permissions.append(legacy)
        if params.get("SourceSecurityGroupName"):
            source = self._by_name(ctx.account, params["SourceSecurityGroupName"])
            permissions.append({"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": source.id}]})
        if not permissions:
            raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions")
        rules = []
        for perm in permissions:
            protocol = _protocol(perm.get("IpProtocol", "-1"))
            low, high = _ports(protocol, perm.get("FromPort"), perm.get("ToPort"))

            def add(peer: str, value: str, description: str | None) -> None:
                rules.append(new_rule(egress, protocol, peer, value, low, high, description))
            for item in perm.get("IpRanges") or []:
                add("CidrIpv4", _cidr(item.get("CidrIp", "")), item.get("Description"))
            for item in perm.get("Ipv6Ranges") or []:
                add("CidrIpv6", _cidr(item.get("CidrIpv6", ""), v6=True), item.get("Description"))
            for item in perm.get("PrefixListIds") or []:
                add("PrefixListId", item.get("PrefixListId", ""), item.get("Description"))
            for item in perm.get("UserIdGroupPairs") or []:
                if item.get("GroupId"):
                    peer = lookup(self.store, SECURITY_GROUPS, ctx.account, item["GroupId"])
                elif item.get("GroupName"):
                    peer = self._by_name(ctx.account, item["GroupName"])
                else:
                    raise AwsError("MissingParameter", "A UserIdGroupPair must name a GroupId")
                add("ReferencedGroupId", peer.id, item.get("Description"))
            if not any(perm.get(k) for k in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs")):
                raise AwsError("InvalidParameterValue",
                               "The request must specify a source or destination (CIDR, prefix list or group)")
        return rules

    def _authorize(self, ctx: RequestContext, params: dict, egress: bool) -> dict:
        group = self._group(ctx, params)
        rules = self._expand(ctx, params, egress)
        existing = {identity(r) for r in group.spec["Rules"]}
        seen: set[tuple] = set()
        for rule in rules:
            key = identity(rule)
            if key in existing or key in seen:
                peer, value = peer_of(rule)
                raise AwsError("InvalidPermission.Duplicate",
                               f'the specified rule "peer: {value}, {rule["IpProtocol"].upper()}, from port: '
                               f'{rule.get("FromPort")}, to port: {rule.get("ToPort")}, ALLOW" already exists')
            seen.add(key)
        same_direction = sum(1 for r in group.spec["Rules"] if r["IsEgress"] == egress)
        if same_direction + len(rules) > MAX_RULES_PER_DIRECTION:
            raise AwsError("RulesPerSecurityGroupLimitExceeded",
                           "The maximum number of rules per security group has been reached.")
        self.store.update_spec(SECURITY_GROUP, group.id, lambda s: {**s, "Rules": s["Rules"] + rules})
        return {"Return": True, "SecurityGroupRules": [self._rule_shape(ctx, group, r) for r in rules]}

    def _revoke(self, ctx: RequestContext, params: dict, egress: bool) -> dict:
        group = self._group(ctx, params)
        by_id = {r["SecurityGroupRuleId"]: r for r in group.spec["Rules"] if r["IsEgress"] == egress}
        doomed: list[str] = []
        for rule_id in params.get("SecurityGroupRuleIds") or []:
            if rule_id not in by_id:
                raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                               f"The security group rule ID '{rule_id}' does not exist")
            doomed.append(rule_id)
        if params.get("IpPermissions") or params.get("CidrIp") or params.get("IpProtocol") \
                or params.get("SourceSecurityGroupName"):
            by_identity = {identity(r): r["SecurityGroupRuleId"] for r in by_id.values()}
            for rule in self._expand(ctx, params, egress):
                if identity(rule) not in by_identity:
                    raise AwsError("InvalidPermission.NotFound",
                                   "The specified rule does not exist in this security group.")
                doomed.append(by_identity[identity(rule)])
        if not doomed:
            raise AwsError("MissingParameter", "The request must contain the parameter ipPermissions or "
                                               "securityGroupRuleIds")
        revoked = [{"GroupId": group.id, **by_id[i]} for i in dict.fromkeys(doomed)]
        self.store.update_spec(SECURITY_GROUP, group.id, lambda s: {**s, "Rules": [
            r for r in s["Rules"] if r["SecurityGroupRuleId"] not in doomed]})
        return {"Return": True, "RevokedSecurityGroupRules": revoked}

    @operation("AuthorizeSecurityGroupIngress", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def authorize_ingress(self, ctx: RequestContext, params: dict) -> dict:
        return self._authorize(ctx, params, False)

    @operation("AuthorizeSecurityGroupEgress", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def authorize_egress(self, ctx: RequestContext, params: dict) -> dict:
        return self._authorize(ctx, params, True)

    @operation("RevokeSecurityGroupIngress", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def revoke_ingress(self, ctx: RequestContext, params: dict) -> dict:
        return self._revoke(ctx, params, False)

    @operation("RevokeSecurityGroupEgress", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def revoke_egress(self, ctx: RequestContext, params: dict) -> dict:
        return self._revoke(ctx, params, True)

    def _rule_shape(self, ctx: RequestContext, group: Record, rule: dict) -> dict:
        item = {"SecurityGroupRuleId": rule["SecurityGroupRuleId"], "GroupId": group.id,
                "GroupOwnerId": group.account, "IsEgress": rule["IsEgress"], "IpProtocol": rule["IpProtocol"],
                "FromPort": -1 if rule.get("FromPort") is None else rule["FromPort"],
                "ToPort": -1 if rule.get("ToPort") is None else rule["ToPort"],
                "Tags": [], "SecurityGroupRuleArn": arns.ec2_arn(ctx.region, group.account, "security-group-rule",
                                                                 rule["SecurityGroupRuleId"])}
        for peer in ("CidrIpv4", "CidrIpv6", "PrefixListId", "Description"):
            if rule.get(peer):
                item[peer] = rule[peer]
        if rule.get("ReferencedGroupId"):
            item["ReferencedGroupInfo"] = {"GroupId": rule["ReferencedGroupId"], "UserId": group.account}
        return item

    @operation("DescribeSecurityGroupRules")
    def describe_security_group_rules(self, ctx: RequestContext, params: dict) -> dict:
        wanted = params.get("SecurityGroupRuleIds")
        rows = [(g, r) for g in self.store.list(SECURITY_GROUP, ctx.account) for r in g.spec["Rules"]]
        if wanted:
            known = {r["SecurityGroupRuleId"] for _, r in rows}
            for rule_id in wanted:
                if not rule_id.startswith("sgr-"):
                    raise AwsError("InvalidSecurityGroupRuleId.Malformed",
                                   f'Invalid id: "{rule_id}" (expecting "sgr-...")')
                if rule_id not in known:
                    raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                                   f"The security group rule ID '{rule_id}' does not exist")
            rows = [(g, r) for g, r in rows if r["SecurityGroupRuleId"] in wanted]
        fields = {"group-id": lambda row: row[0].id, "security-group-rule-id": lambda row: row[1]["SecurityGroupRuleId"]}
        rows = [row for row in rows if matches_filters(row, params.get("Filters"), fields, tags=lambda row: {})]
        return paged("SecurityGroupRules", [self._rule_shape(ctx, g, r) for g, r in rows], params)

    @operation("ModifySecurityGroupRules", resources=arns_for(SECURITY_GROUPS, "GroupId"))
    def modify_security_group_rules(self, ctx: RequestContext, params: dict) -> dict:
        group = lookup(self.store, SECURITY_GROUPS, ctx.account, params["GroupId"])
        rules = {r["SecurityGroupRuleId"]: dict(r) for r in group.spec["Rules"]}
        for update in params.get("SecurityGroupRules") or []:
            rule_id = update["SecurityGroupRuleId"]
            if rule_id not in rules:
                raise AwsError("InvalidSecurityGroupRuleId.NotFound",
                               f"The security group rule ID '{rule_id}' does not exist")
            wanted = update.get("SecurityGroupRule") or {}
            protocol = _protocol(wanted.get("IpProtocol", "-1"))
            low, high = _ports(protocol, wanted.get("FromPort"), wanted.get("ToPort"))
            peers = [p for p in PEERS if wanted.get(p)]
            if len(peers) != 1:
                raise AwsError("InvalidParameterValue", "A security group rule needs exactly one of CidrIpv4, "
                                                        "CidrIpv6, PrefixListId or ReferencedGroupId")
            value = wanted[peers[0]]
            if peers[0] == "ReferencedGroupId":
                lookup(self.store, SECURITY_GROUPS, ctx.account, value)
            elif peers[0] in ("CidrIpv4", "CidrIpv6"):
                value = _cidr(value, v6=peers[0] == "CidrIpv6")
            replaced = new_rule(rules[rule_id]["IsEgress"], protocol, peers[0], value, low, high,
                                wanted.get("Description"))
            replaced["SecurityGroupRuleId"] = rule_id
            if any(identity(r) == identity(replaced) for i, r in rules.items() if i != rule_id):
                raise AwsError("InvalidPermission.Duplicate", "The specified rule already exists")
            rules[rule_id] = replaced
        self.store.update_spec(SECURITY_GROUP, group.id, lambda s: {**s, "Rules": [
            rules[r["SecurityGroupRuleId"]] for r in s["Rules"]]})
        return {"Return": True}
