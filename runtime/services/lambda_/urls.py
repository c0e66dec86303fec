"""Function URL configurations (Create/Get/Update/Delete/ListFunctionUrlConfigs).

URLs are served on Terrarium's own endpoint, path-based: `<endpoint>/_terrarium/lambda-url/<url-id>/<path>`
(`web.py`), because a client reaches one host:port and needs no wildcard DNS for `<url-id>.lambda-url.<region>.on.aws`.
"""

from __future__ import annotations

import secrets
import string
import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import Conflict, NotFound
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.errors import conflict, invalid, not_found
from runtime.services.lambda_.naming import LATEST
from runtime.services.lambda_.service import LambdaService

URL_PATH = "/_terrarium/lambda-url/"
_ALPHABET = string.ascii_lowercase + string.digits


def new_url_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))


def iso(epoch: float) -> str:
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}Z"


class UrlsProvider:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.store = service.store

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    def _ref(self, ctx: RequestContext, params: dict) -> naming.FunctionRef:
        ref = naming.from_params(ctx, params)
        if ref.qualifier and ref.qualifier.isdigit():
            raise invalid("Function URLs can be attached to $LATEST or an alias, not a version.")
        self.service.target(ref)
        return ref

    def _find(self, ref: naming.FunctionRef):
        record = self.store.find(shapes.URL, ref.account, f"{ref.name}:{ref.qualifier or LATEST}")
        if record is None:
            raise not_found("The resource you requested does not exist.")
        return record

    @staticmethod
    def _shape(record) -> dict:
        spec = record.spec
        out = {"FunctionUrl": spec["FunctionUrl"], "FunctionArn": spec["FunctionArn"], "AuthType": spec["AuthType"],
               "CreationTime": iso(spec["CreationTime"]), "LastModifiedTime": iso(spec["LastModifiedTime"]),
               "InvokeMode": spec.get("InvokeMode", "BUFFERED")}
        if spec.get("Cors"):
            out["Cors"] = spec["Cors"]
        return out

    @operation("CreateFunctionUrlConfig", resources=naming.resources)
    def create_url(self, ctx: RequestContext, params: dict) -> dict:
        ref = self._ref(ctx, params)
        url_id = new_url_id()
        now = time.time()
        spec = {"FunctionUrl": f"{self.service.function_url_base}{URL_PATH}{url_id}/",
                "FunctionArn": ref.qualified_arn if ref.qualifier else ref.arn, "Qualifier": ref.qualifier,
                "AuthType": params["AuthType"], "Cors": params.get("Cors"),
                "InvokeMode": params.get("InvokeMode", "BUFFERED"), "CreationTime": now, "LastModifiedTime": now}
        try:
            record = self.store.put(shapes.URL, url_id, ctx.account, spec, name=f"{ref.name}:{ref.qualifier or LATEST}",
                                    parent=ref.arn)
        except Conflict:
            raise conflict(f"Failed to create function url config for [functionArn = {spec['FunctionArn']}]. "
                           "Error message:  FunctionUrlConfig exists for this Lambda function") from None
        return self._shape(record)

    @operation("GetFunctionUrlConfig", resources=naming.resources)
    def get_url(self, ctx: RequestContext, params: dict) -> dict:
        return self._shape(self._find(self._ref(ctx, params)))

    @operation("UpdateFunctionUrlConfig", resources=naming.resources)
    def update_url(self, ctx: RequestContext, params: dict) -> dict:
        record = self._find(self._ref(ctx, params))
        changes = {k: params[k] for k in ("AuthType", "Cors", "InvokeMode") if k in params}
        record = self.store.update_spec(shapes.URL, record.id,
                                        lambda s: {**s, **changes, "LastModifiedTime": time.time()})
        return self._shape(record)

    @operation("DeleteFunctionUrlConfig", resources=naming.resources)
    def delete_url(self, ctx: RequestContext, params: dict) -> dict:
        record = self._find(self._ref(ctx, params))
        try:
            self.store.delete(shapes.URL, record.id)
        except NotFound:
            pass
        return {}

    @operation("ListFunctionUrlConfigs", resources=naming.resources)
    def list_urls(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        return {"FunctionUrlConfigs": [self._shape(r) for r in self.store.list(shapes.URL, ctx.account,
                                                                                parent=function.id)]}
