"""The `json` (awsJson 1.0/1.1, e.g. CloudWatch Logs) and `rest-json` (Lambda) protocols."""

from __future__ import annotations

import json

from botocore.model import OperationModel, ServiceModel, Shape

from runtime.api import scalars
from runtime.api.errors import INVALID, UnknownOperation, WireError
from runtime.api.http import HttpRequest, HttpResponse
from runtime.api.protocols.base import REQUEST_ID_HEADER, Protocol, parse_scalar
from runtime.api.protocols.rest import RestProtocol
from runtime.errors import AwsError


def load_json(body: bytes, path: str = "body"):
    try:
        return json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(INVALID, path, "The request body is not valid JSON.") from exc


def read_value(shape: Shape, value, path: str):
    """A JSON value to the Python type botocore's client would have been given."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        if shape.is_document_type:
            return value
        if not isinstance(value, dict):
            raise WireError(INVALID, path, f"Expected an object for {path}")
        return read_members(shape.members, value, path)
    if kind == "list":
        if not isinstance(value, list):
            raise WireError(INVALID, path, f"Expected a list for {path}")
        return [read_value(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise WireError(INVALID, path, f"Expected a map for {path}")
        return {k: read_value(shape.value, v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (dict, list)):  # an object or array where the model has a scalar
        raise WireError(INVALID, path, f"Expected a {kind} for {path}")
    if kind == "string" and not isinstance(value, str):
        raise WireError(INVALID, path, f"Expected a string for {path}")
    if kind in ("integer", "long") and (isinstance(value, str) or isinstance(value, float) and not value.is_integer()):
        raise WireError(INVALID, path, f"Expected an integer for {path}")
    if kind == "boolean" and not isinstance(value, bool):
        raise WireError(INVALID, path, f"Expected a boolean for {path}")
    return parse_scalar(shape, value, path)


def read_members(members: dict[str, Shape], value: dict, path: str) -> dict:
    out = {}
    for name, member in members.items():
        wire = member.serialization.get("name", name)
        if wire in value and value[wire] is not None:
            out[name] = read_value(member, value[wire], f"{path}.{name}" if path else name)
    return out


def write_value(shape: Shape, value):
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        return write_members(shape, value)
    if kind == "list":
        return [write_value(shape.member, item) for item in value]
    if kind == "map":
        return {k: write_value(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return scalars.format_timestamp(value, shape.serialization.get("timestampFormat", "unixtimestamp"))
    if kind == "blob":
        return scalars.b64(value)
    if kind in ("float", "double"):
        return float(value)
    return value


def write_members(shape: Shape, value: dict) -> dict:
    return {member.serialization.get("name", name): write_value(member, value[name])
            for name, member in shape.members.items() if value.get(name) is not None}


class JsonProtocol(Protocol):
    name = "json"

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel:
        target = request.headers.get("X-Amz-Target", "")
        prefix, _, action = target.rpartition(".")
        if prefix != service.metadata.get("targetPrefix") or action not in service.operation_names:
            raise UnknownOperation("UnknownOperationException", f"Unknown operation {target}")
        return service.operation_model(action)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict:
        shape = operation.input_shape
        if shape is None:
            return {}
        body = load_json(request.body)
        if not isinstance(body, dict):
            raise WireError(INVALID, "body", "The request body must be a JSON object.")
        return read_members(shape.members, body, "")

    def _content_type(self, service: ServiceModel) -> str:
        return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"

    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        body = write_members(operation.output_shape, result) if operation.output_shape else {}
        return HttpResponse(200, {"Content-Type": self._content_type(operation.service_model),
                                  REQUEST_ID_HEADER: request_id}, json.dumps(body).encode())

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        body = {"__type": error.code, "message": error.message, **error.fields}
        return HttpResponse(error.status, {"Content-Type": self._content_type(service),
                                           REQUEST_ID_HEADER: request_id, "x-amzn-ErrorType": error.code},
                            json.dumps(body).encode())


class RestJsonProtocol(RestProtocol):
    name = "rest-json"

    def _parse_body(self, shape: Shape, members: dict[str, Shape], body: bytes) -> dict:
        value = load_json(body)
        if not isinstance(value, dict):
            raise WireError(INVALID, "body", "The request body must be a JSON object.")
        return read_members(members, value, "")

    def _parse_payload(self, member: Shape, body: bytes, name: str):
        return read_value(member, load_json(body, name), name)

    def _encode_body(self, operation: OperationModel, shape: Shape, body: dict) -> bytes:
        return json.dumps(write_members(shape, body)).encode()

    def _encode_payload(self, operation: OperationModel, member_name: str, member: Shape, value) -> bytes:
        return json.dumps(write_value(member, value)).encode()

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        """The body keys and headers the model's error shape names: its message member is `message` or
        `Message` as modelled, and fields the shape binds to a header (Lambda's `Retry-After`) go there."""
        headers = {"Content-Type": "application/json", REQUEST_ID_HEADER: request_id, "x-amzn-ErrorType": error.code}
        members = error_members(service, error.code)
        body = {"Type": "User" if error.sender_fault else "Service",
                "message" if "message" in members else "Message": error.message}
        for name, value in error.fields.items():
            member = members.get(name)
            if member is not None and member.serialization.get("location") == "header":
                headers[member.serialization.get("name", name)] = str(value)
            else:
                body[name] = value
        return HttpResponse(error.status, headers, json.dumps(body).encode())


def error_members(service: ServiceModel, code: str) -> dict:
    """Members of the modelled error shape for `code` (empty for an unmodelled code)."""
    for shape in service.error_shapes:
        if shape.metadata.get("error", {}).get("code", shape.name) == code:
            return dict(shape.members)
    return {}
