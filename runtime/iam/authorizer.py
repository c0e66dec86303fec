"""The gateway's `Authorizer`: every authenticated call is decided by the policy engine before its provider runs.

For a call it builds the engine's `RequestContext` (action from the bound operation, resources from its
`resources()` function, the global condition keys plus the operation's `condition_keys()`), asks a
`PolicySource` for the caller's policies (identity policies; session policies for a role session; a
permissions boundary), finds the resource policy of each resource if the service has one, and evaluates.

Fixed rules, as AWS has them: the root user is always allowed; `sts:GetCallerIdentity` is never denied;
credentials from GetSessionToken cannot call IAM, nor STS other than AssumeRole and GetCallerIdentity.

Resource policies (S3 bucket policies, Lambda function policies, role trust policies) plug in either way:
- the provider object that implements the operation defines `resource_policy(ctx, resource_arn)`, or
- a lookup is registered per service: `authorizer.register_resource_policies("s3", lookup)`.
Both return the policy document (JSON text or a parsed `Policy`) governing `resource_arn`, or None.

A provider may also rewrite the ARNs its `resources()` functions built from the request before they are
decided, `resolve_resources(ctx, arns) -> arns` (IAM puts back the stored entity's path).

Operations that need a second permission (RunInstances with an instance profile, CreateFunction with a role:
`iam:PassRole` on the role) declare it through the provider: `required_actions(ctx, operation_name, params)`
returns `(action, resource_arn, extra_condition_keys)` tuples, each decided like the operation's own action.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from runtime.api.context import Credential, RequestContext
from runtime.api.dispatch import BoundOperation
from runtime.api.gateway import Denial
from runtime.iam import policy as engine
from runtime.iam.policy import Decision, MalformedPolicy, Policy, PolicyKind

LOG = logging.getLogger(__name__)

ResourcePolicyLookup = Callable[[RequestContext, str], "str | Policy | None"]
RequiredAction = tuple[str, str, dict]  # (action, resource ARN, extra condition keys), e.g. iam:PassRole
_SESSION_TOKEN_STS = {"sts:AssumeRole", "sts:GetCallerIdentity"}
_PRINCIPAL_TYPES = {"user": "User", "assumed-role": "AssumedRole", "root": "Account"}


@dataclass(frozen=True)
class PrincipalPolicies:
    """Everything the engine needs about a caller besides the request.

    `principal_arn` is `aws:PrincipalArn` (for a role session: the role's ARN, path included); `session` is
    None when the credentials carry no session policy (an empty tuple would deny everything);
    `session_token` marks GetSessionToken credentials.
    """

    principal_arn: str
    identity: tuple[Policy, ...]
    session: tuple[Policy, ...] | None = None
    boundary: Policy | None = None
    session_token: bool = False


class PolicySource(Protocol):
    def policies_for(self, credential: Credential) -> PrincipalPolicies: ...


class CredentialUse(Protocol):
    def record_use(self, credential: Credential, service: str, region: str) -> None: ...


_PARSED: dict[tuple[str, str], Policy] = {}
_PARSED_LIMIT = 4096


def parsed(text: str, kind: PolicyKind) -> Policy:
    """`parse_policy` with a cache: stored documents are valid, so each is parsed once per process."""
    key = (kind, text)
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        found = _PARSED[key] = engine.parse_policy(text, kind=kind)
    return found


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def global_keys(ctx: RequestContext, principal_arn: str, now: float) -> dict:
    """The global condition keys AWS sets on every request of this caller."""
    principal = ctx.principal
    keys = {"aws:SourceIp": ctx.source_ip, "aws:CurrentTime": iso_time(now), "aws:EpochTime": int(now),
            "aws:SecureTransport": ctx.secure, "aws:RequestedRegion": ctx.region, "aws:PrincipalArn": principal_arn,
            "aws:PrincipalAccount": principal.account, "aws:userid": principal.user_id,
            "aws:PrincipalType": _PRINCIPAL_TYPES.get(principal.kind, principal.kind)}
    if principal.kind == "user":
        keys["aws:username"] = principal.name
    if ctx.credential is not None and ctx.credential.session_token is not None:
        keys["aws:MultiFactorAuthPresent"] = False  # absent for long-term keys, false for sessions without MFA
    return keys


class PolicyAuthorizer:
    """`Authorizer` for the gateway (an async callable); see the module docstring for the rules."""

    def __init__(self, source: PolicySource, *, usage: CredentialUse | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.usage = usage
        self.clock = clock
        self._resource_policies: dict[str, ResourcePolicyLookup] = {}

    def register_resource_policies(self, service: str, lookup: ResourcePolicyLookup) -> None:
        """Let `service`'s resources carry resource policies: `lookup(ctx, resource_arn)` -> document or None."""
        self._resource_policies[service] = lookup

    async def __call__(self, ctx: RequestContext, op: BoundOperation, params: dict) -> Denial | None:
        credential = ctx.credential
        if credential is not None and self.usage is not None:
            self.usage.record_use(credential, ctx.service, ctx.region)
        principal = ctx.principal
        if principal.is_root or principal.kind == "anonymous" or credential is None:
            return None
        action = op.action
        if action == "sts:GetCallerIdentity":
            return None
        policies = self.source.policies_for(credential)
        provider = getattr(op.handler, "__self__", None)
        resources = op.resources(ctx, params) or ["*"]
        if resolve := getattr(provider, "resolve_resources", None):
            resources = resolve(ctx, resources)
        if policies.session_token and (ctx.service == "iam" or (ctx.service == "sts"
                                                                and action not in _SESSION_TOKEN_STS)):
            return self._deny(principal.arn, action, resources[0], explicit=False)
        base = global_keys(ctx, policies.principal_arn, self.clock())
        keys = {**base, **op.condition_keys(ctx, params)}
        lookup = self._lookup_for(ctx.service, op)
        for resource in resources:
            denial = self._decide(ctx, policies, action, resource, keys, self._resource_policy(lookup, ctx, resource))
            if denial is not None:
                return denial
        required = getattr(provider, "required_actions", None)
        for extra_action, resource, extra_keys in (required(ctx, op.spec.name, params) if required else ()):
            denial = self._decide(ctx, policies, extra_action, resource, {**base, **extra_keys}, None)
            if denial is not None:
                return denial
        return None

    def _decide(self, ctx: RequestContext, policies: PrincipalPolicies, action: str, resource: str, keys: dict,
                resource_policy: Policy | None) -> Denial | None:
        principal = ctx.principal
        request = engine.RequestContext(principal.arn, principal.account, action, (resource,), keys)
        decision = engine.evaluate(request, policies.identity, resource_policy, policies.session, policies.boundary)
        if decision is Decision.ALLOW:
            return None
        return self._deny(principal.arn, action, resource, explicit=decision is Decision.EXPLICIT_DENY)

    def _lookup_for(self, service: str, op: BoundOperation) -> ResourcePolicyLookup | None:
        lookup = self._resource_policies.get(service)
        if lookup is None:
            lookup = getattr(getattr(op.handler, "__self__", None), "resource_policy", None)
        return lookup

    @staticmethod
    def _resource_policy(lookup: ResourcePolicyLookup | None, ctx: RequestContext, resource: str) -> Policy | None:
        if lookup is None:
            return None
        document = lookup(ctx, resource)
        if document is None or isinstance(document, Policy):
            return document
        try:
            return parsed(document, "resource")
        except MalformedPolicy:
            LOG.warning("ignoring the unparseable resource policy of %s", resource)
            return None

    @staticmethod
    def _deny(principal_arn: str, action: str, resource: str, *, explicit: bool) -> Denial:
        LOG.info("denied %s: %s on %s (%s deny)", principal_arn, action, resource,
                 "explicit" if explicit else "implicit")
        return Denial(principal_arn, action, resource, explicit)
