"""What rest-json and rest-xml share: matching a request to an operation by method and URI template, and
moving members between the URI, the query string, headers and the status code.

The body itself is left to the subclass (`_parse_body`, `_encode_body`).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from runtime.api import scalars
from runtime.api.errors import INVALID, UnknownOperation, WireError
from runtime.api.http import HttpRequest, HttpResponse
from runtime.api.protocols.base import REQUEST_ID_HEADER, Protocol, parse_scalar

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class UriTemplate:
    """A compiled `requestUri`: path regex, label names, and the literal query keys it requires."""

    operation: str
    method: str
    regex: re.Pattern
    labels: tuple[str, ...]
    literal_query: tuple[tuple[str, str | None], ...]
    literal_length: int

    @classmethod
    def compile(cls, operation: OperationModel) -> "UriTemplate":
        uri = operation.http["requestUri"]
        path, _, query = uri.partition("?")
        pattern, labels, last = "", [], 0
        for match in _LABEL.finditer(path):
            pattern += re.escape(path[last:match.start()])
            name = match.group(1)
            greedy = name.endswith("+")
            labels.append(name.rstrip("+"))
            pattern += "(.+)" if greedy else "([^/]+)"
            last = match.end()
        pattern += re.escape(path[last:])
        literal = tuple((k, v if "=" in part else None)
                        for part in query.split("&") if part
                        for k, _, v in [part.partition("=")])
        literal_length = len(_LABEL.sub("", path))
        return cls(operation.name, operation.http.get("method", "POST"), re.compile(f"^{pattern}/?$"),
                   tuple(labels), literal, literal_length)

    def match(self, method: str, path: str, query: dict[str, str]) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.regex.match(path)
        if not found:
            return None
        for key, value in self.literal_query:
            if key not in query or (value is not None and query[key] != value):
                return None
        return {name: unquote(text) for name, text in zip(self.labels, found.groups())}


class RestProtocol(Protocol):
    """Operation matching and location bindings; subclasses own the body format."""

    content_type = "application/json"
    always_body = True  # rest-json answers `{}` even when the output has no body members

    def __init__(self) -> None:
        self._templates: dict[str, list[UriTemplate]] = {}
        self._by_operation: dict[tuple[str, str], UriTemplate] = {}
        self._bindings: dict[tuple[str, str], list[tuple[str, Shape, str | None, str]]] = {}

    def templates(self, service: ServiceModel) -> list[UriTemplate]:
        key = service.service_name
        if key not in self._templates:
            compiled = [UriTemplate.compile(service.operation_model(name)) for name in service.operation_names]
            compiled.sort(key=lambda t: (len(t.literal_query), t.literal_length, -len(t.labels)), reverse=True)
            self._templates[key] = compiled
            self._by_operation.update({(key, t.operation): t for t in compiled})
        return self._templates[key]

    def _template(self, operation: OperationModel) -> UriTemplate:
        service = operation.service_model
        self.templates(service)
        return self._by_operation[(service.service_name, operation.name)]

    def _members(self, operation: OperationModel, shape: Shape) -> list[tuple[str, Shape, str | None, str]]:
        """(name, shape, location, wire name) of each input member, worked out once per operation: a request
        then costs no walk through botocore's shape properties."""
        key = (operation.service_model.service_name, operation.name)
        if key not in self._bindings:
            self._bindings[key] = [(name, member, member.serialization.get("location"),
                                    member.serialization.get("name", name)) for name, member in shape.members.items()]
        return self._bindings[key]

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel:
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        method = request.method.upper()
        if method == "HEAD" and service.service_name != "s3":
            method = "GET"
        for template in self.templates(service):
            if template.match(method, request.path, query) is not None:
                return service.operation_model(template.operation)
        raise UnknownOperation("UnknownOperationException",
                               f"No operation of {service.service_name} matches {request.method} {request.path}",
                               status=404)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict:
        shape = operation.input_shape
        if shape is None:
            return {}
        template = self._template(operation)
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        method = request.method.upper() if operation.service_model.service_name == "s3" else template.method
        labels = template.match(method, request.path, query) or {}
        multi_query = request.query
        out: dict = {}
        body_members: dict[str, Shape] = {}
        for name, member, location, wire_name in self._members(operation, shape):
            if location == "uri":
                if wire_name in labels:
                    out[name] = parse_scalar(member, labels[wire_name], name) \
                        if member.type_name != "string" else labels[wire_name]
            elif location == "querystring":
                value = self._query_member(member, wire_name, multi_query, shape, name)
                if value is not None:
                    out[name] = value
            elif location == "header":
                if wire_name in request.headers:
                    out[name] = self._header_value(member, request.headers.getall(wire_name), name)
            elif location == "headers":
                prefix = wire_name.lower()
                found = {k[len(prefix):]: v for k, v in request.headers.items() if k.lower().startswith(prefix)}
                if found:
                    out[name] = found
            elif location != "statusCode":
                body_members[name] = member
        payload = shape.serialization.get("payload")
        if payload:
            member = shape.members[payload]
            if member.type_name == "blob":
                if request.body:
                    out[payload] = request.body
            elif member.type_name == "string":
                if request.body:
                    out[payload] = self._decode_text(request.body, payload)
            elif request.body.strip():
                out[payload] = self._parse_payload(member, request.body, payload)
        elif body_members and request.body.strip():
            out.update(self._parse_body(shape, body_members, request.body))
        return out

    def _query_member(self, member: Shape, wire_name: str, query, shape: Shape, name: str):
        if member.type_name == "map":
            bound = {m.serialization.get("name", n) for n, m in shape.members.items()
                     if m.serialization.get("location") == "querystring" and n != name}
            out = {}
            for key in query:
                if key in bound:
                    continue
                values = query.getall(key)
                out[key] = values if member.value.type_name == "list" else values[-1]
            return out or None
        if wire_name not in query:
            return None
        if member.type_name == "list":
            return [parse_scalar(member.member, v, name) if member.member.type_name != "string" else v
                    for v in query.getall(wire_name)]
        return parse_scalar(member, query.getall(wire_name)[-1], name)

    def _header_value(self, member: Shape, values: list[str], name: str):
        text = ",".join(values)
        if member.type_name == "list":
            return [parse_scalar(member.member, item, name) for item in _split_header_list(text)]
        if member.type_name == "string" and member.serialization.get("jsonvalue"):
            try:
                return json.loads(base64.b64decode(text))
            except ValueError as exc:
                raise WireError(INVALID, name, f"Invalid JSON value header for {name}") from exc
        return parse_scalar(member, text, name)

    @staticmethod
    def _decode_text(body: bytes, name: str) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(INVALID, name, f"{name} is not valid UTF-8") from exc

    def _parse_payload(self, member: Shape, body: bytes, name: str):
        raise NotImplementedError

    def _parse_body(self, shape: Shape, members: dict[str, Shape], body: bytes) -> dict:
        raise NotImplementedError

    def _encode_body(self, operation: OperationModel, shape: Shape, body: dict) -> bytes:
        raise NotImplementedError

    def _encode_payload(self, operation: OperationModel, member_name: str, member: Shape, value) -> bytes:
        raise NotImplementedError

    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        status = int(operation.http.get("responseCode", 200))
        headers = {REQUEST_ID_HEADER: request_id}
        shape = operation.output_shape
        body = b""
        if shape is not None:
            body_values = {}
            for name, member in shape.members.items():
                if name not in result or result[name] is None:
                    continue
                value = result[name]
                location = member.serialization.get("location")
                wire_name = member.serialization.get("name", name)
                if location == "statusCode":
                    status = int(value)
                elif location == "header":
                    headers[wire_name] = _header_text(member, value)
                elif location == "headers":
                    for key, item in value.items():
                        headers[wire_name + key] = str(item)
                else:
                    body_values[name] = value
            payload = shape.serialization.get("payload")
            if payload:
                member = shape.members[payload]
                if payload in body_values:
                    value = body_values[payload]
                    if member.type_name in ("blob", "string"):
                        body = value.encode() if isinstance(value, str) else bytes(value)
                        headers.setdefault("Content-Type", "application/octet-stream")
                    else:
                        body = self._encode_payload(operation, payload, member, value)
                        headers["Content-Type"] = self.content_type
            elif body_values or self.always_body:
                body = self._encode_body(operation, shape, body_values)
                headers["Content-Type"] = self.content_type
        return HttpResponse(status, headers, body)



def _header_text(member: Shape, value) -> str:
    kind = member.type_name
    if kind == "timestamp":
        return str(scalars.format_timestamp(value, member.serialization.get("timestampFormat", "rfc822")))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return ",".join(_header_text(member.member, v) for v in value)
    if kind in ("float", "double"):
        return scalars.format_float(value)
    if kind == "string" and member.serialization.get("jsonvalue"):
        return scalars.b64(json.dumps(value, separators=(",", ":")))
    if kind == "blob":
        return scalars.b64(value)
    return str(value)


def _split_header_list(text: str) -> list[str]:
    """Comma-separated header lists, honouring botocore's quoting of items that contain commas or quotes."""
    items, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append(current.strip())
            current = ""
        else:
            current += char
    items.append(current.strip())
    return [i for i in items if i != ""]
