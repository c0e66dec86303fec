"""Account-wide IAM views: the account alias, GetAccountSummary and GetAccountAuthorizationDetails."""

from __future__ import annotations

import re

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.iam.policy import SIZE_QUOTAS
from runtime.services._shared.arns import parse_iam_arn
from runtime.services.iam import managed, policies, roles, users
from runtime.services.iam import resources as res
from runtime.services.iam import shapes
from runtime.services.iam.directory import GROUP, INSTANCE_PROFILE, POLICY, ROLE, USER, IamDirectory
from runtime.services.iam.errors import no_such_entity, validation_error
from runtime.state import Record, Store

_ALIAS = re.compile(r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$")


def _alias_key(account: str) -> str:
    return f"iam.account-alias.{account}"


def _inline(record: Record) -> list[dict]:
    return [{"PolicyName": name, "PolicyDocument": shapes.encoded(text)} for name, text in record.spec["Inline"].items()]


def _attached(record: Record) -> list[dict]:
    return [{"PolicyName": parse_iam_arn(arn).name, "PolicyArn": arn} for arn in record.spec["Attached"]]


class AccountProvider:
    def __init__(self, store: Store, directory: IamDirectory) -> None:
        self.store = store
        self.directory = directory

    @operation("CreateAccountAlias", resources=res.anything)
    def create_account_alias(self, ctx: RequestContext, params: dict) -> dict:
        alias = params["AccountAlias"]
        if not _ALIAS.match(alias):
            raise validation_error(f"1 validation error detected: Value '{alias}' at 'accountAlias' failed to "
                                   f"satisfy constraint: Member must satisfy regular expression pattern: "
                                   f"^[a-z0-9]([a-z0-9]|-(?!-)){{1,61}}[a-z0-9]$")
        self.store.set_meta(_alias_key(ctx.account), alias)
        return {}

    @operation("DeleteAccountAlias", resources=res.anything)
    def delete_account_alias(self, ctx: RequestContext, params: dict) -> dict:
        if self.store.get_meta(_alias_key(ctx.account)) != params["AccountAlias"]:
            raise no_such_entity(f"The account alias {params['AccountAlias']} cannot be found.")
        self.store.set_meta(_alias_key(ctx.account), None)
        return {}

    @operation("ListAccountAliases", resources=res.anything)
    def list_account_aliases(self, ctx: RequestContext, params: dict) -> dict:
        alias = self.store.get_meta(_alias_key(ctx.account))
        return {"AccountAliases": [alias] if alias else [], "IsTruncated": False}

    @operation("GetAccountSummary", resources=res.anything)
    def get_account_summary(self, ctx: RequestContext, params: dict) -> dict:
        count = {kind: len(self.store.list(kind, ctx.account)) for kind in (USER, GROUP, ROLE, POLICY, INSTANCE_PROFILE)}
        versions = sum(len(p.spec["Versions"]) for p in self.store.list(POLICY, ctx.account))
        summary = {
            "Users": count[USER], "UsersQuota": users.USERS_PER_ACCOUNT,
            "Groups": count[GROUP], "GroupsQuota": users.GROUPS_PER_ACCOUNT,
            "Roles": count[ROLE], "RolesQuota": roles.ROLES_PER_ACCOUNT,
            "Policies": count[POLICY], "PoliciesQuota": policies.POLICIES_PER_ACCOUNT,
            "InstanceProfiles": count[INSTANCE_PROFILE], "InstanceProfilesQuota": roles.INSTANCE_PROFILES_PER_ACCOUNT,
            "PolicyVersionsInUse": versions, "PolicyVersionsInUseQuota": 10000,
            "VersionsPerPolicyQuota": policies.MAX_VERSIONS, "GroupsPerUserQuota": users.GROUPS_PER_USER,
            "AccessKeysPerUserQuota": users.ACCESS_KEYS_PER_USER,
            "AttachedPoliciesPerUserQuota": policies.ATTACHED_PER_ENTITY,
            "AttachedPoliciesPerGroupQuota": policies.ATTACHED_PER_ENTITY,
            "AttachedPoliciesPerRoleQuota": policies.ATTACHED_PER_ENTITY,
            "PolicySizeQuota": SIZE_QUOTAS["managed"], "UserPolicySizeQuota": SIZE_QUOTAS["user_inline"],
            "GroupPolicySizeQuota": SIZE_QUOTAS["group_inline"], "RolePolicySizeQuota": SIZE_QUOTAS["role_inline"],
            "AssumeRolePolicySizeQuota": SIZE_QUOTAS["trust"],
            "AccountAccessKeysPresent": 1, "AccountMFAEnabled": 0, "MFADevices": 0, "MFADevicesInUse": 0,
            "ServerCertificates": 0, "ServerCertificatesQuota": 20, "Providers": 0, "GlobalEndpointTokenVersion": 1,
            "SigningCertificatesPerUserQuota": 2, "AccountSigningCertificatesPresent": 0, "AccountPasswordPresent": 0,
        }
        return {"SummaryMap": summary}

    @operation("GetAccountAuthorizationDetails", resources=res.anything)
    def get_account_authorization_details(self, ctx: RequestContext, params: dict) -> dict:
        wanted = set(params.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])
        account = ctx.account
        groups = {g.id: g for g in self.store.list(GROUP, account)}
        profiles = self.store.list(INSTANCE_PROFILE, account)
        all_roles = self.store.list(ROLE, account)
        counts: dict[str, int] = {}
        for record in [*self.store.list(USER, account), *groups.values(), *all_roles]:
            for arn in record.spec["Attached"]:
                counts[arn] = counts.get(arn, 0) + 1
        out: dict = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
        if "User" in wanted:
            out["UserDetailList"] = [{
                **shapes.user(u, with_tags=True), "UserPolicyList": _inline(u), "AttachedManagedPolicies": _attached(u),
                "GroupList": [groups[g].spec["GroupName"] for g in u.spec["Groups"] if g in groups]}
                for u in self.store.list(USER, account)]
        if "Group" in wanted:
            out["GroupDetailList"] = [{**shapes.group(g), "GroupPolicyList": _inline(g),
                                       "AttachedManagedPolicies": _attached(g)} for g in groups.values()]
        if "Role" in wanted:
            out["RoleDetailList"] = [{
                **shapes.role(r, detail=True), "RolePolicyList": _inline(r), "AttachedManagedPolicies": _attached(r),
                "InstanceProfileList": [shapes.instance_profile(p, [r]) for p in profiles if r.id in p.spec["Roles"]]}
                for r in all_roles]
        if "LocalManagedPolicy" in wanted:
            for record in self.store.list(POLICY, account):
                spec = record.spec
                out["Policies"].append({**shapes.customer_policy(record, counts.get(spec["Arn"], 0)),
                                        "PolicyVersionList": [shapes.policy_version(v, version, spec["DefaultVersionId"])
                                                              for v, version in spec["Versions"].items()]})
        if "AWSManagedPolicy" in wanted:
            for policy in managed.POLICIES:
                if counts.get(policy.arn):
                    out["Policies"].append({**shapes.aws_policy(policy, counts[policy.arn]), "PolicyVersionList": [
                        shapes.policy_version("v1", {"Document": policy.document, "CreateDate": managed.CREATED},
                                              "v1")]})
        out["IsTruncated"] = False
        return out
