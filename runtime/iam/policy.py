"""The one policy evaluation engine: parse and validate policy documents, decide requests.

Every service asks this module, through the gateway, whether a call is allowed. The decision follows the IAM
User Guide's single-account evaluation logic:

1. the account root user is always allowed;
2. an applicable `Deny` in any policy (identity, resource, session, permissions boundary) is an explicit deny;
3. otherwise the request is allowed when
   * the resource policy allows the caller *directly* (its user ARN, its role-session ARN, or `*`), or
   * an identity policy allows it, or the resource policy allows the caller's *role* ARN, and in either case
     the permissions boundary (if any) and the session policies (if any) allow it as well;
4. otherwise it is implicitly denied.

A resource policy naming the caller's account (`"AWS": "123456789012"` or `...:root`) delegates to the
account: its Allow grants nothing by itself (identity policies must allow), its Deny applies to everyone in the
account. `NotPrincipal` exempts the caller only if every identity in its chain (session, role, account) is
listed, and never exempts a principal that has a permissions boundary (both AWS-documented).

Policies are immutable, parsed once, and cheap to evaluate: compiled wildcard patterns are cached by text.
A request naming several resources is decided per resource; the worst decision wins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from runtime.iam import conditions as cond
from runtime.iam import matching

PolicyKind = Literal["identity", "resource", "trust"]

VERSION_CURRENT = "2012-10-17"
VERSION_LEGACY = "2008-10-17"

# Size quotas in characters, whitespace not counted (IAM quotas page); callers answer LimitExceeded
# ("Cannot exceed quota for PolicySize: 6144") when `policy_size(text)` is over the relevant one. `managed`
# is per policy (version); the inline quotas cap the sum of all inline policies of one user, group or role;
# `trust` is the default role trust policy quota (raisable to 4096 in AWS); `session` is per AssumeRole call.
SIZE_QUOTAS = {
    "managed": 6144,
    "user_inline": 2048,
    "group_inline": 5120,
    "role_inline": 10240,
    "trust": 2048,
    "session": 2048,
}

_TOP_ELEMENTS = {"Version", "Id", "Statement"}
_STATEMENT_ELEMENTS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                       "NotResource", "Condition"}
_PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
# The only actions a role trust policy may name (wildcards included are refused).
_TRUST_ACTIONS = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession",
                  "sts:setsourceidentity", "sts:setcontext"}
_ACTION = re.compile(r"^[A-Za-z0-9*?-]+:[^:]*$")
_SID = re.compile(r"^[0-9A-Za-z]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
# Groups are not principals; wildcards are refused separately.
_AWS_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam::\d{12}:(root|user/.+|role/.+)"
                                r"|sts::\d{12}:(assumed-role/[^/]+/.+|federated-user/.+))$")


class MalformedPolicy(ValueError):
    """A document IAM would reject; `str(error)` is the MalformedPolicyDocument message."""


class Decision(Enum):
    ALLOW = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


@dataclass(frozen=True, slots=True)
class Principals:
    """The Principal/NotPrincipal element, normalised: account ids become `arn:aws:iam::<id>:root`.

    `anyone` is `"*"` (every principal, services included); `any_aws` is `{"AWS": "*"}` (every AWS identity).
    """

    anyone: bool
    any_aws: bool
    entries: frozenset[tuple[str, str]]  # (type, value), e.g. ("AWS", "arn:aws:iam::1:user/a")


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    sid: str | None
    allow: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None when the element is absent (trust policies)
    not_resource: bool
    principals: Principals | None
    not_principal: bool
    conditions: tuple[cond.Condition, ...]
    # Derived at parse time for speed: all Action patterns as one regex; the same for Resource when the
    # patterns need no per-request variable substitution (None: render per request).
    action_re: re.Pattern[str] = field(compare=False, repr=False, default=None)
    resource_re: re.Pattern[str] | None = field(compare=False, repr=False, default=None)
    services: frozenset[str] | None = field(compare=False, repr=False, default=None)  # None: any service
    # Where the statement sits in the document text: (start line, start column, end line, end column), 1-based.
    span: tuple[int, int, int, int] | None = field(compare=False, repr=False, default=None)


@dataclass(frozen=True, slots=True)
class Policy:
    kind: PolicyKind
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]
    source_id: str = ""
    source_type: str = ""
    # Statements that can apply to an action of a given service (lower-case), in document order; statements
    # whose Action names no particular service are in every entry and in `any_service`.
    by_service: Mapping[str, tuple[Statement, ...]] = field(compare=False, repr=False, default_factory=dict)
    any_service: tuple[Statement, ...] = field(compare=False, repr=False, default=())

    @property
    def variables_enabled(self) -> bool:
        return self.version == VERSION_CURRENT

    def candidates(self, action: str) -> tuple[Statement, ...]:
        """The statements whose Action/NotAction could match `action` (a cheap pre-filter)."""
        return self.by_service.get(action.split(":", 1)[0].lower(), self.any_service)

    def with_source(self, source_id: str, source_type: str = "") -> Policy:
        """The same policy labelled for simulation results (e.g. policy name and `user`/`aws-managed`)."""
        return replace(self, source_id=source_id, source_type=source_type)


# ---------------------------------------------------------------- parsing


def policy_size(text: str) -> int:
    """Length as IAM's size quotas count it: whitespace excluded."""
    return sum(1 for char in text if not char.isspace())


def parse_policy(text: str, *, kind: PolicyKind, require_current_version: bool = False) -> Policy:
    """Parse and validate a policy document; raises MalformedPolicy with IAM's message.

    Managed policies (CreatePolicy, CreatePolicyVersion) must say Version 2012-10-17: pass
    `require_current_version=True` there. Inline and trust policies may omit it (2008 semantics).
    """
    syntax = MalformedPolicy("Syntax errors in policy.")
    if not isinstance(text, str):
        raise syntax
    try:
        document = json.loads(text)
    except (TypeError, ValueError, RecursionError) as error:
        raise syntax from error
    if not isinstance(document, dict) or not set(document) <= _TOP_ELEMENTS or "Statement" not in document:
        raise syntax
    version = document.get("Version")
    if version is not None and version not in (VERSION_CURRENT, VERSION_LEGACY):
        raise syntax
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise syntax
    if require_current_version and version != VERSION_CURRENT:
        raise MalformedPolicy("Policy document must be version 2012-10-17 or greater.")
    raw = document["Statement"]
    raw_statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw_statements, list) or not raw_statements:
        raise syntax
    statements = tuple(_parse_statement(index, item, kind) for index, item in enumerate(raw_statements))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
    spans = _statement_spans(text)
    statements = tuple(_compiled(s, version == VERSION_CURRENT, spans[s.index] if len(spans) == len(statements)
                                 else None) for s in statements)
    services = sorted({service for s in statements for service in s.services or ()})
    by_service = {service: tuple(s for s in statements if s.services is None or service in s.services)
                  for service in services}
    any_service = tuple(s for s in statements if s.services is None)
    return Policy(kind, version, policy_id, statements, by_service=by_service, any_service=any_service)


def _compiled(statement: Statement, variables: bool, span: tuple[int, int, int, int] | None) -> Statement:
    services: frozenset[str] | None = None
    if not statement.not_action:
        prefixes = {action.split(":", 1)[0].lower() for action in statement.actions}
        if not any(prefix == "*" or "*" in prefix or "?" in prefix for prefix in prefixes):
            services = frozenset(prefixes)
    resource_re = None
    if statement.resources is not None and not (variables and any(map(matching.has_variables,
                                                                        statement.resources))):
        resource_re = matching.compile_any(statement.resources, "resource")
    return replace(statement, action_re=matching.compile_any(statement.actions, "action"),
                   resource_re=resource_re, services=services, span=span)


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _statement_spans(text: str) -> list[tuple[int, int, int, int]]:
    """Line/column extent of each statement, for SimulatePrincipalPolicy's Start/EndPosition.

    Walks the already-validated top-level object with the JSON decoder's own scanner, so offsets are exact.
    """
    decoder = json.JSONDecoder()
    offsets: list[tuple[int, int]] = []

    def skip(at: int) -> int:
        return _WHITESPACE.match(text, at).end()

    at = skip(0) + 1  # past "{"
    while text[skip(at)] != "}":
        key, at = decoder.raw_decode(text, skip(at))
        start = skip(skip(at) + 1)  # past ":"
        value, at = decoder.raw_decode(text, start)
        if key == "Statement":
            offsets = [(start, at)] if isinstance(value, dict) else _element_offsets(decoder, text, start, skip)
        at = skip(at)
        at += text[at] == ","
    return [(*_line_column(text, begin), *_line_column(text, end - 1)) for begin, end in offsets]


def _element_offsets(decoder: json.JSONDecoder, text: str, at: int, skip) -> list[tuple[int, int]]:
    offsets = []
    at = skip(at + 1)  # past "["
    while text[at] != "]":
        _, end = decoder.raw_decode(text, at)
        offsets.append((at, end))
        at = skip(end)
        at = skip(at + (text[at] == ","))
    return offsets


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _strings(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise MalformedPolicy("Syntax errors in policy.")
    return tuple(items)


def _parse_statement(index: int, raw: object, kind: PolicyKind) -> Statement:
    syntax = MalformedPolicy("Syntax errors in policy.")
    if not isinstance(raw, dict) or not set(raw) <= _STATEMENT_ELEMENTS:
        raise syntax
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if one in raw and other in raw:
            raise syntax
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise syntax
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise syntax
    if sid and kind != "resource" and not _SID.match(sid):
        raise MalformedPolicy("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                              "regular expression [0-9A-Za-z]*")
    action_key = "NotAction" if "NotAction" in raw else "Action"
    actions = _strings(raw[action_key]) if action_key in raw else ()
    if not actions:
        raise MalformedPolicy("Policy statement must contain actions.")
    for action in actions:
        _validate_action(action)
    if kind == "trust" and any(action.lower() not in _TRUST_ACTIONS for action in actions):
        raise MalformedPolicy("AssumeRole policy may only specify STS AssumeRole actions.")
    resource_key = "NotResource" if "NotResource" in raw else "Resource"
    resources = _strings(raw[resource_key]) if resource_key in raw else None
    if kind == "trust" and resources is not None:
        raise MalformedPolicy(f"Has prohibited field {resource_key}.")
    if kind != "trust":
        if not resources:
            raise MalformedPolicy("Policy statement must contain resources.")
        for resource in resources:
            if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
                raise MalformedPolicy(f'Resource {resource} must be in ARN format or "*".')
    principal_key = "NotPrincipal" if "NotPrincipal" in raw else "Principal"
    principals = _parse_principals(raw[principal_key]) if principal_key in raw else None
    if kind == "identity" and principals is not None:
        raise MalformedPolicy("Policy document should not specify a principal.")
    if kind != "identity" and principals is None:
        raise MalformedPolicy("Missing required field Principal.")
    try:
        conditions = cond.parse_block(raw["Condition"]) if "Condition" in raw else ()
    except ValueError as error:
        raise syntax from error
    return Statement(index, sid, effect == "Allow", actions, action_key == "NotAction", resources,
                     resource_key == "NotResource", principals, principal_key == "NotPrincipal", conditions)


def _validate_action(action: str) -> None:
    if action == "*":
        return
    if ":" not in action:
        raise MalformedPolicy("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if action.count(":") > 1:
        raise MalformedPolicy("Actions/Condition can contain only one colon.")
    if not _ACTION.match(action):
        raise MalformedPolicy(f"Vendor {action.split(':', 1)[0]} is not valid")


def _parse_principals(raw: object) -> Principals:
    if raw == "*":
        return Principals(True, False, frozenset())
    if not isinstance(raw, dict) or not raw:
        raise MalformedPolicy(f"Invalid principal in policy: {json.dumps(raw)}")
    entries: set[tuple[str, str]] = set()
    any_aws = False
    for kind, values in raw.items():
        if kind not in _PRINCIPAL_TYPES:
            raise MalformedPolicy(f'Invalid principal in policy: "{kind}"')
        for value in _strings(values):
            if kind == "AWS":
                if value == "*":
                    any_aws = True
                    continue
                if _ACCOUNT.match(value):
                    value = f"arn:aws:iam::{value}:root"
                elif not _AWS_PRINCIPAL_ARN.match(value) or "*" in value or "?" in value:
                    raise MalformedPolicy(f'Invalid principal in policy: "AWS":"{value}"')
            elif not value:
                raise MalformedPolicy(f'Invalid principal in policy: "{kind}":""')
            entries.add((kind, value))
    return Principals(False, any_aws, frozenset(entries))


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class RequestContext:
    """What the gateway knows about one call.

    `principal_arn` is the caller's own ARN (user, `assumed-role/...` session, root) or, for a call made by an
    AWS service, the service principal name (`s3.amazonaws.com`). `keys` holds the condition keys (names in
    any case) as AWS sets them: `aws:PrincipalArn` (for a role session: the role's ARN, which is how a resource
    policy naming the role matches its sessions), `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`,
    `aws:username` (IAM users only), `aws:SourceIp`, `aws:CurrentTime` (ISO 8601), `aws:EpochTime`,
    `aws:SecureTransport` (bool), `aws:RequestedRegion`, plus the service's own keys. Lists are multi-valued
    keys; an absent key is simply not in the mapping (or None).
    """

    principal_arn: str
    account_id: str
    action: str
    resources: tuple[str, ...]
    keys: Mapping[str, str | list[str] | bool | int] = field(default_factory=dict)
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class _Caller:
    kind: str                # "AWS", or "Service"/"Federated"/"CanonicalUser" for other principal types
    own: str                 # the caller's ARN, or its service / provider name
    role: str | None         # the role behind a role session (aws:PrincipalArn), when it differs
    account: str | None      # arn:aws:iam::<account>:root for AWS principals

    @property
    def chain(self) -> tuple[str, ...]:
        """Every identity the caller acts as, for NotPrincipal: session, role, account."""
        return tuple(identity for identity in (self.own, self.role, self.account) if identity)


def _caller(principal: str, account_id: str | None, keys: Mapping[str, object], kind: str | None = None) -> _Caller:
    if kind in (None, "AWS") and _ACCOUNT.match(principal):
        principal = f"arn:aws:iam::{principal}:root"
    if kind not in (None, "AWS") or not principal.startswith("arn:"):
        return _Caller(kind or "Service", principal, None, None)
    role = keys.get("aws:principalarn")
    role = role if isinstance(role, str) and role != principal else None
    fields = principal.split(":")
    account = account_id or (fields[4] if len(fields) > 4 else "")
    return _Caller("AWS", principal, role, f"arn:aws:iam::{account}:root" if account else None)


# Principal match strength, weakest first: a resource policy grants by itself only on DIRECT.
_NONE, _ACCOUNT_MATCH, _ROLE, _DIRECT = 0, 1, 2, 3


def _listed(principals: Principals, caller: _Caller) -> set[str]:
    if caller.kind == "Service":  # service principal names are compared case-insensitively
        return {value.lower() for kind, value in principals.entries if kind == "Service"}
    return {value for kind, value in principals.entries if kind == caller.kind}


def _own(caller: _Caller) -> str:
    return caller.own.lower() if caller.kind == "Service" else caller.own


def _principal_strength(principals: Principals, caller: _Caller) -> int:
    if principals.anyone or (principals.any_aws and caller.kind == "AWS"):
        return _DIRECT
    listed = _listed(principals, caller)
    if _own(caller) in listed:
        return _DIRECT
    if caller.role is not None and caller.role in listed:
        return _ROLE
    if caller.account is not None and caller.account in listed:
        return _ACCOUNT_MATCH
    return _NONE


def _not_principal_applies(principals: Principals, caller: _Caller, bounded: bool, allow: bool) -> bool:
    if bounded and not allow:
        return True
    if principals.anyone or (principals.any_aws and caller.kind == "AWS"):
        return False
    if caller.kind != "AWS":
        return _own(caller) not in _listed(principals, caller)
    listed = _listed(principals, caller)
    return any(identity not in listed for identity in caller.chain)


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that decided a request, as SimulatePrincipalPolicy reports it."""

    source_policy_id: str
    source_policy_type: str
    sid: str | None
    index: int
    span: tuple[int, int, int, int] | None = None  # (start line, start column, end line, end column), 1-based


class _Request:
    """One (action, resource) pair with the lower-cased context and variable lookup, built once per request."""

    __slots__ = ("action", "resource", "context", "lookup", "caller", "bounded", "missing")

    def __init__(self, action: str, resource: str, context: Mapping[str, object], caller: _Caller,
                 bounded: bool, missing: set[str] | None) -> None:
        self.action = action
        self.resource = resource
        self.context = context
        self.lookup = matching.single_value_lookup(context)
        self.caller = caller
        self.bounded = bounded
        self.missing = missing


def _applies(statement: Statement, policy: Policy, request: _Request) -> int:
    """How strongly the statement applies to the request (_NONE: not at all)."""
    if (statement.action_re.fullmatch(request.action) is None) != statement.not_action:
        return _NONE
    lookup = request.lookup if policy.variables_enabled else None
    if statement.resources is not None:
        if statement.resource_re is not None:
            resource_hit = statement.resource_re.fullmatch(request.resource) is not None
        else:
            resource_hit = False
            for pattern in statement.resources:
                pieces = matching.render(pattern, lookup)
                if pieces is None:
                    return _NONE
                resource_hit = resource_hit or matching.matches_rendered(pieces, request.resource, "resource")
        if resource_hit == statement.not_resource:
            return _NONE
    strength = _DIRECT
    if statement.principals is not None:
        if statement.not_principal:
            applies = _not_principal_applies(statement.principals, request.caller, request.bounded,
                                             statement.allow)
            strength = _DIRECT if applies else _NONE
        else:
            strength = _principal_strength(statement.principals, request.caller)
        if strength == _NONE:
            return _NONE
    if statement.conditions and not cond.evaluate_all(statement.conditions, request.context, lookup,
                                                      request.missing):
        return _NONE
    return strength


class _Scan:
    """One pass over a group of policies: was there an applicable Deny, and how strong is the best Allow?

    Without tracing the pass stops at the first Deny and stops evaluating Allow conditions once a direct
    Allow is found; with tracing (simulation) every applicable statement is recorded.
    """

    __slots__ = ("denied", "allow", "denies", "allows")

    def __init__(self, policies: Sequence[Policy], request: _Request, trace: bool) -> None:
        self.denied = False
        self.allow = _NONE
        self.denies: list[MatchedStatement] = []
        self.allows: list[MatchedStatement] = []
        for policy in policies:
            for statement in policy.candidates(request.action):
                if statement.allow and self.allow == _DIRECT and not trace:
                    continue
                strength = _applies(statement, policy, request)
                if strength == _NONE:
                    continue
                if statement.allow:
                    self.allow = max(self.allow, strength)
                else:
                    self.denied = True
                if trace:
                    found = MatchedStatement(policy.source_id, policy.source_type, statement.sid, statement.index,
                                             statement.span)
                    (self.allows if statement.allow else self.denies).append(found)
                elif self.denied:
                    return


_IDENTITY, _RESOURCE, _SESSION, _BOUNDARY = ("identity-based policy", "resource-based policy", "session policy",
                                            "permissions boundary")


def _decide(request: _Request, identity: Sequence[Policy], resource_policy: Policy | None,
            sessions: Sequence[Policy], boundary: Policy | None,
            matched: list[MatchedStatement] | None, trust: bool = False) -> tuple[Decision, str | None]:
    """The single-account decision for one resource, and the policy type that decided a denial.

    With `trust` the resource policy is a role trust policy: it must match the caller in every case, and
    its grants stay subject to the permissions boundary and session policies.
    """
    trace = matched is not None
    groups = [(_IDENTITY, identity), (_RESOURCE, [] if resource_policy is None else [resource_policy]),
              (_BOUNDARY, [] if boundary is None else [boundary]), (_SESSION, sessions)]
    scans = []
    for kind, group in groups:
        scan = _Scan(group, request, trace)
        if scan.denied and not trace:
            return Decision.EXPLICIT_DENY, kind
        scans.append(scan)
    by_identity, by_resource, by_boundary, by_session = scans
    denied_by = next((kind for (kind, _), scan in zip(groups, scans) if scan.denied), None)
    if denied_by is not None:
        matched.extend(d for scan in scans for d in scan.denies)
        return Decision.EXPLICIT_DENY, denied_by
    if by_resource.allow == _DIRECT and not trust:
        if trace:
            matched.extend(by_resource.allows)
        return Decision.ALLOW, None
    if trust and by_resource.allow == _NONE:
        missing = _RESOURCE
    elif by_resource.allow not in (_ROLE, _DIRECT) and by_identity.allow == _NONE:
        missing = _IDENTITY
    elif boundary is not None and by_boundary.allow == _NONE:
        missing = _BOUNDARY
    elif sessions and by_session.allow == _NONE:
        missing = _SESSION
    else:
        if trace:
            matched.extend(a for scan in scans for a in scan.allows)
        return Decision.ALLOW, None
    return Decision.IMPLICIT_DENY, missing


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision with what AWS names in its AccessDenied text: the resource and the deciding policy type."""

    decision: Decision
    resource: str
    policy_type: str | None  # e.g. "identity-based policy", "permissions boundary"; None when allowed

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    def reason(self, action: str) -> str:
        """The tail of IAM's message: `because no <type> allows the <action> action` or
        `with an explicit deny in a(n) <type>`."""
        if self.decision is Decision.ALLOW:
            return ""
        if self.decision is Decision.EXPLICIT_DENY:
            article = "an" if self.policy_type and self.policy_type[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {self.policy_type}"
        return f"because no {self.policy_type} allows the {action} action"

    def message(self, principal_arn: str, action: str) -> str:
        """`User: <arn> is not authorized to perform: <action> on resource: <resource> <reason>`."""
        return f"User: {principal_arn} is not authorized to perform: {action} on resource: {self.resource} " \
               f"{self.reason(action)}"


def _lowered(keys: Mapping[str, object]) -> dict[str, object]:
    return {key.lower(): value for key, value in keys.items()}


_SEVERITY = {Decision.ALLOW: 0, Decision.IMPLICIT_DENY: 1, Decision.EXPLICIT_DENY: 2}


def evaluate(ctx: RequestContext, identity_policies: Sequence[Policy], resource_policy: Policy | None = None,
             session_policies: Sequence[Policy] | None = None,
             permissions_boundary: Policy | None = None) -> Decision:
    """Decide one call; with several resources the most severe per-resource decision wins."""
    return explain(ctx, identity_policies, resource_policy, session_policies, permissions_boundary).decision


def explain(ctx: RequestContext, identity_policies: Sequence[Policy], resource_policy: Policy | None = None,
            session_policies: Sequence[Policy] | None = None,
            permissions_boundary: Policy | None = None) -> Verdict:
    """`evaluate`, plus the resource and policy type behind a denial (for the AccessDenied message)."""
    first = ctx.resources[0] if ctx.resources else "*"
    if ctx.is_root:
        return Verdict(Decision.ALLOW, first, None)
    context = _lowered(ctx.keys)
    caller = _caller(ctx.principal_arn, ctx.account_id, context)
    bounded = permissions_boundary is not None
    worst = Verdict(Decision.ALLOW, first, None)
    for resource in ctx.resources or ("*",):
        request = _Request(ctx.action, resource, context, caller, bounded, None)
        decision, policy_type = _decide(request, identity_policies, resource_policy, session_policies or (),
                                        permissions_boundary, None)
        if _SEVERITY[decision] > _SEVERITY[worst.decision]:
            worst = Verdict(decision, resource, policy_type)
            if decision is Decision.EXPLICIT_DENY:
                break
    return worst


def evaluate_assume_role(ctx: RequestContext, trust: Policy, identity_policies: Sequence[Policy],
                         session_policies: Sequence[Policy] | None = None,
                         permissions_boundary: Policy | None = None) -> Decision:
    """Same-account sts:AssumeRole by an AWS principal: the trust policy and the caller's policies together.

    Per the STS AssumeRole reference, a caller named in the trust policy (its ARN, or for a role session its
    role's ARN) needs no identity permission, though a permissions boundary or session policy must still allow
    the action; a trust policy naming the account delegates, so the caller's identity policies must allow
    `sts:AssumeRole` on the role (`ctx.resources`). Any explicit Deny wins. The root user may not assume roles
    ("Roles may not be assumed by root accounts."): that is an implicit deny here.
    """
    if ctx.is_root:
        return Decision.IMPLICIT_DENY
    context = _lowered(ctx.keys)
    caller = _caller(ctx.principal_arn, ctx.account_id, context)
    request = _Request(ctx.action, ctx.resources[0] if ctx.resources else "*", context, caller,
                       permissions_boundary is not None, None)
    return _decide(request, identity_policies, trust, session_policies or (), permissions_boundary, None,
                   trust=True)[0]


def principal_allowed_by_trust(trust: Policy, principal: str | dict, action: str = "sts:AssumeRole",
                               keys: Mapping[str, object] | None = None) -> bool:
    """Does the role's trust policy let `principal` perform `action` (normally sts:AssumeRole)?

    `principal` is the caller's ARN, a service principal name, or a dict such as `{"Service":
    "lambda.amazonaws.com"}` / `{"AWS": arn}`. Naming the caller's account in the trust policy trusts every
    principal of that account (whose own identity policy must then allow sts:AssumeRole; checked elsewhere).
    """
    kind = None
    if isinstance(principal, dict):
        kind, principal = next(iter(principal.items()), ("AWS", ""))
    context = _lowered(keys or {})
    caller = _caller(str(principal), None, context, kind)
    scan = _Scan([trust], _Request(action, "*", context, caller, False, None), False)
    return not scan.denied and scan.allow != _NONE


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """One (action, resource) decision with the statements behind it, for SimulatePrincipalPolicy."""

    action: str
    resource: str
    decision: Decision
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_values: tuple[str, ...]
    allowed_by_permissions_boundary: bool | None = None  # None when the principal has no boundary

    @property
    def eval_decision(self) -> str:
        """The EvalDecision string: `allowed`, `explicitDeny` or `implicitDeny`."""
        return self.decision.value


def simulate(*, principal_arn: str, account_id: str, actions: Sequence[str], resources: Sequence[str] = ("*",),
             identity_policies: Sequence[Policy], resource_policy: Policy | None = None,
             session_policies: Sequence[Policy] | None = None, permissions_boundary: Policy | None = None,
             keys: Mapping[str, object] | None = None, is_root: bool = False) -> list[SimulationResult]:
    """Decide every action against every resource, reporting matched statements and missing context keys.

    `keys` may be built from the API's ContextEntries with `context_from_entries`.
    """
    context = _lowered(keys or {})
    caller = _caller(principal_arn, account_id, context)
    results = []
    for action in actions:
        for resource in resources or ("*",):
            matched: list[MatchedStatement] = []
            missing: set[str] = set()
            request = _Request(action, resource, context, caller, permissions_boundary is not None, missing)
            bounded = None
            if permissions_boundary is not None:
                bounded = _decide(request, [permissions_boundary], None, (), None, None)[0] is Decision.ALLOW
            if is_root:
                decision = Decision.ALLOW
            else:
                decision, _ = _decide(request, identity_policies, resource_policy, session_policies or (),
                                      permissions_boundary, matched)
            results.append(SimulationResult(action, resource, decision, tuple(matched), tuple(sorted(missing)),
                                            bounded))
    return results


def context_from_entries(entries: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """SimulatePrincipalPolicy ContextEntries (`ContextKeyName`, `ContextKeyValues`, `ContextKeyType`) as keys.

    `...List` types stay lists (multi-valued keys); the others take their single value.
    """
    keys: dict[str, object] = {}
    for entry in entries:
        values = [str(v) for v in entry.get("ContextKeyValues") or []]
        multi = str(entry.get("ContextKeyType", "string")).endswith("List")
        keys[str(entry["ContextKeyName"])] = values if multi else (values[0] if values else None)
    return keys
