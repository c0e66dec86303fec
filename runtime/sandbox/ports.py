"""The port the Lambda service calls to run one invocation, and the values that cross it.

The service owns AWS semantics (payload limits, qualifiers, async queues, the billing ledger); the sandbox
owns execution: a fresh isolated environment per invocation, the timeout, the memory limit and the figures
of the REPORT line, all measured here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from runtime.errors import TerrariumError

FunctionError = Literal["Unhandled", "Handled"]


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one function version.

    `code_dir` is the unzipped code (mounted read-only at /var/task); `rootfs` the runtime's filesystem
    (an exported image directory, or `Path("/")` for the host's own system directories, read-only).
    `code_sha256` and every other field except `role_credentials` and `reserved_concurrency` select the
    zygote: a change to any of them starts a fresh Init. `role_credentials` holds AccessKeyId/
    SecretAccessKey/SessionToken and is re-read at every invocation, so rotating them needs no new Init.
    `vpc_eni` is the Hyperplane ENI of a VPC function: each sandbox gets an `eth0` into its namespace
    (runtime/host/net/hyperplane.py); without it a sandbox has only `lo`.
    """

    name: str
    version: str
    arn: str
    handler: str
    runtime: str
    code_dir: Path
    memory_mb: int = 128
    timeout_s: float = 3
    environment: dict[str, str] = field(default_factory=dict)
    ephemeral_mb: int = 512
    role_credentials: dict[str, str] | None = None
    rootfs: Path = Path("/")
    code_sha256: str = ""
    reserved_concurrency: int | None = None
    vpc_eni: str | None = None


@dataclass(frozen=True)
class InvocationResult:
    """One finished invocation. `payload` is the handler's result or AWS's error object (JSON bytes).

    `log_stream_name` is the execution environment's stream (`YYYY/MM/DD/[<version>]<32 hex>`, new with
    every zygote, as AWS starts a stream per environment): where `logs` belong under /aws/lambda/<name>.
    `log_times` (epoch ms, one per line of `logs` when given) is when each line happened."""

    payload: bytes
    function_error: FunctionError | None
    log_tail: str
    logs: list[str]
    duration_ms: float
    billed_ms: int
    max_memory_mb: int
    init_duration_ms: float | None
    timed_out: bool
    error_type: str | None = None
    memory_size_mb: int = 128
    log_stream_name: str = ""
    log_times: tuple[int, ...] = ()


class SandboxThrottled(TerrariumError):
    """No capacity: `reason` is AWS's `Reason` for a TooManyRequestsException."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SandboxUnavailable(TerrariumError):
    """The sandbox machinery itself failed (not the function): the service answers ServiceException."""


class SandboxPort(Protocol):
    async def invoke(self, fn: FunctionSpec, payload: bytes, *, request_id: str,
                     client_context: str | None = None, deadline_ms: int | None = None,
                     invoked_arn: str | None = None) -> InvocationResult:
        """Run `payload` through `fn` in a fresh sandbox.

        `client_context` is the decoded ClientContext JSON text; `deadline_ms` an epoch-ms deadline
        (default: now + fn.timeout_s); `invoked_arn` the ARN as invoked, qualifier included (default fn.arn).
        Raises SandboxThrottled when reserved or account concurrency is exhausted.
        """
        ...

    async def invalidate(self, function_arn: str) -> None:
        """Code or configuration changed: retire every zygote of the function (in-flight calls finish)."""
        ...

    async def activity(self) -> dict:
        """What runs now, for `terrarium ps`: {"environments": [...], "invocations": [...]} (see SandboxManager)."""
        ...

    async def close(self) -> None:
        ...
