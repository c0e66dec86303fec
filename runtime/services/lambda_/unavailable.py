"""A SandboxPort for a server that cannot run sandboxes (no root, no bubblewrap): the control plane keeps
working and every invoke answers ServiceException with the reason."""

from __future__ import annotations

from runtime.sandbox.ports import FunctionSpec, InvocationResult, SandboxUnavailable


class UnavailableSandbox:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def invoke(self, fn: FunctionSpec, payload: bytes, *, request_id: str, client_context: str | None = None,
                     deadline_ms: int | None = None, invoked_arn: str | None = None) -> InvocationResult:
        raise SandboxUnavailable(self.reason)

    async def invalidate(self, function_arn: str) -> None:
        return None

    async def activity(self) -> dict:
        return {"environments": [], "invocations": []}

    async def close(self) -> None:
        return None
