"""Reserved concurrency and the asynchronous-invocation configuration (retries, event age, destinations)."""

from __future__ import annotations

import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.services._shared import arns
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.errors import invalid, not_found
from runtime.services.lambda_.naming import LATEST
from runtime.services.lambda_.service import LambdaService

UNRESERVED_MINIMUM = 100
DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE = 21600


def event_config(function_spec: dict, qualifier: str | None) -> dict:
    """The event-invoke config for a qualifier (falling back to none: AWS defaults)."""
    return function_spec.get("EventInvokeConfigs", {}).get(qualifier or LATEST) or {}


class ConcurrencyProvider:
    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.store = service.store

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    @operation("PutFunctionConcurrency", resources=naming.resources)
    def put_function_concurrency(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        wanted = params["ReservedConcurrentExecutions"]
        limit = getattr(self.service.sandbox, "account_concurrency", 1000)
        others = sum(f.spec.get("ReservedConcurrency") or 0 for f in self.store.list(shapes.FUNCTION, ctx.account)
                     if f.id != function.id)
        if wanted + others > limit - UNRESERVED_MINIMUM:
            raise invalid(f"Specified ReservedConcurrentExecutions for function decreases account's "
                          f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}].")
        self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {**s, "ReservedConcurrency": wanted})
        return {"ReservedConcurrentExecutions": wanted}

    @operation("GetFunctionConcurrency", resources=naming.resources)
    def get_function_concurrency(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        reserved = function.spec.get("ReservedConcurrency")
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    @operation("DeleteFunctionConcurrency", resources=naming.resources)
    def delete_function_concurrency(self, ctx: RequestContext, params: dict) -> dict:
        function = self.service.function(naming.from_params(ctx, params))
        self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {**s, "ReservedConcurrency": None})
        return {}

    # ------------------------------------------------------------------------- event invoke config

    def _check_destinations(self, ctx: RequestContext, destinations: dict | None) -> dict:
        out = {}
        for key in ("OnSuccess", "OnFailure"):
            arn = ((destinations or {}).get(key) or {}).get("Destination")
            if not arn:
                continue
            try:
                target = arns.parse_arn(arn)
            except ValueError:
                raise invalid(f"The destination ARN {arn} is invalid.") from None
            if target.service != "lambda":
                raise invalid(f"Terrarium delivers destinations to Lambda functions only, not {target.service}.")
            out[key] = {"Destination": arn}
        return out

    def _put(self, ctx: RequestContext, params: dict, merge: bool) -> dict:
        ref = naming.from_params(ctx, params)
        target = self.service.target(ref)
        qualifier = ref.qualifier or LATEST
        current = event_config(target.function.spec, qualifier) if merge else {}
        config = dict(current)
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in params:
                config[key] = params[key]
        if "DestinationConfig" in params or not merge:
            config["DestinationConfig"] = self._check_destinations(ctx, params.get("DestinationConfig"))
        config["LastModified"] = time.time()
        self.store.update_spec(shapes.FUNCTION, target.function.id, lambda s: {
            **s, "EventInvokeConfigs": {**s.get("EventInvokeConfigs", {}), qualifier: config}})
        return self._shape(ref, config)

    @staticmethod
    def _shape(ref: naming.FunctionRef, config: dict) -> dict:
        out = {"FunctionArn": ref.qualified_arn if ref.qualifier else f"{ref.arn}:{LATEST}",
               "LastModified": config["LastModified"],
               "DestinationConfig": {k: config.get("DestinationConfig", {}).get(k, {})
                                     for k in ("OnSuccess", "OnFailure")}}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                out[key] = config[key]
        return out

    @operation("PutFunctionEventInvokeConfig", resources=naming.resources)
    def put_event_invoke_config(self, ctx: RequestContext, params: dict) -> dict:
        return self._put(ctx, params, merge=False)

    @operation("UpdateFunctionEventInvokeConfig", resources=naming.resources)
    def update_event_invoke_config(self, ctx: RequestContext, params: dict) -> dict:
        return self._put(ctx, params, merge=True)

    @operation("GetFunctionEventInvokeConfig", resources=naming.resources)
    def get_event_invoke_config(self, ctx: RequestContext, params: dict) -> dict:
        ref = naming.from_params(ctx, params)
        config = event_config(self.service.target(ref).function.spec, ref.qualifier)
        if not config:
            raise not_found(f"The function {ref.qualified_arn if ref.qualifier else ref.arn + ':' + LATEST} "
                            "doesn't have an EventInvokeConfig")
        return self._shape(ref, config)

    @operation("DeleteFunctionEventInvokeConfig", resources=naming.resources)
    def delete_event_invoke_config(self, ctx: RequestContext, params: dict) -> dict:
        ref = naming.from_params(ctx, params)
        function = self.service.target(ref).function
        qualifier = ref.qualifier or LATEST
        if not event_config(function.spec, qualifier):
            raise not_found(f"The function {ref.qualified_arn} doesn't have an EventInvokeConfig")
        self.store.update_spec(shapes.FUNCTION, function.id, lambda s: {
            **s, "EventInvokeConfigs": {k: v for k, v in s.get("EventInvokeConfigs", {}).items() if k != qualifier}})
        return {}


