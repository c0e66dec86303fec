"""CreateTags / DeleteTags / DescribeTags for every EC2 resource Terrarium keeps (VPC objects, instances, key
pairs): the id prefix names the record kind, and each kind's own NotFound code answers for unknown ids.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns
from runtime.services._shared.filters import matches_filters
from runtime.services.vpc.common import (ADDRESSES, INSTANCES, INTERNET_GATEWAYS, NETWORK_ACLS, NETWORK_INTERFACES,
                                         ROUTE_TABLES, SECURITY_GROUPS, SUBNETS, VPCS, Resource, lookup, paged)
from runtime.state import Store

MAX_TAGS = 50
KEY_PAIRS = Resource("ec2.keypair", "key-pair", "InvalidKeyPairID", "key pair", "key-pair")
TAGGABLE: dict[str, tuple[Resource, str]] = {
    "vpc": (VPCS, "vpc"), "subnet": (SUBNETS, "subnet"), "rtb": (ROUTE_TABLES, "route-table"),
    "igw": (INTERNET_GATEWAYS, "internet-gateway"), "acl": (NETWORK_ACLS, "network-acl"),
    "sg": (SECURITY_GROUPS, "security-group"), "eni": (NETWORK_INTERFACES, "network-interface"),
    "eipalloc": (ADDRESSES, "elastic-ip"), "i": (INSTANCES, "instance"), "key": (KEY_PAIRS, "key-pair"),
}


def _resource(resource_id: str) -> tuple[Resource, str]:
    prefix = resource_id.rpartition("-")[0]
    if prefix not in TAGGABLE:
        raise AwsError("InvalidID", f"The ID '{resource_id}' is not valid")
    return TAGGABLE[prefix]


def _tagged_arns(ctx: RequestContext, params: dict) -> list[str]:
    found = []
    for resource_id in params.get("Resources") or []:
        entry = TAGGABLE.get(resource_id.rpartition("-")[0])
        found.append(arns.ec2_arn(ctx.region, ctx.account, entry[0].arn_type if entry else "*", resource_id))
    return found or ["*"]


class TagsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _records(self, ctx: RequestContext, resource_ids: list[str]):
        return [lookup(self.store, _resource(r)[0], ctx.account, r) for r in resource_ids]

    @operation("CreateTags", resources=_tagged_arns)
    def create_tags(self, ctx: RequestContext, params: dict) -> dict:
        tags = {}
        for tag in params.get("Tags") or []:
            key = tag.get("Key") or ""
            if not key or len(key) > 127:
                raise AwsError("InvalidParameterValue", f"Tag key '{key}' is invalid")
            if key.lower().startswith("aws:"):
                raise AwsError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
            if len(tag.get("Value") or "") > 255:
                raise AwsError("InvalidParameterValue", f"Tag value for key '{key}' is longer than 255 characters")
            tags[key] = tag.get("Value") or ""
        records = self._records(ctx, params["Resources"])
        for record in records:
            if len({**record.tags, **tags}) > MAX_TAGS:
                raise AwsError("TagLimitExceeded", f"The maximum number of tags per resource is {MAX_TAGS}")
        with self.store.transaction():
            for record in records:
                self.store.set_tags(record.kind, record.id, tags)
        return {}

    @operation("DeleteTags", resources=_tagged_arns)
    def delete_tags(self, ctx: RequestContext, params: dict) -> dict:
        records = self._records(ctx, params["Resources"])
        with self.store.transaction():
            for record in records:
                wanted = params.get("Tags")
                if not wanted:
                    keys = list(record.tags)
                else:
                    keys = [t["Key"] for t in wanted
                            if t.get("Key") in record.tags and ("Value" not in t or t["Value"] == record.tags[t["Key"]])]
                self.store.delete_tags(record.kind, record.id, keys)
        return {}

    @operation("DescribeTags")
    def describe_tags(self, ctx: RequestContext, params: dict) -> dict:
        rows = []
        for resource, resource_type in TAGGABLE.values():
            for record in self.store.list(resource.kind, ctx.account):
                for key, value in sorted(record.tags.items()):
                    rows.append({"ResourceId": record.id, "ResourceType": resource_type, "Key": key, "Value": value})
        fields = {"key": lambda r: r["Key"], "value": lambda r: r["Value"], "resource-id": lambda r: r["ResourceId"],
                  "resource-type": lambda r: r["ResourceType"]}
        rows = [r for r in rows if matches_filters(r, params.get("Filters"), fields)]
        return paged("Tags", rows, params)
