"""The IAM resource ARN each operation is authorised against (`@operation(resources=...)`).

ARNs are built from the request alone, so an entity created with a path is authorised by `user/<name>` (path
`/`) on later calls; policies that name `user/*` or `user/${aws:username}` behave as in AWS for path-less users.
"""

from __future__ import annotations

from runtime.api.context import RequestContext


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
