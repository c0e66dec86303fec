"""Managed policies (versions, default version), inline policies, attachments and permissions boundaries of
users, groups and roles. AWS managed policies are read-only and come from `managed.py`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import Conflict
from runtime.iam.policy import policy_size
from runtime.services._shared import arns, ids
from runtime.services.iam import managed
from runtime.services.iam import resources as res
from runtime.services.iam import shapes
from runtime.services.iam.directory import GROUP, POLICY, ROLE, USER, IamDirectory
from runtime.services.iam.errors import (check_free_text, already_exists, check_document, check_name, check_path, delete_conflict,
                                         invalid_input, limit_exceeded, no_such_entity, not_attachable)
from runtime.iam.policy import SIZE_QUOTAS
from runtime.state import Record, Store

MAX_VERSIONS = 5
ATTACHED_PER_ENTITY = 10
POLICIES_PER_ACCOUNT = 1500


@dataclass(frozen=True)
class Entity:
    noun: str        # "User": operation names and quota names
    kind: str        # record kind
    member: str      # request member naming it
    quota: str       # SIZE_QUOTAS key of its inline policies

    @property
    def lower(self) -> str:
        return self.noun.lower()


USERS = Entity("User", USER, "UserName", "user_inline")
GROUPS = Entity("Group", GROUP, "GroupName", "group_inline")
ROLES = Entity("Role", ROLE, "RoleName", "role_inline")


class PoliciesProvider(res.PathResolver):
    def __init__(self, store: Store, directory: IamDirectory, clock=time.time) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock

    def _entity(self, ctx: RequestContext, entity: Entity, params: dict) -> Record:
        return self.directory.get(entity.kind, ctx.account, params[entity.member], entity.lower)

    def _attached_to(self, account: str, arn: str) -> list[Record]:
        return [r for kind in (USER, GROUP, ROLE) for r in self.store.list(kind, account) if arn in r.spec["Attached"]]

    # ------------------------------------------------------------------ managed policies
    @operation("CreatePolicy", resources=res.policy, condition_keys=res.request_tags)
    def create_policy(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        name = check_name(params["PolicyName"], "policyName")
        path = check_path(params.get("Path"))
        document = check_document(params["PolicyDocument"], "identity", "managed", managed=True)
        if len(self.store.list(POLICY, ctx.account)) >= POLICIES_PER_ACCOUNT:
            raise limit_exceeded(f"Cannot exceed quota for PoliciesPerAccount: {POLICIES_PER_ACCOUNT}")
        now = self.clock()
        spec = {"PolicyName": name, "Path": path, "Arn": arns.iam_arn(ctx.account, "policy", name, path),
                "Description": params.get("Description"), "CreateDate": now, "UpdateDate": now,
                "DefaultVersionId": "v1", "Versions": {"v1": {"Document": document, "CreateDate": now}},
                "NextVersion": 2}
        try:
            record = self.store.put(POLICY, ids.new_id("policy"), ctx.account, spec, name=name.lower(),
                                    tags={t["Key"]: t["Value"] for t in params.get("Tags", [])})
        except Conflict:
            raise already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.") from None
        return {"Policy": shapes.customer_policy(record, 0)}

    @operation("GetPolicy", resources=res.policy)
    def get_policy(self, ctx: RequestContext, params: dict) -> dict:
        arn = params["PolicyArn"]
        attachments = len(self._attached_to(ctx.account, arn))
        if aws := managed.BY_ARN.get(arn):
            return {"Policy": shapes.aws_policy(aws, attachments)}
        return {"Policy": shapes.customer_policy(self.directory.customer_policy(ctx.account, arn), attachments)}

    @operation("ListPolicies", resources=res.anything)
    def list_policies(self, ctx: RequestContext, params: dict) -> dict:
        scope = params.get("Scope", "All")
        counts: dict[str, int] = {}
        for kind in (USER, GROUP, ROLE):
            for record in self.store.list(kind, ctx.account):
                for arn in record.spec["Attached"]:
                    counts[arn] = counts.get(arn, 0) + 1
        items = []
        if scope in ("All", "AWS"):
            items += [shapes.aws_policy(p, counts.get(p.arn, 0)) for p in managed.POLICIES]
        if scope in ("All", "Local"):
            items += [shapes.customer_policy(r, counts.get(r.spec["Arn"], 0))
                      for r in self.store.list(POLICY, ctx.account)]
        prefix = params.get("PathPrefix") or "/"
        items = [p for p in items if p["Path"].startswith(prefix)
                 and (not params.get("OnlyAttached") or p["AttachmentCount"] > 0)]
        return shapes.page(items, params, "Policies")

    @operation("DeletePolicy", resources=res.policy)
    def delete_policy(self, ctx: RequestContext, params: dict) -> dict:
        record = self.directory.customer_policy(ctx.account, params["PolicyArn"])
        if self._attached_to(ctx.account, record.spec["Arn"]):
            raise delete_conflict("Cannot delete a policy attached to entities.")
        if len(record.spec["Versions"]) > 1:
            raise delete_conflict("This policy has more than one version. Before you delete a policy, you must "
                                  "delete the policy's versions. The default version is deleted with the policy.")
        self.store.delete(POLICY, record.id)
        return {}

    def _versions(self, ctx: RequestContext, arn: str) -> tuple[dict, str]:
        if aws := managed.BY_ARN.get(arn):
            return {"v1": {"Document": aws.document, "CreateDate": managed.CREATED}}, "v1"
        spec = self.directory.customer_policy(ctx.account, arn).spec
        return spec["Versions"], spec["DefaultVersionId"]

    @operation("GetPolicyVersion", resources=res.policy)
    def get_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        versions, default = self._versions(ctx, arn)
        if version_id not in versions:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        return {"PolicyVersion": shapes.policy_version(version_id, versions[version_id], default)}

    @operation("ListPolicyVersions", resources=res.policy)
    def list_policy_versions(self, ctx: RequestContext, params: dict) -> dict:
        versions, default = self._versions(ctx, params["PolicyArn"])
        items = [shapes.policy_version(v, versions[v], default, document=False)
                 for v in sorted(versions, key=lambda v: -int(v[1:]))]
        return shapes.page(items, params, "Versions")

    @operation("CreatePolicyVersion", resources=res.policy)
    def create_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        record = self.directory.customer_policy(ctx.account, params["PolicyArn"])
        document = check_document(params["PolicyDocument"], "identity", "managed", managed=True)
        if len(record.spec["Versions"]) >= MAX_VERSIONS:
            raise limit_exceeded("A managed policy can have up to 5 versions. Before you create a new version, you "
                                 "must delete an existing version.")
        now = self.clock()
        version_id = f"v{record.spec['NextVersion']}"

        def add(spec: dict) -> dict:
            spec["Versions"][version_id] = {"Document": document, "CreateDate": now}
            spec["NextVersion"] += 1
            spec["UpdateDate"] = now
            if params.get("SetAsDefault"):
                spec["DefaultVersionId"] = version_id
            return spec
        updated = self.store.update_spec(POLICY, record.id, add)
        return {"PolicyVersion": shapes.policy_version(version_id, updated.spec["Versions"][version_id],
                                                       updated.spec["DefaultVersionId"], document=False)}

    @operation("DeletePolicyVersion", resources=res.policy)
    def delete_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        record = self.directory.customer_policy(ctx.account, arn)
        if version_id not in record.spec["Versions"]:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        if version_id == record.spec["DefaultVersionId"]:
            raise delete_conflict("Cannot delete the default version of a policy.")

        def drop(spec: dict) -> dict:
            del spec["Versions"][version_id]
            return spec
        self.store.update_spec(POLICY, record.id, drop)
        return {}

    @operation("SetDefaultPolicyVersion", resources=res.policy)
    def set_default_policy_version(self, ctx: RequestContext, params: dict) -> dict:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        record = self.directory.customer_policy(ctx.account, arn)
        if version_id not in record.spec["Versions"]:
            raise no_such_entity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        self.store.update_spec(POLICY, record.id, lambda s: {**s, "DefaultVersionId": version_id,
                                                              "UpdateDate": self.clock()})
        return {}

    @operation("ListEntitiesForPolicy", resources=res.policy)
    def list_entities_for_policy(self, ctx: RequestContext, params: dict) -> dict:
        arn = params["PolicyArn"]
        if not self.directory.policy_exists(ctx.account, arn):
            raise not_attachable(arn)
        wanted = params.get("EntityFilter")
        out: dict = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": [], "IsTruncated": False}
        for record in self._attached_to(ctx.account, arn):
            noun = record.kind.split(".", 1)[1].capitalize()
            if wanted not in (None, noun, "LocalManagedPolicy", "AWSManagedPolicy"):
                continue
            out[f"Policy{noun}s"].append({f"{noun}Name": record.spec[f"{noun}Name"], f"{noun}Id": record.id})
        return out

    @operation("TagPolicy", resources=res.policy, condition_keys=res.request_tags)
    def tag_policy(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        record = self.directory.customer_policy(ctx.account, params["PolicyArn"])
        self.store.set_tags(POLICY, record.id, {t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    @operation("UntagPolicy", resources=res.policy)
    def untag_policy(self, ctx: RequestContext, params: dict) -> dict:
        record = self.directory.customer_policy(ctx.account, params["PolicyArn"])
        self.store.delete_tags(POLICY, record.id, params["TagKeys"])
        return {}

    @operation("ListPolicyTags", resources=res.policy)
    def list_policy_tags(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.page(shapes.tags(self.directory.customer_policy(ctx.account, params["PolicyArn"])), params,
                           "Tags")

    # ------------------------------------------------------------------ attachments
    def _attach(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        arn = params["PolicyArn"]
        self._check_policy_arn(ctx, arn)
        if arn in record.spec["Attached"]:
            return {}
        if len(record.spec["Attached"]) >= ATTACHED_PER_ENTITY:
            raise limit_exceeded(f"Cannot exceed quota for PoliciesPer{entity.noun}: {ATTACHED_PER_ENTITY}")
        self.store.update_spec(entity.kind, record.id, lambda s: {**s, "Attached": s["Attached"] + [arn]})
        return {}

    def _check_policy_arn(self, ctx: RequestContext, arn: str) -> None:
        try:
            arns.parse_iam_arn(arn)
        except ValueError:
            raise invalid_input(f"ARN {arn} is not valid.") from None
        if not self.directory.policy_exists(ctx.account, arn):
            raise not_attachable(arn)

    def _detach(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        arn = params["PolicyArn"]
        if arn not in record.spec["Attached"]:
            raise no_such_entity(f"Policy {arn} was not found.")
        self.store.update_spec(entity.kind, record.id,
                               lambda s: {**s, "Attached": [a for a in s["Attached"] if a != arn]})
        return {}

    def _list_attached(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        prefix = params.get("PathPrefix") or "/"
        items = []
        for arn in record.spec["Attached"]:
            resource = arns.parse_iam_arn(arn)
            if resource.path.startswith(prefix):
                items.append({"PolicyName": resource.name, "PolicyArn": arn})
        return shapes.page(items, params, "AttachedPolicies")

    @operation("AttachUserPolicy", resources=res.user)
    def attach_user_policy(self, ctx, params):
        return self._attach(ctx, USERS, params)

    @operation("AttachGroupPolicy", resources=res.group)
    def attach_group_policy(self, ctx, params):
        return self._attach(ctx, GROUPS, params)

    @operation("AttachRolePolicy", resources=res.role)
    def attach_role_policy(self, ctx, params):
        return self._attach(ctx, ROLES, params)

    @operation("DetachUserPolicy", resources=res.user)
    def detach_user_policy(self, ctx, params):
        return self._detach(ctx, USERS, params)

    @operation("DetachGroupPolicy", resources=res.group)
    def detach_group_policy(self, ctx, params):
        return self._detach(ctx, GROUPS, params)

    @operation("DetachRolePolicy", resources=res.role)
    def detach_role_policy(self, ctx, params):
        return self._detach(ctx, ROLES, params)

    @operation("ListAttachedUserPolicies", resources=res.user)
    def list_attached_user_policies(self, ctx, params):
        return self._list_attached(ctx, USERS, params)

    @operation("ListAttachedGroupPolicies", resources=res.group)
    def list_attached_group_policies(self, ctx, params):
        return self._list_attached(ctx, GROUPS, params)

    @operation("ListAttachedRolePolicies", resources=res.role)
    def list_attached_role_policies(self, ctx, params):
        return self._list_attached(ctx, ROLES, params)

    # ------------------------------------------------------------------ inline policies
    def _put_inline(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        name = check_name(params["PolicyName"], "policyName")
        document = check_document(params["PolicyDocument"], "identity")
        others = sum(policy_size(text) for key, text in record.spec["Inline"].items() if key != name)
        if others + policy_size(document) > SIZE_QUOTAS[entity.quota]:
            raise limit_exceeded(f"Maximum policy size of {SIZE_QUOTAS[entity.quota]} bytes exceeded for "
                                 f"{entity.lower} {record.spec[entity.member]}")
        self.store.update_spec(entity.kind, record.id, lambda s: {**s, "Inline": {**s["Inline"], name: document}})
        return {}

    def _inline(self, ctx: RequestContext, entity: Entity, params: dict) -> tuple[Record, str]:
        record = self._entity(ctx, entity, params)
        name = params["PolicyName"]
        if name not in record.spec["Inline"]:
            raise no_such_entity(f"The {entity.lower} policy with name {name} cannot be found.")
        return record, name

    def _get_inline(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record, name = self._inline(ctx, entity, params)
        return {entity.member: record.spec[entity.member], "PolicyName": name,
                "PolicyDocument": shapes.encoded(record.spec["Inline"][name])}

    def _delete_inline(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record, name = self._inline(ctx, entity, params)
        self.store.update_spec(entity.kind, record.id,
                               lambda s: {**s, "Inline": {k: v for k, v in s["Inline"].items() if k != name}})
        return {}

    def _list_inline(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        return shapes.page(list(self._entity(ctx, entity, params).spec["Inline"]), params, "PolicyNames")

    @operation("PutUserPolicy", resources=res.user)
    def put_user_policy(self, ctx, params):
        return self._put_inline(ctx, USERS, params)

    @operation("PutGroupPolicy", resources=res.group)
    def put_group_policy(self, ctx, params):
        return self._put_inline(ctx, GROUPS, params)

    @operation("PutRolePolicy", resources=res.role)
    def put_role_policy(self, ctx, params):
        return self._put_inline(ctx, ROLES, params)

    @operation("GetUserPolicy", resources=res.user)
    def get_user_policy(self, ctx, params):
        return self._get_inline(ctx, USERS, params)

    @operation("GetGroupPolicy", resources=res.group)
    def get_group_policy(self, ctx, params):
        return self._get_inline(ctx, GROUPS, params)

    @operation("GetRolePolicy", resources=res.role)
    def get_role_policy(self, ctx, params):
        return self._get_inline(ctx, ROLES, params)

    @operation("DeleteUserPolicy", resources=res.user)
    def delete_user_policy(self, ctx, params):
        return self._delete_inline(ctx, USERS, params)

    @operation("DeleteGroupPolicy", resources=res.group)
    def delete_group_policy(self, ctx, params):
        return self._delete_inline(ctx, GROUPS, params)

    @operation("DeleteRolePolicy", resources=res.role)
    def delete_role_policy(self, ctx, params):
        return self._delete_inline(ctx, ROLES, params)

    @operation("ListUserPolicies", resources=res.user)
    def list_user_policies(self, ctx, params):
        return self._list_inline(ctx, USERS, params)

    @operation("ListGroupPolicies", resources=res.group)
    def list_group_policies(self, ctx, params):
        return self._list_inline(ctx, GROUPS, params)

    @operation("ListRolePolicies", resources=res.role)
    def list_role_policies(self, ctx, params):
        return self._list_inline(ctx, ROLES, params)

    # ------------------------------------------------------------------ permissions boundaries
    def _put_boundary(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        arn = params["PermissionsBoundary"]
        self._check_policy_arn(ctx, arn)
        self.store.update_spec(entity.kind, record.id, lambda s: {**s, "Boundary": arn})
        return {}

    def _delete_boundary(self, ctx: RequestContext, entity: Entity, params: dict) -> dict:
        record = self._entity(ctx, entity, params)
        self.store.update_spec(entity.kind, record.id, lambda s: {**s, "Boundary": None})
        return {}

    @operation("PutUserPermissionsBoundary", resources=res.user)
    def put_user_permissions_boundary(self, ctx, params):
        return self._put_boundary(ctx, USERS, params)

    @operation("PutRolePermissionsBoundary", resources=res.role)
    def put_role_permissions_boundary(self, ctx, params):
        return self._put_boundary(ctx, ROLES, params)

    @operation("DeleteUserPermissionsBoundary", resources=res.user)
    def delete_user_permissions_boundary(self, ctx, params):
        return self._delete_boundary(ctx, USERS, params)

    @operation("DeleteRolePermissionsBoundary", resources=res.role)
    def delete_role_permissions_boundary(self, ctx, params):
        return self._delete_boundary(ctx, ROLES, params)
