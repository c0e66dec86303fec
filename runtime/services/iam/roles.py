"""IAM roles (with their trust policies) and instance profiles."""

from __future__ import annotations

import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import Conflict, NotFound
from runtime.services._shared import arns, ids
from runtime.services.iam import resources as res
from runtime.services.iam import shapes
from runtime.services.iam.directory import INSTANCE_PROFILE, ROLE, IamDirectory
from runtime.services.iam.errors import (check_free_text, already_exists, check_document, check_name, check_path, delete_conflict,
                                         limit_exceeded, no_such_entity, validation_error)
from runtime.state import Record, Store

ROLES_PER_ACCOUNT = 1000
INSTANCE_PROFILES_PER_ACCOUNT = 1000
DEFAULT_SESSION = 3600
SESSION_RANGE = (3600, 43200)


def _max_session(value: int | None) -> int:
    value = DEFAULT_SESSION if value is None else value
    if not SESSION_RANGE[0] <= value <= SESSION_RANGE[1]:
        raise validation_error(f"1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to "
                               f"satisfy constraint: Member must have value between 3600 and 43200")
    return value


class RolesProvider(res.PathResolver):
    def __init__(self, store: Store, directory: IamDirectory, clock=time.time) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock

    # ------------------------------------------------------------------ roles
    @operation("CreateRole", resources=res.role, condition_keys=res.request_tags)
    def create_role(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params, role=True)
        name = check_name(params["RoleName"], "roleName")
        path = check_path(params.get("Path"))
        trust = check_document(params["AssumeRolePolicyDocument"], "trust", "trust")
        boundary = params.get("PermissionsBoundary")
        if boundary is not None and not self.directory.policy_exists(ctx.account, boundary):
            raise validation_error(f"Invalid permissions boundary: {boundary} does not exist or is not attachable.")
        if len(self.store.list(ROLE, ctx.account)) >= ROLES_PER_ACCOUNT:
            raise limit_exceeded(f"Cannot exceed quota for RolesPerAccount: {ROLES_PER_ACCOUNT}")
        spec = {"RoleName": name, "Path": path, "Arn": arns.iam_arn(ctx.account, "role", name, path),
                "CreateDate": self.clock(), "Trust": trust, "Description": params.get("Description"),
                "MaxSessionDuration": _max_session(params.get("MaxSessionDuration")), "Inline": {}, "Attached": [],
                "Boundary": boundary}
        try:
            record = self.store.put(ROLE, ids.new_id("role"), ctx.account, spec, name=name.lower(),
                                    tags={t["Key"]: t["Value"] for t in params.get("Tags", [])})
        except Conflict:
            raise already_exists(f"Role with name {name} already exists.") from None
        return {"Role": shapes.role(record)}

    @operation("GetRole", resources=res.role)
    def get_role(self, ctx: RequestContext, params: dict) -> dict:
        return {"Role": shapes.role(self.directory.role(ctx.account, params["RoleName"]), detail=True)}

    @operation("ListRoles", resources=res.anything)
    def list_roles(self, ctx: RequestContext, params: dict) -> dict:
        roles = shapes.under_path(self.store.list(ROLE, ctx.account), params.get("PathPrefix"))
        return shapes.page([shapes.role(r) for r in roles], params, "Roles")

    @operation("UpdateRole", resources=res.role)
    def update_role(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params, role=True)
        role = self.directory.role(ctx.account, params["RoleName"])
        changes = {}
        if "Description" in params:
            changes["Description"] = params["Description"]
        if "MaxSessionDuration" in params:
            changes["MaxSessionDuration"] = _max_session(params["MaxSessionDuration"])
        self.store.update_spec(ROLE, role.id, lambda s: {**s, **changes})
        return {}

    @operation("UpdateRoleDescription", resources=res.role)
    def update_role_description(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params, role=True)
        role = self.directory.role(ctx.account, params["RoleName"])
        updated = self.store.update_spec(ROLE, role.id, lambda s: {**s, "Description": params["Description"]})
        return {"Role": shapes.role(updated)}

    @operation("UpdateAssumeRolePolicy", resources=res.role)
    def update_assume_role_policy(self, ctx: RequestContext, params: dict) -> dict:
        role = self.directory.role(ctx.account, params["RoleName"])
        trust = check_document(params["PolicyDocument"], "trust", "trust")
        self.store.update_spec(ROLE, role.id, lambda s: {**s, "Trust": trust})
        return {}

    @operation("DeleteRole", resources=res.role)
    def delete_role(self, ctx: RequestContext, params: dict) -> dict:
        role = self.directory.role(ctx.account, params["RoleName"])
        if self._profiles_of(role):
            raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
        if role.spec["Inline"]:
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        if role.spec["Attached"]:
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        self.store.delete(ROLE, role.id)
        return {}

    @operation("TagRole", resources=res.role, condition_keys=res.request_tags)
    def tag_role(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        role = self.directory.role(ctx.account, params["RoleName"])
        self.store.set_tags(ROLE, role.id, {t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    @operation("UntagRole", resources=res.role)
    def untag_role(self, ctx: RequestContext, params: dict) -> dict:
        role = self.directory.role(ctx.account, params["RoleName"])
        self.store.delete_tags(ROLE, role.id, params["TagKeys"])
        return {}

    @operation("ListRoleTags", resources=res.role)
    def list_role_tags(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.page(shapes.tags(self.directory.role(ctx.account, params["RoleName"])), params, "Tags")

    # ------------------------------------------------------------------ instance profiles
    def _profile(self, ctx: RequestContext, name: str) -> Record:
        record = self.directory.find(INSTANCE_PROFILE, ctx.account, name)
        if record is None:
            raise no_such_entity(f"Instance Profile {name} cannot be found.")
        return record

    def _roles(self, profile: Record) -> list[Record]:
        roles = []
        for role_id in profile.spec["Roles"]:
            try:
                roles.append(self.store.get(ROLE, role_id))
            except NotFound:
                continue
        return roles

    def _profiles_of(self, role: Record) -> list[Record]:
        return [p for p in self.store.list(INSTANCE_PROFILE, role.account) if role.id in p.spec["Roles"]]

    def _shape(self, profile: Record) -> dict:
        return shapes.instance_profile(profile, self._roles(profile))

    @operation("CreateInstanceProfile", resources=res.instance_profile, condition_keys=res.request_tags)
    def create_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        name = check_name(params["InstanceProfileName"], "instanceProfileName")
        path = check_path(params.get("Path"))
        if len(self.store.list(INSTANCE_PROFILE, ctx.account)) >= INSTANCE_PROFILES_PER_ACCOUNT:
            raise limit_exceeded(f"Cannot exceed quota for InstanceProfilesPerAccount: "
                                 f"{INSTANCE_PROFILES_PER_ACCOUNT}")
        spec = {"InstanceProfileName": name, "Path": path,
                "Arn": arns.iam_arn(ctx.account, "instance-profile", name, path), "CreateDate": self.clock(),
                "Roles": []}
        try:
            record = self.store.put(INSTANCE_PROFILE, ids.new_id("instance-profile"), ctx.account, spec,
                                    name=name.lower(), tags={t["Key"]: t["Value"] for t in params.get("Tags", [])})
        except Conflict:
            raise already_exists(f"Instance Profile {name} already exists.") from None
        return {"InstanceProfile": self._shape(record)}

    @operation("GetInstanceProfile", resources=res.instance_profile)
    def get_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        return {"InstanceProfile": self._shape(self._profile(ctx, params["InstanceProfileName"]))}

    @operation("ListInstanceProfiles", resources=res.anything)
    def list_instance_profiles(self, ctx: RequestContext, params: dict) -> dict:
        profiles = shapes.under_path(self.store.list(INSTANCE_PROFILE, ctx.account), params.get("PathPrefix"))
        return shapes.page([self._shape(p) for p in profiles], params, "InstanceProfiles")

    @operation("ListInstanceProfilesForRole", resources=res.role)
    def list_instance_profiles_for_role(self, ctx: RequestContext, params: dict) -> dict:
        role = self.directory.role(ctx.account, params["RoleName"])
        return shapes.page([self._shape(p) for p in self._profiles_of(role)], params, "InstanceProfiles")

    @operation("DeleteInstanceProfile", resources=res.instance_profile)
    def delete_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        profile = self._profile(ctx, params["InstanceProfileName"])
        if profile.spec["Roles"]:
            raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
        self.store.delete(INSTANCE_PROFILE, profile.id)
        return {}

    @operation("AddRoleToInstanceProfile", resources=res.instance_profile)
    def add_role_to_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        profile = self._profile(ctx, params["InstanceProfileName"])
        role = self.directory.role(ctx.account, params["RoleName"])
        if profile.spec["Roles"]:  # one role per profile, even the same one again
            raise limit_exceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
        self.store.update_spec(INSTANCE_PROFILE, profile.id, lambda s: {**s, "Roles": [role.id]})
        return {}

    @operation("RemoveRoleFromInstanceProfile", resources=res.instance_profile)
    def remove_role_from_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        profile = self._profile(ctx, params["InstanceProfileName"])
        role = self.directory.role(ctx.account, params["RoleName"])
        if role.id not in profile.spec["Roles"]:
            raise no_such_entity(f"Role {role.spec['RoleName']} in Instance Profile "
                                 f"{profile.spec['InstanceProfileName']} cannot be found.")
        self.store.update_spec(INSTANCE_PROFILE, profile.id,
                               lambda s: {**s, "Roles": [r for r in s["Roles"] if r != role.id]})
        return {}

    @operation("TagInstanceProfile", resources=res.instance_profile, condition_keys=res.request_tags)
    def tag_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        profile = self._profile(ctx, params["InstanceProfileName"])
        self.store.set_tags(INSTANCE_PROFILE, profile.id, {t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    @operation("UntagInstanceProfile", resources=res.instance_profile)
    def untag_instance_profile(self, ctx: RequestContext, params: dict) -> dict:
        profile = self._profile(ctx, params["InstanceProfileName"])
        self.store.delete_tags(INSTANCE_PROFILE, profile.id, params["TagKeys"])
        return {}

    @operation("ListInstanceProfileTags", resources=res.instance_profile)
    def list_instance_profile_tags(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.page(shapes.tags(self._profile(ctx, params["InstanceProfileName"])), params, "Tags")
