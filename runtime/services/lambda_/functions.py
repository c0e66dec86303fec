"""CreateFunction, GetFunction(Configuration), UpdateFunctionCode/Configuration, DeleteFunction, ListFunctions,
GetAccountSettings and tags.

A create or update records the new configuration with State=Pending (create) or LastUpdateStatus=InProgress
(update) and schedules activation (service.py); invokes and further updates are refused until then, as on AWS.
"""

from __future__ import annotations

import asyncio
import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import Conflict, NotFound
from runtime.services._shared import ids
from runtime.services.iam.directory import IamDirectory
from runtime.services.lambda_ import config_rules, naming, shapes, vpc_access
from runtime.services.lambda_.code import check_handler
from runtime.services.lambda_.errors import conflict, function_not_found, invalid, precondition
from runtime.services.lambda_.roles import check_execution_role
from runtime.services.lambda_.service import LambdaService
from runtime.services.lambda_.versions import publish

PAGE = 50


def _name_resource(ctx: RequestContext, params: dict) -> list[str]:
    return naming.resources(ctx, params)


class FunctionsProvider:
    def __init__(self, service: LambdaService, code_url, s3_code=None, iam: IamDirectory | None = None) -> None:
        self.service = service
        self.iam = iam or IamDirectory(service.store)  # reads execution roles' policies (VpcConfig needs EC2 rights)
        self.store = service.store
        self.code_url = code_url  # (sha_hex) -> presigned download URL
        self.s3_code = s3_code  # S3CodeSource, or None when the server has no S3

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    def required_actions(self, ctx: RequestContext, operation_name: str, params: dict) -> list[tuple]:
        """Giving a function a role passes the role to Lambda: `iam:PassRole` on it, as AWS requires."""
        if operation_name in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("Role"):
            return [("iam:PassRole", params["Role"], {"iam:PassedToService": "lambda.amazonaws.com"})]
        return []

    # --------------------------------------------------------------------------------- create

    @operation("CreateFunction", resources=_name_resource)
    async def create_function(self, ctx: RequestContext, params: dict) -> dict:
        ref = naming.from_params(ctx, params)
        if ref.qualifier is not None:
            raise invalid("Unqualified function name expected for CreateFunction.")
        if params.get("PackageType", "Zip") != "Zip":
            raise invalid("Terrarium runs Zip functions only (PackageType=Zip).")
        config_rules.check_runtime(params.get("Runtime"))
        if not params.get("Handler"):
            raise invalid("Handler is required for Zip functions.")
        check_handler(params["Handler"])
        config_rules.check_limits(params)
        env = config_rules.environment(params) or {}
        vpc = vpc_access.resolve(self.store, ctx.account, params.get("VpcConfig"))
        zip_bytes = await self._zip(params["Code"])
        role = check_execution_role(self.store, ctx.account, params["Role"])
        if vpc:
            vpc_access.check_role_manages_enis(self.iam, role)
        if self.store.find(shapes.FUNCTION, ctx.account, ref.name) is not None:
            raise conflict(f"Function already exist: {ref.name}")
        await asyncio.to_thread(self.service.code.validate, zip_bytes, params["Handler"])
        info = await asyncio.to_thread(self.service.code.save, zip_bytes)
        spec = {"FunctionName": ref.name, "FunctionArn": ref.arn, "Runtime": params["Runtime"],
                "Role": params["Role"], "Handler": params["Handler"], "Description": params.get("Description", ""),
                "Timeout": params.get("Timeout", 3), "MemorySize": params.get("MemorySize", 128),
                "Environment": env, "EphemeralStorage": (params.get("EphemeralStorage") or {}).get("Size", 512),
                "CodeSha256": info.sha_b64, "CodeHex": info.sha_hex, "CodeSize": info.size,
                "LastModified": time.time(), "RevisionId": ids.new_revision_id(),
                "VpcConfig": vpc, "HyperplaneEnis": [],
                "Architectures": params.get("Architectures") or ["x86_64"], "Policy": {},
                "ReservedConcurrency": None, "EventInvokeConfigs": {}, "LastVersion": 0}
        with self.store.transaction():
            try:
                record = self.store.put(shapes.FUNCTION, ref.arn, ctx.account, spec, name=ref.name,
                                        tags=params.get("Tags") or {})
            except Conflict:
                raise conflict(f"Function already exist: {ref.name}") from None
            if vpc:
                enis = vpc_access.create_enis(self.store, ctx.account, ref.name, ref.arn, vpc)
                record = self.store.update_spec(shapes.FUNCTION, ref.arn, lambda s: {**s, "HyperplaneEnis": enis})
            record = self.store.update_status(shapes.FUNCTION, ref.arn, {
                "State": "Pending", "StateReason": "The function is being created.",
                "StateReasonCode": "Creating", "LastUpdateStatus": "InProgress"})
            if params.get("Publish"):
                publish(self.store, record, description=params.get("Description", ""))
        self.service.schedule_activation(ref.arn)
        return shapes.configuration(record)

    async def _zip(self, code: dict) -> bytes:
        if code.get("ZipFile"):
            return bytes(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key") and self.s3_code is not None:
            return await asyncio.to_thread(self.s3_code.fetch, code["S3Bucket"], code["S3Key"],
                                           code.get("S3ObjectVersion"))
        if code.get("ImageUri"):
            raise invalid("Terrarium runs Zip functions only (ImageUri is not supported).")
        raise invalid("Please provide a source for function code.")

    # --------------------------------------------------------------------------------- read

    @operation("GetFunction", resources=_name_resource)
    def get_function(self, ctx: RequestContext, params: dict) -> dict:
        target = self.service.target(naming.from_params(ctx, params))
        function = target.function
        out = {"Configuration": shapes.configuration(target.config),
               "Code": {"RepositoryType": "S3", "Location": self.code_url(target.config.spec["CodeHex"])}}
        if function.tags:
            out["Tags"] = dict(function.tags)
        if function.spec.get("ReservedConcurrency") is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": function.spec["ReservedConcurrency"]}
        return out

    @operation("GetFunctionConfiguration", resources=_name_resource)
    def get_function_configuration(self, ctx: RequestContext, params: dict) -> dict:
        return shapes.configuration(self.service.target(naming.from_params(ctx, params)).config)

    @operation("ListFunctions")
    def list_functions(self, ctx: RequestContext, params: dict) -> dict:
        records = [r for r in self.store.list(shapes.FUNCTION, ctx.account) if r.id.split(":")[3] == ctx.region]
        records.sort(key=lambda r: r.name or "")
        configs = []
        for record in records:
            configs.append(shapes.configuration(record))
            if params.get("FunctionVersion") == "ALL":
                configs += [shapes.configuration(v) for v in _versions(self.store, record)]
        start = int(params["Marker"]) if params.get("Marker", "").isdigit() else 0
        size = min(params.get("MaxItems") or PAGE, PAGE)
        out = {"Functions": configs[start:start + size]}
        if start + size < len(configs):
            out["NextMarker"] = str(start + size)
        return out

    @operation("GetAccountSettings")
    def get_account_settings(self, ctx: RequestContext, params: dict) -> dict:
        functions = self.store.list(shapes.FUNCTION, ctx.account)
        total = sum(f.spec["CodeSize"] for f in functions)
        reserved = sum(f.spec.get("ReservedConcurrency") or 0 for f in functions)
        limit = getattr(self.service.sandbox, "account_concurrency", 1000)
        return {"AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                 "CodeSizeZipped": 52428800, "ConcurrentExecutions": limit,
                                 "UnreservedConcurrentExecutions": limit - reserved},
                "AccountUsage": {"TotalCodeSize": total, "FunctionCount": len(functions)}}

    # --------------------------------------------------------------------------------- update

    def _updatable(self, ctx: RequestContext, params: dict):
        ref = naming.from_params(ctx, params)
        function = self.service.function(ref)
        if function.status.get("State") == "Pending" or function.status.get("LastUpdateStatus") == "InProgress":
            raise conflict("The operation cannot be performed at this time. An update is in progress for "
                           f"resource: {function.id}")
        if params.get("RevisionId") and params["RevisionId"] != function.spec["RevisionId"]:
            raise precondition()
        return ref, function

    def _commit_update(self, function, changes: dict, publish_version: bool = False) -> dict:
        changes = {**changes, "LastModified": time.time(), "RevisionId": ids.new_revision_id()}
        with self.store.transaction():
            if "VpcConfig" in changes and changes["VpcConfig"] != function.spec.get("VpcConfig"):
                vpc_access.release(self.store, function.spec.get("HyperplaneEnis") or [])
                changes["HyperplaneEnis"] = vpc_access.create_enis(
                    self.store, function.account, function.spec["FunctionName"], function.id,
                    changes["VpcConfig"]) if changes["VpcConfig"] else []
            record = self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {**s, **changes})
            record = self.store.update_status(shapes.FUNCTION, function.id, {
                "LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "The function is being updated.",
                "LastUpdateStatusReasonCode": None})
            if publish_version:
                publish(self.store, record)
        self.service.schedule_activation(function.id)
        return shapes.configuration(record)

    @operation("UpdateFunctionCode", resources=_name_resource)
    async def update_function_code(self, ctx: RequestContext, params: dict) -> dict:
        ref, function = self._updatable(ctx, params)
        zip_bytes = await self._zip(params)
        await asyncio.to_thread(self.service.code.validate, zip_bytes, function.spec["Handler"])
        if params.get("DryRun"):
            return shapes.configuration(function)
        info = await asyncio.to_thread(self.service.code.save, zip_bytes)
        return self._commit_update(function, {"CodeSha256": info.sha_b64, "CodeHex": info.sha_hex,
                                              "CodeSize": info.size}, bool(params.get("Publish")))

    @operation("UpdateFunctionConfiguration", resources=_name_resource)
    async def update_function_configuration(self, ctx: RequestContext, params: dict) -> dict:
        ref, function = self._updatable(ctx, params)
        config_rules.check_limits(params)
        changes: dict = {}
        if "Runtime" in params:
            config_rules.check_runtime(params["Runtime"])
            changes["Runtime"] = params["Runtime"]
        if "Handler" in params:
            check_handler(params["Handler"])
            changes["Handler"] = params["Handler"]
            zip_bytes = await asyncio.to_thread(self.service.code.read, function.spec["CodeHex"])
            await asyncio.to_thread(self.service.code.validate, zip_bytes, params["Handler"])
        if "Role" in params:
            check_execution_role(self.store, ctx.account, params["Role"])
            changes["Role"] = params["Role"]
        env = config_rules.environment(params)
        if env is not None:
            changes["Environment"] = env
        for key in ("Description", "Timeout", "MemorySize"):
            if key in params:
                changes[key] = params[key]
        if "EphemeralStorage" in params:
            changes["EphemeralStorage"] = params["EphemeralStorage"]["Size"]
        if "VpcConfig" in params:
            changes["VpcConfig"] = vpc_access.resolve(self.store, ctx.account, params["VpcConfig"])
        if changes.get("VpcConfig", function.spec.get("VpcConfig")) and ("VpcConfig" in changes or "Role" in changes):
            role = check_execution_role(self.store, ctx.account, changes.get("Role", function.spec["Role"]))
            vpc_access.check_role_manages_enis(self.iam, role)
        return self._commit_update(function, changes)

    # --------------------------------------------------------------------------------- delete

    @operation("DeleteFunction", resources=_name_resource)
    async def delete_function(self, ctx: RequestContext, params: dict) -> dict:
        ref = naming.from_params(ctx, params)
        function = self.service.function(ref)
        if ref.qualifier not in (None, naming.LATEST):
            if not ref.qualifier.isdigit():
                raise invalid("Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.")
            try:
                self.store.delete(shapes.VERSION, ref.qualified_arn)
            except NotFound:
                raise function_not_found(ref.qualified_arn) from None
            except Conflict:
                raise conflict("Version is referenced by an alias or function URL.") from None
            return {}
        with self.store.transaction():
            for kind in (shapes.URL, shapes.ALIAS, shapes.VERSION):
                for child in self.store.list(kind, ctx.account, parent=function.id):
                    self.store.delete(kind, child.id)
            self.store.delete(shapes.FUNCTION, function.id)
            vpc_access.release(self.store, function.spec.get("HyperplaneEnis") or [])
        await self.service.sandbox.invalidate(function.id)
        return {}

    # --------------------------------------------------------------------------------- tags

    def _by_arn(self, ctx: RequestContext, arn: str):
        return self.service.function(naming.parse(ctx.region, ctx.account, arn))

    @operation("TagResource", resources=lambda ctx, p: [p["Resource"]])
    def tag_resource(self, ctx: RequestContext, params: dict) -> dict:
        self.store.set_tags(shapes.FUNCTION, self._by_arn(ctx, params["Resource"]).id, params["Tags"])
        return {}

    @operation("UntagResource", resources=lambda ctx, p: [p["Resource"]])
    def untag_resource(self, ctx: RequestContext, params: dict) -> dict:
        self.store.delete_tags(shapes.FUNCTION, self._by_arn(ctx, params["Resource"]).id, params["TagKeys"])
        return {}

    @operation("ListTags", resources=lambda ctx, p: [p["Resource"]])
    def list_tags(self, ctx: RequestContext, params: dict) -> dict:
        return {"Tags": dict(self._by_arn(ctx, params["Resource"]).tags)}


def _versions(store, function) -> list:
    return sorted(store.list(shapes.VERSION, function.account, parent=function.id),
                  key=lambda r: int(r.spec["Version"]))

