"""The `rest-xml` protocol (S3): REST bindings plus XML bodies, and S3's bare `<Error>` envelope."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, ParseError, SubElement, fromstring, tostring

from botocore.model import OperationModel, ServiceModel, Shape

from runtime.api.errors import INVALID, XML_SCHEMA_MESSAGE, WireError
from runtime.api.http import HttpResponse
from runtime.api.protocols.base import parse_scalar
from runtime.api.protocols.query import XML_DECLARATION
from runtime.api.protocols.rest import RestProtocol
from runtime.api.protocols.xmlwriter import member_key_name, write_members, write_value, xml_text
from runtime.errors import AwsError

_NAMESPACE = re.compile(r"^\{.*\}")


def _tag(element: Element) -> str:
    return _NAMESPACE.sub("", element.tag)


def read_xml(shape: Shape, element: Element | list[Element], path: str):
    """An XML element (or the repeated elements of a flattened list) to botocore's Python value."""
    kind = shape.type_name
    if kind == "list":
        items = element if isinstance(element, list) else (
            [element] if shape.serialization.get("flattened") else list(element))
        return [read_xml(shape.member, item, f"{path}[{i}]") for i, item in enumerate(items)]
    if isinstance(element, list):
        element = element[0]
    if kind == "structure":
        children: dict[str, list[Element]] = {}
        for child in element:
            children.setdefault(_tag(child), []).append(child)
        out = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            if member.serialization.get("xmlAttribute"):
                wire = member.serialization["name"]
                for key, value in element.attrib.items():
                    if key == wire or key.endswith("}" + wire.split(":")[-1]):
                        out[name] = value
                continue
            found = children.get(member_key_name(member, name))
            if found:
                flattened_list = member.type_name == "list" and member.serialization.get("flattened")
                out[name] = read_xml(member, found if flattened_list else found[0], f"{path}.{name}")
        return out
    if kind == "map":
        key_name = shape.key.serialization.get("name") or "key"
        value_name = shape.value.serialization.get("name") or "value"
        out = {}
        for entry in element:
            parts = {_tag(c): c for c in entry}
            if key_name in parts:
                out[read_xml(shape.key, parts[key_name], path)] = read_xml(
                    shape.value, parts.get(value_name, Element(value_name)), path)
        return out
    return parse_scalar(shape, element.text or "", path)


class RestXmlProtocol(RestProtocol):
    name = "rest-xml"
    content_type = "application/xml"
    always_body = False

    def _root(self, body: bytes, name: str) -> Element:
        try:
            return fromstring(body)
        except ParseError as exc:
            raise WireError(INVALID, name, XML_SCHEMA_MESSAGE) from exc

    def _parse_payload(self, member: Shape, body: bytes, name: str):
        return read_xml(member, self._root(body, name), name)

    def _parse_body(self, shape: Shape, members: dict[str, Shape], body: bytes) -> dict:
        value = read_xml(shape, self._root(body, "body"), "")
        return {k: v for k, v in value.items() if k in members}

    def _namespace(self, service: ServiceModel) -> str:
        return f"http://{service.endpoint_prefix}.amazonaws.com/doc/{service.api_version}/"

    def _encode_payload(self, operation: OperationModel, member_name: str, member: Shape, value) -> bytes:
        holder = Element("holder")
        write_value(holder, member.serialization.get("name", member_name), value, member)
        root = holder[0]
        root.set("xmlns", self._namespace(operation.service_model))
        return XML_DECLARATION + tostring(root, encoding="utf-8", xml_declaration=False)

    def _encode_body(self, operation: OperationModel, shape: Shape, body: dict) -> bytes:
        root = Element(shape.serialization.get("name", f"{operation.name}Result"),
                       xmlns=self._namespace(operation.service_model))
        write_members(root, body, shape)
        return XML_DECLARATION + tostring(root, encoding="utf-8", xml_declaration=False)

    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        response = super().serialize(operation, result, request_id)
        response.headers["x-amz-request-id"] = request_id
        return response

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str,
                        head: bool = False) -> HttpResponse:
        headers = {"x-amz-request-id": request_id, "Content-Type": "application/xml"}
        if head:
            return HttpResponse(error.status, headers, b"")
        root = Element("Error")
        SubElement(root, "Code").text = error.code
        SubElement(root, "Message").text = xml_text(error.message)
        for key, value in error.fields.items():
            SubElement(root, key).text = xml_text(str(value))
        SubElement(root, "RequestId").text = request_id
        return HttpResponse(error.status, headers,
                            XML_DECLARATION + tostring(root, encoding="utf-8", xml_declaration=False))
