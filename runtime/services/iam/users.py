"""IAM users, groups and access keys."""

from __future__ import annotations

import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, Conflict, NotFound
from runtime.services._shared import arns, ids
from runtime.services.iam import resources as res
from runtime.services.iam import shapes
from runtime.services.iam.directory import ACCESS_KEY, GROUP, USER, IamDirectory
from runtime.services.iam.errors import (check_free_text, already_exists, check_name, check_path, delete_conflict, limit_exceeded,
                                         no_such_entity, validation_error)
from runtime.state import Record, Store

ACCESS_KEYS_PER_USER = 2
USERS_PER_ACCOUNT = 5000
GROUPS_PER_ACCOUNT = 300
GROUPS_PER_USER = 10
NON_USER_CALLER = "Must specify userName when calling with non-User credentials"


class UsersProvider(res.PathResolver):
    def __init__(self, store: Store, directory: IamDirectory, clock=time.time) -> None:
        self.store = store
        self.directory = directory
        self.clock = clock

    def _named_or_caller(self, ctx: RequestContext, params: dict) -> Record:
        name = params.get("UserName")
        if name is None:
            if ctx.principal.kind != "user":
                raise validation_error(NON_USER_CALLER)
            name = ctx.principal.name
        return self.directory.user(ctx.account, name)

    # ------------------------------------------------------------------ users
    @operation("CreateUser", resources=res.user, condition_keys=res.request_tags)
    def create_user(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        name = check_name(params["UserName"], "userName")
        path = check_path(params.get("Path"))
        boundary = params.get("PermissionsBoundary")
        if boundary is not None and not self.directory.policy_exists(ctx.account, boundary):
            raise validation_error(f"Invalid permissions boundary: {boundary} does not exist or is not attachable.")
        if len(self.store.list(USER, ctx.account)) >= USERS_PER_ACCOUNT:
            raise limit_exceeded(f"Cannot exceed quota for UsersPerAccount: {USERS_PER_ACCOUNT}")
        spec = {"UserName": name, "Path": path, "Arn": arns.iam_arn(ctx.account, "user", name, path),
                "CreateDate": self.clock(), "Inline": {}, "Attached": [], "Groups": [], "Boundary": boundary}
        try:
            record = self.store.put(USER, ids.new_id("user"), ctx.account, spec, name=name.lower(),
                                    tags={t["Key"]: t["Value"] for t in params.get("Tags", [])})
        except Conflict:
            raise already_exists(f"User with name {name} already exists.") from None
        return {"User": shapes.user(record, with_tags=True)}

    @operation("GetUser", resources=res.user)
    def get_user(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("UserName") is None and ctx.principal.is_root:
            return {"User": {"UserId": ctx.account, "Arn": ctx.principal.arn,
                             "CreateDate": shapes.when(self._account_created(ctx))}}
        return {"User": shapes.user(self._named_or_caller(ctx, params), with_tags=True)}

    def _account_created(self, ctx: RequestContext) -> float:
        first = self.store.list(USER, ctx.account)
        return min([u.created for u in first], default=self.clock())

    @operation("ListUsers", resources=res.anything)
    def list_users(self, ctx: RequestContext, params: dict) -> dict:
        users = shapes.under_path(self.store.list(USER, ctx.account), params.get("PathPrefix"))
        return shapes.page([shapes.user(u) for u in users], params, "Users")

    @operation("UpdateUser", resources=res.user)
    def update_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self.directory.user(ctx.account, params["UserName"])
        if params.get("NewUserName") not in (None, user.spec["UserName"]):
            raise validation_error("Renaming users is not supported by Terrarium (issue 3).")
        if "NewPath" in params:
            path = check_path(params["NewPath"], "newPath")
            name = user.spec["UserName"]
            self.store.update_spec(USER, user.id, lambda s: {
                **s, "Path": path, "Arn": arns.iam_arn(ctx.account, "user", name, path)})
        return {}

    @operation("DeleteUser", resources=res.user)
    def delete_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self.directory.user(ctx.account, params["UserName"])
        if self.store.list(ACCESS_KEY, ctx.account, parent=user.id):
            raise delete_conflict("Cannot delete entity, must delete access keys first.")
        if user.spec["Inline"]:
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        if user.spec["Attached"]:
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        if user.spec["Groups"]:
            raise delete_conflict("Cannot delete entity, must remove users from group first.")
        self.store.delete(USER, user.id)
        return {}

    @operation("TagUser", resources=res.user, condition_keys=res.request_tags)
    def tag_user(self, ctx: RequestContext, params: dict) -> dict:
        check_free_text(params)
        user = self.directory.user(ctx.account, params["UserName"])
        self.store.set_tags(USER, user.id, {t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    @operation("UntagUser", resources=res.user)
    def untag_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self.directory.user(ctx.account, params["UserName"])
        self.store.delete_tags(USER, user.id, params["TagKeys"])
        return {}

    @operation("ListUserTags", resources=res.user)
    def list_user_tags(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.page(shapes.tags(self.directory.user(ctx.account, params["UserName"])), params, "Tags")

    # ------------------------------------------------------------------ groups
    @operation("CreateGroup", resources=res.group)
    def create_group(self, ctx: RequestContext, params: dict) -> dict:
        name = check_name(params["GroupName"], "groupName")
        path = check_path(params.get("Path"))
        if len(self.store.list(GROUP, ctx.account)) >= GROUPS_PER_ACCOUNT:
            raise limit_exceeded(f"Cannot exceed quota for GroupsPerAccount: {GROUPS_PER_ACCOUNT}")
        spec = {"GroupName": name, "Path": path, "Arn": arns.iam_arn(ctx.account, "group", name, path),
                "CreateDate": self.clock(), "Inline": {}, "Attached": []}
        try:
            record = self.store.put(GROUP, ids.new_id("group"), ctx.account, spec, name=name.lower())
        except Conflict:
            raise already_exists(f"Group with name {name} already exists.") from None
        return {"Group": shapes.group(record)}

    def _members(self, group: Record) -> list[Record]:
        return [u for u in self.store.list(USER, group.account) if group.id in u.spec["Groups"]]

    @operation("GetGroup", resources=res.group)
    def get_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self.directory.group(ctx.account, params["GroupName"])
        out = shapes.page([shapes.user(u) for u in self._members(group)], params, "Users")
        return {"Group": shapes.group(group), **out}

    @operation("ListGroups", resources=res.anything)
    def list_groups(self, ctx: RequestContext, params: dict) -> dict:
        groups = shapes.under_path(self.store.list(GROUP, ctx.account), params.get("PathPrefix"))
        return shapes.page([shapes.group(g) for g in groups], params, "Groups")

    @operation("ListGroupsForUser", resources=res.user)
    def list_groups_for_user(self, ctx: RequestContext, params: dict) -> dict:
        user = self.directory.user(ctx.account, params["UserName"])
        return shapes.page([shapes.group(g) for g in self.directory.groups_of(user)], params, "Groups")

    @operation("DeleteGroup", resources=res.group)
    def delete_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self.directory.group(ctx.account, params["GroupName"])
        if self._members(group):
            raise delete_conflict("Cannot delete entity, must remove users from group first.")
        if group.spec["Inline"]:
            raise delete_conflict("Cannot delete entity, must delete policies first.")
        if group.spec["Attached"]:
            raise delete_conflict("Cannot delete entity, must detach all policies first.")
        self.store.delete(GROUP, group.id)
        return {}

    @operation("AddUserToGroup", resources=res.group)
    def add_user_to_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self.directory.group(ctx.account, params["GroupName"])
        user = self.directory.user(ctx.account, params["UserName"])
        if group.id not in user.spec["Groups"]:
            if len(user.spec["Groups"]) >= GROUPS_PER_USER:
                raise limit_exceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
            self.store.update_spec(USER, user.id, lambda s: {**s, "Groups": s["Groups"] + [group.id]})
        return {}

    @operation("RemoveUserFromGroup", resources=res.group)
    def remove_user_from_group(self, ctx: RequestContext, params: dict) -> dict:
        group = self.directory.group(ctx.account, params["GroupName"])
        user = self.directory.user(ctx.account, params["UserName"])
        if group.id not in user.spec["Groups"]:
            raise no_such_entity(f"User {user.spec['UserName']} is not in group {group.spec['GroupName']}.")
        self.store.update_spec(USER, user.id, lambda s: {**s, "Groups": [g for g in s["Groups"] if g != group.id]})
        return {}

    # ------------------------------------------------------------------ access keys
    def _key(self, ctx: RequestContext, params: dict) -> tuple[Record, Record]:
        user = self._named_or_caller(ctx, params)
        key_id = params["AccessKeyId"]
        try:
            key = self.store.get(ACCESS_KEY, key_id)
        except NotFound:
            key = None
        if key is None or key.parent != user.id:
            raise no_such_entity(f"The Access Key with id {key_id} cannot be found.")
        return user, key

    @operation("CreateAccessKey", resources=res.user)
    def create_access_key(self, ctx: RequestContext, params: dict) -> dict:
        user = self._named_or_caller(ctx, params)
        with self.store.transaction():
            if len(self.store.list(ACCESS_KEY, ctx.account, parent=user.id)) >= ACCESS_KEYS_PER_USER:
                raise limit_exceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
            secret = ids.new_secret_key()
            key = self.store.put(ACCESS_KEY, ids.new_access_key(), ctx.account,
                                 {"UserName": user.spec["UserName"], "Secret": secret, "Status": "Active",
                                  "CreateDate": self.clock()}, parent=user.id)
        return {"AccessKey": {**shapes.access_key(key), "SecretAccessKey": secret}}

    @operation("ListAccessKeys", resources=res.user)
    def list_access_keys(self, ctx: RequestContext, params: dict) -> dict:
        user = self._named_or_caller(ctx, params)
        keys = self.store.list(ACCESS_KEY, ctx.account, parent=user.id)
        return shapes.page([shapes.access_key(k) for k in keys], params, "AccessKeyMetadata")

    @operation("UpdateAccessKey", resources=res.user)
    def update_access_key(self, ctx: RequestContext, params: dict) -> dict:
        _, key = self._key(ctx, params)
        self.store.update_spec(ACCESS_KEY, key.id, lambda s: {**s, "Status": params["Status"]})
        return {}

    @operation("DeleteAccessKey", resources=res.user)
    def delete_access_key(self, ctx: RequestContext, params: dict) -> dict:
        _, key = self._key(ctx, params)
        self.store.delete(ACCESS_KEY, key.id)
        return {}

    @operation("GetAccessKeyLastUsed", resources=res.anything)
    def get_access_key_last_used(self, ctx: RequestContext, params: dict) -> dict:
        key_id = params["AccessKeyId"]
        try:
            key = self.store.get(ACCESS_KEY, key_id)
        except NotFound:
            key = None
        if key is None or key.account != ctx.account:
            raise _foreign_key(ctx, key_id)
        used = key.status.get("LastUsedDate")
        last = ({"LastUsedDate": shapes.when(used), "ServiceName": key.status["ServiceName"],
                 "Region": key.status["Region"]} if used else {"ServiceName": "N/A", "Region": "N/A"})
        return {"UserName": key.spec["UserName"], "AccessKeyLastUsed": last}



def _foreign_key(ctx: RequestContext, key_id: str) -> AwsError:
    """GetAccessKeyLastUsed on a key the account does not own answers AccessDenied, as AWS does."""
    return AwsError("AccessDenied", f"User: {ctx.principal.arn} is not authorized to perform: "
                                    f"iam:GetAccessKeyLastUsed on resource: access key {key_id}", 403)
