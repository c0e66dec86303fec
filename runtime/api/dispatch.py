"""One operation, one provider method.

A provider is any object whose methods carry `@operation("Name")`. The decorator also records what IAM must
allow before the method runs: the action (default `<service>:<Name>`) and a function from the request to the
resource ARNs it touches (default `*`), so enforcement happens in the gateway, once, for every operation.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from runtime.api.context import RequestContext

ResourceFn = Callable[[RequestContext, dict], list[str]]
Handler = Callable[[RequestContext, dict], Awaitable[dict] | dict]


@dataclass(frozen=True)
class OperationSpec:
    name: str
    action: str | None
    resources: ResourceFn | None
    condition_keys: Callable[[RequestContext, dict], dict] | None


def operation(name: str, *, action: str | None = None, resources: ResourceFn | None = None,
              condition_keys: Callable[[RequestContext, dict], dict] | None = None):
    def mark(func):
        func.__aws_operation__ = OperationSpec(name, action, resources, condition_keys)
        return func
    return mark


@dataclass(frozen=True)
class BoundOperation:
    service: str
    spec: OperationSpec
    handler: Handler

    @property
    def action(self) -> str:
        return self.spec.action or f"{self.service}:{self.spec.name}"

    def resources(self, ctx: RequestContext, params: dict) -> list[str]:
        return self.spec.resources(ctx, params) if self.spec.resources else ["*"]

    def condition_keys(self, ctx: RequestContext, params: dict) -> dict:
        return self.spec.condition_keys(ctx, params) if self.spec.condition_keys else {}

    async def __call__(self, ctx: RequestContext, params: dict) -> dict:
        result: Any = self.handler(ctx, params)
        if inspect.isawaitable(result):
            result = await result
        return result or {}


class Dispatcher:
    """The table of implemented operations, keyed by (service, operation)."""

    def __init__(self) -> None:
        self._table: dict[tuple[str, str], BoundOperation] = {}

    def register(self, service: str, provider: object) -> None:
        for _, method in inspect.getmembers(provider, callable):
            spec = getattr(method, "__aws_operation__", None)
            if spec is None:
                continue
            key = (service, spec.name)
            if key in self._table:
                raise ValueError(f"{service}:{spec.name} is implemented twice")
            self._table[key] = BoundOperation(service, spec, method)

    def get(self, service: str, operation_name: str) -> BoundOperation | None:
        return self._table.get((service, operation_name))

    def operations(self, service: str) -> list[str]:
        return sorted(op for svc, op in self._table if svc == service)
