"""Small builders shared by the policy tests: documents as dicts, one-call decisions."""

from __future__ import annotations

import json

from runtime.iam.policy import Decision, Policy, RequestContext, evaluate, parse_policy

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app/worker"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s1"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def doc(*statements: dict, version: str | None = "2012-10-17") -> str:
    body: dict = {"Statement": list(statements)}
    if version is not None:
        body["Version"] = version
    return json.dumps(body)


def identity(*statements: dict, version: str | None = "2012-10-17") -> Policy:
    return parse_policy(doc(*statements, version=version), kind="identity")


def resource_policy(*statements: dict) -> Policy:
    return parse_policy(doc(*statements), kind="resource")


def stmt(effect: str = "Allow", action="*", resource="*", **extra) -> dict:
    body = {"Effect": effect, "Action": action, "Resource": resource}
    body.update(extra)
    return body


def request(action: str, resource: str = "*", principal: str = USER, keys: dict | None = None,
            **extra) -> RequestContext:
    context_keys = {"aws:PrincipalArn": principal, "aws:username": principal.rsplit("/", 1)[-1]}
    context_keys.update(keys or {})
    return RequestContext(principal, ACCOUNT, action, (resource,), context_keys, **extra)


def decide(policies: list[Policy], action: str, resource: str = "*", **kwargs) -> Decision:
    options = {k: kwargs.pop(k) for k in ("resource_policy", "session_policies", "permissions_boundary")
               if k in kwargs}
    return evaluate(request(action, resource, **kwargs), policies, **options)
