"""Who may do what to a bucket: identity policies, bucket policies, anonymous access, Block Public Access.

`S3Access` wraps the gateway's policy authorizer. For IAM users and roles it defers to it, with the bucket
policy registered as S3's resource policy. Two cases the generic authorizer leaves open are S3's own:
- anonymous callers are allowed only what the bucket policy grants to `*`, and nothing at all when the
  bucket's Block Public Access has `RestrictPublicBuckets`;
- the account root is subject to explicit denies in a bucket policy (except managing the policy itself,
  so an owner can never lock themselves out).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from runtime.api.context import RequestContext
from runtime.api.dispatch import BoundOperation
from runtime.api.gateway import Authorizer, Denial
from runtime.iam import policy as engine
from runtime.iam.authorizer import global_keys, parsed
from runtime.iam.policy import Decision, MalformedPolicy
from runtime.services.s3.records import find_bucket
from runtime.state import Store

_POLICY_OPS = {"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"}


def bucket_of(resource_arn: str) -> str:
    return resource_arn.removeprefix("arn:aws:s3:::").split("/", 1)[0]


def is_public_policy(text: str) -> bool:
    """A policy is public when an Allow names `*` (or `{"AWS": "*"}`) without a narrowing condition."""
    try:
        document = json.loads(text)
    except ValueError:
        return False
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow" or statement.get("Condition"):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))):
            return True
    return False


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


class S3Access:
    def __init__(self, store: Store, inner: Authorizer, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.inner = inner
        self.clock = clock

    def read_check(self, get_object: BoundOperation):
        """`ObjectsProvider.read_check`: may this caller read `bucket/key` (a copy source)?"""
        async def check(ctx: RequestContext, bucket: str, key: str) -> Denial | None:
            return await self(ctx, get_object, {"Bucket": bucket, "Key": key})
        return check

    def bucket_policy(self, ctx: RequestContext, resource_arn: str) -> str | None:
        """The resource-policy lookup for the IAM authorizer."""
        record = find_bucket(self.store, bucket_of(resource_arn), ctx.extras)
        return None if record is None else record.spec.get("policy")

    async def __call__(self, ctx: RequestContext, op: BoundOperation, params: dict) -> Denial | None:
        if ctx.service != "s3":
            return await self.inner(ctx, op, params)
        kind = ctx.principal.kind
        if kind == "anonymous":
            return self._policy_decision(ctx, op, params, anonymous=True)
        denial = await self.inner(ctx, op, params)
        if denial is None and ctx.principal.is_root and op.spec.name not in _POLICY_OPS:
            return self._policy_decision(ctx, op, params, anonymous=False)
        return denial

    def _policy_decision(self, ctx: RequestContext, op: BoundOperation, params: dict, *,
                         anonymous: bool) -> Denial | None:
        resources = op.resources(ctx, params)
        principal = "anonymous" if anonymous else ctx.principal.arn
        for resource in resources:
            record = find_bucket(self.store, bucket_of(resource), ctx.extras) if resource != "*" else None
            text = None if record is None else record.spec.get("policy")
            if anonymous and (text is None or (record.spec.get("public_access_block") or {}).get(
                    "RestrictPublicBuckets")):
                return Denial(principal, op.action, resource, explicit=False)
            if text is None:
                continue
            try:
                policy = parsed(text, "resource")
            except MalformedPolicy:
                continue
            keys = global_keys(ctx, principal, self.clock())
            keys.update(op.condition_keys(ctx, params))
            request = engine.RequestContext(principal, ctx.principal.account, op.action, (resource,), keys)
            decision = engine.evaluate(request, [], policy)
            if decision is Decision.EXPLICIT_DENY or (anonymous and decision is not Decision.ALLOW):
                return Denial(principal, op.action, resource, explicit=decision is Decision.EXPLICIT_DENY)
        return None
