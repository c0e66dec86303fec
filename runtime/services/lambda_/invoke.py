"""Invoke: RequestResponse (run now, answer the result), Event (queue durably, 202), DryRun (204).

The caller's payload limits are checked here (6 MB sync, 1 MB async -> 413); the function's own failures
are not HTTP errors but 200 + X-Amz-Function-Error, as on AWS. Only a throttle (429) or a broken sandbox
(500) turn into errors.
"""

from __future__ import annotations

import base64
import binascii
import json

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.sandbox.ports import InvocationResult, SandboxThrottled, SandboxUnavailable
from runtime.services.lambda_ import naming
from runtime.services.lambda_.errors import service_error, throttled, too_large
from runtime.services.lambda_.service import LambdaService

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583


def check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except ValueError as exc:
        raise AwsError("InvalidRequestContentException",
                       f"Could not parse request body into json: Could not parse payload into json: {exc}") from None


def decode_client_context(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) > MAX_CLIENT_CONTEXT:
        raise AwsError("InvalidRequestContentException", "Client context must be 3583 bytes or fewer.")
    try:
        text = base64.b64decode(value, validate=True).decode()
        json.loads(text)
    except (binascii.Error, ValueError):
        raise AwsError("InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.") from None
    return text


def response(result: InvocationResult, version: str, tail: bool) -> dict:
    out = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": version}
    if result.function_error:
        out["FunctionError"] = result.function_error
    if tail:
        out["LogResult"] = base64.b64encode(result.log_tail.encode()).decode()
    return out


class InvokeProvider:
    def __init__(self, service: LambdaService) -> None:
        self.service = service

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    @operation("Invoke", action="lambda:InvokeFunction", resources=naming.resources)
    async def invoke(self, ctx: RequestContext, params: dict) -> dict:
        kind = params.get("InvocationType") or "RequestResponse"
        payload = bytes(params.get("Payload") or b"")
        limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
        if len(payload) > limit:
            raise too_large(limit)
        ref = naming.from_params(ctx, params)
        target = self.service.target(ref)
        check_json(payload)
        if kind == "DryRun":
            return {"StatusCode": 204}
        self.service.check_invocable(target)
        if kind == "Event":
            self.service.enqueue_async(target.function.id, payload, qualifier=ref.qualifier,
                                       request_id=ctx.request_id)
            return {"StatusCode": 202}
        client_context = decode_client_context(params.get("ClientContext"))
        try:
            result = await self.service.run(target, payload, request_id=ctx.request_id,
                                            client_context=client_context)
        except SandboxThrottled as exc:
            raise throttled(exc.reason, exc.message) from None
        except SandboxUnavailable as exc:
            raise service_error(f"The function could not be run: {exc}") from None
        return response(result, target.version, params.get("LogType") == "Tail")
