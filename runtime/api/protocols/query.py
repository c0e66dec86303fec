"""The `query` (IAM, STS) and `ec2` protocols: form-encoded input, XML output.

Input keys are dotted paths (`Filter.1.Value.2`); they are read into a trie once and then walked along the
input shape, so each member is found by name rather than by scanning every key. The two dialects differ only in
member naming (EC2: `queryName`, else capitalised `locationName`), list encoding (EC2 lists are always
`Name.N`; query lists are `Name.member.N` unless flattened) and their XML envelopes.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

from botocore.model import OperationModel, ServiceModel, Shape

from runtime.api.errors import UNKNOWN, UnknownOperation, WireError
from runtime.api.http import HttpRequest, HttpResponse
from runtime.api.protocols.base import REQUEST_ID_HEADER, Protocol, parse_scalar
from runtime.api.protocols.xmlwriter import write_members, xml_text
from runtime.errors import AwsError

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_VALUE = object()  # trie slot holding a leaf's text


def read_form(request: HttpRequest) -> dict[str, str]:
    """Query-string parameters overlaid by the form body (AWS accepts either)."""
    try:
        params = dict(parse_qsl(request.query_string, keep_blank_values=True, errors="strict"))
        if request.body:
            params.update(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AwsError("MalformedQueryString", "The request body or query string is not valid form data.") from exc
    return params


def build_trie(params: dict[str, str]) -> dict:
    root: dict = {}
    for key, value in params.items():
        node = root
        for part in key.split("."):
            node = node.setdefault(part, {})
        node[_VALUE] = value
    return root


class QueryProtocol(Protocol):
    name = "query"

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel:
        action = read_form(request).get("Action")
        if not action:
            raise UnknownOperation("MissingAction", "The request must contain the parameter Action.")
        if action not in service.operation_names:
            raise UnknownOperation("InvalidAction", f"The action {action} is not valid for this web service.")
        return service.operation_model(action)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict:
        params = read_form(request)
        params.pop("Action", None)
        params.pop("Version", None)
        shape = operation.input_shape
        if shape is None:
            return {}
        trie = build_trie(params)
        result = self._structure(shape, trie, "")
        self._check_unknown(trie, shape)
        return result

    def _check_unknown(self, trie: dict, shape: Shape) -> None:
        """Plain query services ignore parameters they do not know, as AWS does."""

    def member_name(self, shape: Shape, default: str) -> str:
        return shape.serialization.get("name", default)

    def _value(self, shape: Shape, node: dict, path: str):
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, node, path)
        if kind == "list":
            return self._list(shape, node, path)
        if kind == "map":
            return self._map(shape, node, path)
        return parse_scalar(shape, node.get(_VALUE, ""), path)

    def _structure(self, shape: Shape, node: dict, path: str) -> dict:
        out = {}
        for member_name, member_shape in shape.members.items():
            key = self.member_name(member_shape, member_name)
            if member_shape.type_name == "list" and self._flattened(member_shape):
                item_name = member_shape.member.serialization.get("name")
                key = item_name or key
            child = node.get(key)
            if child is None:
                continue
            out[member_name] = self._value(member_shape, child, f"{path}{key}" if not path else f"{path}.{key}")
        return out

    def _flattened(self, shape: Shape) -> bool:
        return bool(shape.serialization.get("flattened"))

    def _list(self, shape: Shape, node: dict, path: str) -> list:
        if not self._flattened(shape):
            item = shape.member.serialization.get("name", "member")
            if item not in node:
                return []
            node, path = node[item], f"{path}.{item}"
        return self._indexed(shape.member, node, path)

    def _indexed(self, item_shape: Shape, node: dict, path: str) -> list:
        indices = sorted(int(k) for k in node if isinstance(k, str) and k.isdigit())
        return [self._value(item_shape, node[str(i)], f"{path}.{i}") for i in indices]

    def _map(self, shape: Shape, node: dict, path: str) -> dict:
        if not self._flattened(shape):
            node, path = node.get("entry", {}), f"{path}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out = {}
        for index in sorted(int(k) for k in node if isinstance(k, str) and k.isdigit()):
            entry = node[str(index)]
            if key_name not in entry:
                continue
            key = parse_scalar(shape.key, entry[key_name].get(_VALUE, ""), f"{path}.{index}.{key_name}")
            value_node = entry.get(value_name, {_VALUE: ""})
            out[key] = self._value(shape.value, value_node, f"{path}.{index}.{value_name}")
        return out

    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        service = operation.service_model
        root = Element(f"{operation.name}Response", xmlns=_namespace(service))
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{operation.name}Result")
            write_members(SubElement(root, wrapper), result, shape)
        SubElement(SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
        return _xml_response(200, root, request_id)

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        root = Element("ErrorResponse", xmlns=_namespace(service))
        body = SubElement(root, "Error")
        SubElement(body, "Type").text = "Sender" if error.sender_fault else "Receiver"
        SubElement(body, "Code").text = error.code
        SubElement(body, "Message").text = xml_text(error.message)
        SubElement(root, "RequestId").text = request_id
        return _xml_response(error.status, root, request_id)


class Ec2Protocol(QueryProtocol):
    name = "ec2"

    def member_name(self, shape: Shape, default: str) -> str:
        if "queryName" in shape.serialization:
            return shape.serialization["queryName"]
        name = shape.serialization.get("name")
        return name[0].upper() + name[1:] if name else default

    def _flattened(self, shape: Shape) -> bool:
        return shape.type_name == "list" or bool(shape.serialization.get("flattened"))

    def _structure(self, shape: Shape, node: dict, path: str) -> dict:
        out = {}
        for member_name, member_shape in shape.members.items():
            key = self.member_name(member_shape, member_name)
            child = node.get(key)
            if child is not None:
                out[member_name] = self._value(member_shape, child, f"{path}.{key}" if path else key)
        return out

    def _list(self, shape: Shape, node: dict, path: str) -> list:
        return self._indexed(shape.member, node, path)

    def _check_unknown(self, trie: dict, shape: Shape) -> None:
        known = {self.member_name(m, n) for n, m in shape.members.items()}
        for key in trie:
            if key not in known:
                raise WireError(UNKNOWN, key, f"The parameter {key} is not recognized")

    def serialize(self, operation: OperationModel, result: dict, request_id: str) -> HttpResponse:
        root = Element(f"{operation.name}Response", xmlns=_namespace(operation.service_model))
        SubElement(root, "requestId").text = request_id
        if operation.output_shape is not None:
            write_members(root, result, operation.output_shape)
        return _xml_response(200, root, request_id)

    def serialize_error(self, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
        root = Element("Response")
        body = SubElement(SubElement(root, "Errors"), "Error")
        SubElement(body, "Code").text = error.code
        SubElement(body, "Message").text = xml_text(error.message)
        SubElement(root, "RequestID").text = request_id
        return _xml_response(error.status, root, request_id)


def _namespace(service: ServiceModel) -> str:
    return service.metadata.get("xmlNamespace") or (
        f"https://{service.endpoint_prefix}.amazonaws.com/doc/{service.api_version}/")


def _xml_response(status: int, root: Element, request_id: str) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "text/xml", REQUEST_ID_HEADER: request_id},
                        XML_DECLARATION + tostring(root, encoding="utf-8", xml_declaration=False))
