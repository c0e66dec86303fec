"""Checks on a function's configuration that Lambda makes beyond the botocore model's ranges."""

from __future__ import annotations

import json

from runtime.errors import AwsError
from runtime.services.lambda_.errors import invalid
from runtime.services.lambda_.runtimes import SUPPORTED

MAX_TIMEOUT = 900
MAX_MEMORY = 10240
MAX_ENV_BYTES = 4096
RESERVED_ENV = {"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
                "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
                "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "TZ"}


def _range_error(value: int, field: str, bound: int) -> AwsError:
    return AwsError("ValidationException", f"1 validation error detected: Value '{value}' at '{field}' failed to "
                                           f"satisfy constraint: Member must have value less than or equal to {bound}")


def check_runtime(runtime: str | None) -> None:
    if runtime not in SUPPORTED:
        raise invalid(f"The runtime parameter of {runtime} is not supported by this Lambda "
                      f"(supported: {', '.join(SUPPORTED)}).")


def check_limits(params: dict) -> None:
    if params.get("Timeout") is not None and params["Timeout"] > MAX_TIMEOUT:
        raise _range_error(params["Timeout"], "timeout", MAX_TIMEOUT)
    if params.get("MemorySize") is not None and params["MemorySize"] > MAX_MEMORY:
        raise _range_error(params["MemorySize"], "memorySize", MAX_MEMORY)
    size = (params.get("EphemeralStorage") or {}).get("Size")
    if size is not None and not 512 <= size <= 10240:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{size}' at "
                                              "'ephemeralStorage.size' failed to satisfy constraint: Member must "
                                              "have value between 512 and 10240")


def environment(params: dict) -> dict[str, str] | None:
    """The function's variables from `Environment`, or None if the request does not set them."""
    if "Environment" not in params:
        return None
    variables = (params["Environment"] or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED_ENV)
    if reserved:
        raise invalid("Lambda was unable to configure your environment variables because the environment "
                      "variables you have provided contains reserved keys that are currently not supported for "
                      f"modification. Reserved keys used in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENV_BYTES:
        raise invalid("Lambda was unable to configure your environment variables because the environment "
                      "variables you have provided exceeded the 4KB limit. String measured: " + measured)
    return dict(variables)
