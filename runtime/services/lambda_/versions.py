"""PublishVersion, ListVersionsByFunction and aliases.

A version is a frozen copy of $LATEST's configuration (`lambda.version`, child of the function). Publishing
when $LATEST has not changed since the last version returns that version, as AWS does.
"""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import Conflict, NotFound
from runtime.services._shared import ids
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.errors import conflict, invalid, not_found, precondition
from runtime.services.lambda_.naming import LATEST
from runtime.services.lambda_.service import LambdaService
from runtime.state import Record, Store

ALIAS_NAME_ERROR = "Alias name must not be a version number or $LATEST."


def publish(store: Store, function: Record, description: str | None = None) -> Record:
    """Publish $LATEST as the next version (or return the latest one if nothing changed). Blocking."""
    spec = function.spec
    with store.transaction():
        last = spec.get("LastVersion", 0)
        if last:
            previous = store.get(shapes.VERSION, f"{function.id}:{last}")
            if all(previous.spec.get(k) == spec.get(k) for k in shapes.CONFIG_KEYS if k != "Description"):
                return previous
        number = last + 1
        snapshot = {k: spec.get(k) for k in shapes.CONFIG_KEYS}
        snapshot.update(FunctionArn=function.id, Version=str(number), RevisionId=ids.new_revision_id())
        if description is not None:
            snapshot["Description"] = description
        record = store.put(shapes.VERSION, f"{function.id}:{number}", function.account, snapshot,
                           name=f"{spec['FunctionName']}:{number}", parent=function.id)
        store.update_spec(shapes.FUNCTION, function.id, lambda s: {**s, "LastVersion": number})
    return record


class VersionsProvider:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.store = service.store

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    @operation("PublishVersion", resources=naming.resources)
    def publish_version(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        if function.status.get("State") != "Active" or function.status.get("LastUpdateStatus") == "InProgress":
            raise conflict("The operation cannot be performed at this time. An update is in progress for "
                           f"resource: {function.id}")
        if params.get("CodeSha256") and params["CodeSha256"] != function.spec["CodeSha256"]:
            raise invalid("CodeSHA256 did not match the current code.")
        if params.get("RevisionId") and params["RevisionId"] != function.spec["RevisionId"]:
            raise precondition()
        return shapes.configuration(publish(self.store, function, params.get("Description")))

    @operation("ListVersionsByFunction", resources=naming.resources)
    def list_versions(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        versions = sorted(self.store.list(shapes.VERSION, ctx.account, parent=function.id),
                          key=lambda r: int(r.spec["Version"]))
        configs = [shapes.configuration(function)] + [shapes.configuration(v) for v in versions]
        return _page(configs, params, "Versions")

    # --------------------------------------------------------------------------------- aliases

    def _check_version(self, function: Record, version: str) -> None:
        if version != LATEST and not self.store.find(shapes.VERSION, function.account,
                                                     f"{function.spec['FunctionName']}:{version}"):
            raise not_found(f"Function not found: {function.id}:{version}")

    def _alias(self, ctx: RequestContext, params: dict) -> tuple[Record, Record]:
        ref = naming.parse(ctx.region, ctx.account, params["FunctionName"])
        function = self.service.function(ref)
        try:
            return function, self.store.get(shapes.ALIAS, f"{function.id}:{params['Name']}")
        except NotFound:
            raise not_found(f"Alias not found: {function.id}:{params['Name']}") from None

    @operation("CreateAlias", resources=naming.resources)
    def create_alias(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.parse(ctx.region, ctx.account, params["FunctionName"]))
        name = params["Name"]
        if name == LATEST or name.isdigit():
            raise invalid(ALIAS_NAME_ERROR)
        self._check_version(function, params["FunctionVersion"])
        spec = {"Name": name, "FunctionVersion": params["FunctionVersion"],
                "Description": params.get("Description", ""), "RoutingConfig": params.get("RoutingConfig"),
                "RevisionId": ids.new_revision_id()}
        try:
            record = self.store.put(shapes.ALIAS, f"{function.id}:{name}", ctx.account, spec,
                                    name=f"{function.spec['FunctionName']}:{name}", parent=function.id)
        except Conflict:
            raise conflict(f"Alias already exists: {function.id}:{name}") from None
        return shapes.alias(record)

    @operation("GetAlias", resources=naming.resources)
    def get_alias(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.alias(self._alias(ctx, params)[1])

    @operation("UpdateAlias", resources=naming.resources)
    def update_alias(self, ctx: RequestContext, params: dict) -> dict:
        function, alias = self._alias(ctx, params)
        if params.get("RevisionId") and params["RevisionId"] != alias.spec["RevisionId"]:
            raise precondition()
        changes = {k: params[k] for k in ("FunctionVersion", "Description", "RoutingConfig") if k in params}
        if "FunctionVersion" in changes:
            self._check_version(function, changes["FunctionVersion"])
        record = self.store.update_spec(shapes.ALIAS, alias.id,
                                        lambda s: {**s, **changes, "RevisionId": ids.new_revision_id()})
        return shapes.alias(record)

    @operation("DeleteAlias", resources=naming.resources)
    def delete_alias(self, ctx: RequestContext, params: dict) -> dict:
        _, alias = self._alias(ctx, params)
        self.store.delete(shapes.ALIAS, alias.id)
        return {}

    @operation("ListAliases", resources=naming.resources)
    def list_aliases(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.parse(ctx.region, ctx.account, params["FunctionName"]))
        aliases = [shapes.alias(a) for a in self.store.list(shapes.ALIAS, ctx.account, parent=function.id)
                   if not params.get("FunctionVersion") or a.spec["FunctionVersion"] == params["FunctionVersion"]]
        return _page(aliases, params, "Aliases")


def _page(items: list, params: dict, key: str) -> dict:
    start = int(params["Marker"]) if str(params.get("Marker", "")).isdigit() else 0
    size = min(params.get("MaxItems") or 50, 50)
    out = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextMarker"] = str(start + size)
    return out
