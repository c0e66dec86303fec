"""The IAM resource ARN each operation is authorised against (`@operation(resources=...)`).

The functions build ARNs from the request alone, with path `/` unless the request carries a `Path`; the
authorizer then asks the provider's `resolve_resources` (`PathResolver`) to replace them with the stored
entity's real ARN, so a policy naming `user/engineering/*` matches an existing user under that path.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.services._shared.arns import parse_iam_arn

_KINDS = {"user": "iam.user", "group": "iam.group", "role": "iam.role", "instance-profile": "iam.instanceprofile",
          "policy": "iam.policy"}


def _arn(ctx: RequestContext, kind: str, name: str | None, path: str | None = None) -> str:
    return f"arn:aws:iam::{ctx.account}:{kind}{path or '/'}{name}"


def user(ctx: RequestContext, params: dict) -> list[str]:
    name = params.get("UserName") or (ctx.principal.name if ctx.principal.kind == "user" else None)
    if name is None:
        return [ctx.principal.arn]
    return [_arn(ctx, "user", name, params.get("Path"))]


def group(ctx: RequestContext, params: dict) -> list[str]:
    return [_arn(ctx, "group", params["GroupName"], params.get("Path"))]



def role(ctx: RequestContext, params: dict) -> list[str]:
    return [_arn(ctx, "role", params["RoleName"], params.get("Path"))]


def policy(ctx: RequestContext, params: dict) -> list[str]:
    if "PolicyArn" in params:
        return [params["PolicyArn"]]
    return [_arn(ctx, "policy", params["PolicyName"], params.get("Path"))]


def instance_profile(ctx: RequestContext, params: dict) -> list[str]:
    return [_arn(ctx, "instance-profile", params["InstanceProfileName"], params.get("Path"))]


def source(ctx: RequestContext, params: dict) -> list[str]:
    return [params["PolicySourceArn"]]


def anything(ctx: RequestContext, params: dict) -> list[str]:
    return ["*"]


def request_tags(ctx: RequestContext, params: dict) -> dict:
    """`aws:RequestTag/<key>` and `aws:TagKeys` of a request that creates or tags an entity (tag-based control)."""
    tags = params.get("Tags") or []
    keys: dict = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in tags}
    tag_keys = [t["Key"] for t in tags] or params.get("TagKeys") or []
    if tag_keys:
        keys["aws:TagKeys"] = list(tag_keys)
    return keys


class PathResolver:
    """Mixin for IAM providers (which have `self.store`): existing entities' ARNs with their real paths."""

    def resolve_resources(self, ctx: RequestContext, resources: list[str]) -> list[str]:
        return [self._stored_arn(ctx, arn) for arn in resources]

    def _stored_arn(self, ctx: RequestContext, arn: str) -> str:
        try:
            resource = parse_iam_arn(arn)
        except ValueError:
            return arn
        kind = _KINDS.get(resource.resource_type)
        if kind is None or resource.account != ctx.account or resource.path != "/":
            return arn
        record = self.store.find(kind, ctx.account, resource.name.lower())
        return record.spec["Arn"] if record is not None else arn
