"""STS: who am I, and temporary credentials (AssumeRole, GetSessionToken).

AssumeRole needs both halves AWS requires: the caller's permission to call `sts:AssumeRole` on the role and the
role's trust policy allowing the caller. The trust policy is offered to the authorizer as the role's resource
policy (`resource_policy`), so, as in AWS within one account, a trust policy naming the caller's own ARN grants
by itself while one naming the account defers to the caller's identity policies; the provider then refuses any
caller the trust policy does not allow at all.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.iam.authorizer import parsed
from runtime.iam.credentials import ACCESS_KEY, ROLE, SESSION, SessionCredentials, SessionIssuer
from runtime.iam.policy import SIZE_QUOTAS, MalformedPolicy, Policy, parse_policy, policy_size, principal_allowed_by_trust
from runtime.services._shared.arns import parse_iam_arn
from runtime.state import Record, Store

_SESSION_NAME = re.compile(r"[\w+=,.@-]*")
DEFAULT_ROLE_SESSION = 3600
MIN_DURATION = 900
CHAINED_MAX = 3600
SESSION_TOKEN_DEFAULT = 43200
SESSION_TOKEN_MAX = 129600
ROOT_SESSION_TOKEN_MAX = 3600


def _credentials(creds: SessionCredentials) -> dict:
    return {"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
            "SessionToken": creds.session_token,
            "Expiration": datetime.fromtimestamp(creds.expiration, timezone.utc)}


def _role_resource(ctx: RequestContext, params: dict) -> list[str]:
    return [params["RoleArn"]]


def _assume_keys(ctx: RequestContext, params: dict) -> dict:
    """The STS condition keys of an AssumeRole request (trust policies test them)."""
    keys = {"sts:RoleSessionName": params["RoleSessionName"]}
    if params.get("ExternalId") is not None:
        keys["sts:ExternalId"] = params["ExternalId"]
    return keys


class StsProvider:
    def __init__(self, store: Store, issuer: SessionIssuer) -> None:
        self.store = store
        self.issuer = issuer

    def _role(self, account: str, arn: str) -> Record | None:
        try:
            resource = parse_iam_arn(arn)
        except ValueError:
            return None
        if resource.resource_type != "role" or resource.account != account:
            return None
        role = self.store.find(ROLE, account, resource.name.lower())
        return role if role is not None and role.spec["Arn"] == arn else None

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> Policy | None:
        """A role's trust policy governs who may assume it (the authorizer's resource-policy hook)."""
        role = self._role(ctx.account, resource_arn)
        return parsed(role.spec["Trust"], "trust") if role is not None else None

    def _caller_role_arn(self, ctx: RequestContext) -> str | None:
        if ctx.principal.kind != "assumed-role" or ctx.credential is None:
            return None
        try:
            return self.store.get(SESSION, ctx.credential.access_key).spec["RoleArn"]
        except NotFound:
            return None

    @operation("GetCallerIdentity", resources=lambda ctx, params: ["*"])
    def get_caller_identity(self, ctx: RequestContext, params: dict) -> dict:
        principal = ctx.principal
        return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}

    @operation("AssumeRole", resources=_role_resource, condition_keys=_assume_keys)
    def assume_role(self, ctx: RequestContext, params: dict) -> dict:
        arn, session_name = params["RoleArn"], params["RoleSessionName"]
        if not _SESSION_NAME.fullmatch(session_name):
            raise AwsError("ValidationError", f"1 validation error detected: Value '{session_name}' at "
                                              f"'roleSessionName' failed to satisfy constraint: Member must satisfy "
                                              f"regular expression pattern: [\\w+=,.@-]*")
        role = self._role(ctx.account, arn)
        denied = AwsError("AccessDenied", f"User: {ctx.principal.arn} is not authorized to perform: sts:AssumeRole "
                                          f"on resource: {arn}", 403)
        if role is None:
            raise denied
        chained = ctx.principal.kind == "assumed-role"
        duration = params.get("DurationSeconds", DEFAULT_ROLE_SESSION)
        if chained and duration > CHAINED_MAX:
            raise AwsError("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for "
                                              "roles assumed by role chaining.")
        if duration > role.spec["MaxSessionDuration"]:
            raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for "
                                              "this role.")
        keys = {"aws:PrincipalArn": self._caller_role_arn(ctx) or ctx.principal.arn,
                "aws:SourceIp": ctx.source_ip, "aws:PrincipalAccount": ctx.account, **_assume_keys(ctx, params)}
        if not principal_allowed_by_trust(parsed(role.spec["Trust"], "trust"), ctx.principal.arn, keys=keys):
            raise denied
        policy = params.get("Policy")
        if policy is not None:
            try:
                parse_policy(policy, kind="identity")
            except MalformedPolicy as exc:
                raise AwsError("MalformedPolicyDocument", str(exc)) from None
        policy_arns = [entry["arn"] for entry in params.get("PolicyArns", [])]
        creds = self.issuer.issue_role_session(role, session_name, duration, policy=policy, policy_arns=policy_arns,
                                               source=ctx.principal.arn)
        out = {"Credentials": _credentials(creds),
               "AssumedRoleUser": {"AssumedRoleId": creds.principal.user_id, "Arn": creds.principal.arn}}
        if policy is not None or policy_arns:
            out["PackedPolicySize"] = policy_size(policy or "") * 100 // SIZE_QUOTAS["session"]
        return out

    @operation("GetAccessKeyInfo", resources=lambda ctx, params: ["*"])
    def get_access_key_info(self, ctx: RequestContext, params: dict) -> dict:
        """The account an access key belongs to. A key Terrarium never issued (AWS would name its real owner)
        answers the caller's account: there is no other account here to name."""
        return {"Account": self._key_account(params["AccessKeyId"]) or ctx.account}

    def _key_account(self, key_id: str) -> str | None:
        for kind in (ACCESS_KEY, SESSION):
            try:
                return self.store.get(kind, key_id).account
            except NotFound:
                continue
        return None

    @operation("GetSessionToken", resources=lambda ctx, params: ["*"])
    def get_session_token(self, ctx: RequestContext, params: dict) -> dict:
        principal = ctx.principal
        if ctx.credential is None or ctx.credential.session_token is not None:
            raise AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
        limit = ROOT_SESSION_TOKEN_MAX if principal.is_root else SESSION_TOKEN_MAX
        duration = min(params.get("DurationSeconds", SESSION_TOKEN_DEFAULT), limit)
        return {"Credentials": _credentials(self.issuer.issue_user_session(principal, duration))}
