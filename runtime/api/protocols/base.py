"""The contract every wire protocol implements, and the tree reader the form-encoded ones share."""

from __future__ import annotations

from abc import ABC, abstractmethod

from botocore.model import OperationModel, ServiceModel, Shape

from runtime.api import scalars
from runtime.api.errors import INVALID, WireError
from runtime.api.http import HttpRequest, HttpResponse
from runtime.errors import AwsError

REQUEST_ID_HEADER = "x-amzn-RequestId"


class Protocol(ABC):
    """Wire <-> typed dicts for one botocore protocol. Pure: no I/O, no service knowledge."""

    name: str

    @abstractmethod
    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel:
        """Which operation the request names; `UnknownOperation` when none."""

    @abstractmethod
    def parse(self, operation: OperationModel, request: HttpRequest) -> dict:
        """The operation's input as botocore's client would have been given it; `WireError` on bad values."""

    @abstractmethod
    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        """The operation's output as the service would send it."""

    @abstractmethod
    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        """The protocol's error envelope."""


def parse_scalar(shape: Shape, raw, path: str):
    """One leaf value from its wire text (or JSON scalar) to the Python type botocore uses."""
    kind = shape.type_name
    try:
        if kind == "string":
            if not isinstance(raw, str):
                raise ValueError("expected a string")
            return raw
        if kind in ("integer", "long", "short", "byte"):
            return scalars.parse_int(raw)
        if kind in ("float", "double"):
            return scalars.parse_float(raw)
        if kind == "boolean":
            return scalars.parse_bool(raw)
        if kind == "timestamp":
            return scalars.parse_timestamp(raw)
        if kind == "blob":
            return scalars.parse_blob(raw)
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise WireError(INVALID, path, f"Invalid value for parameter {path}: {exc}") from exc
    raise WireError(INVALID, path, f"Unsupported shape type {kind} for {path}")
