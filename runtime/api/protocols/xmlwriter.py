"""Model-driven XML output shared by the ec2, query and rest-xml protocols.

Element naming mirrors what botocore's XML response parser looks up (`_member_key_name`): a member's
`locationName` if it has one, a flattened list's member `locationName`, else the member name; list items are
`<member>` unless the model names them (EC2 names them `item`).
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement

from botocore.model import Shape

from runtime.api import scalars

NON_BODY_LOCATIONS = {"header", "headers", "statusCode", "uri", "querystring"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str) -> str:
    """Text XML 1.0 can carry: characters it forbids (control characters, lone surrogates) become U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def member_key_name(shape: Shape, member_name: str) -> str:
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        name = shape.member.serialization.get("name")
        if name:
            return name
    return shape.serialization.get("name", member_name)


def write_members(element: Element, value: dict, shape: Shape, default_ts: str = "iso8601") -> None:
    for member_name, member_shape in shape.members.items():
        if member_name not in value or value[member_name] is None:
            continue
        if member_shape.serialization.get("location") in NON_BODY_LOCATIONS:
            continue
        member_value = value[member_name]
        if member_shape.serialization.get("xmlAttribute"):
            element.set(member_shape.serialization["name"], _scalar_text(member_value, member_shape, default_ts))
            continue
        write_value(element, member_key_name(member_shape, member_name), member_value, member_shape, default_ts)


def write_value(parent: Element, name: str, value, shape: Shape, default_ts: str = "iso8601") -> None:
    kind = shape.type_name
    if kind == "structure":
        element = SubElement(parent, name)
        namespace = shape.serialization.get("xmlNamespace")
        if isinstance(namespace, dict) and namespace.get("prefix"):  # S3's Grantee: xsi:type needs xmlns:xsi
            element.set(f"xmlns:{namespace['prefix']}", namespace["uri"])
        write_members(element, value, shape, default_ts)
    elif kind == "list":
        if shape.serialization.get("flattened"):
            container, item_name = parent, name
        else:
            container = SubElement(parent, name)
            item_name = shape.member.serialization.get("name", "member")
        for item in value:
            write_value(container, item_name, item, shape.member, default_ts)
    elif kind == "map":
        key_name = shape.key.serialization.get("name") or "key"
        value_name = shape.value.serialization.get("name") or "value"
        flattened = shape.serialization.get("flattened")
        container = parent if flattened else SubElement(parent, name)
        for key, item in value.items():
            entry = SubElement(container, name if flattened else "entry")
            write_value(entry, key_name, key, shape.key, default_ts)
            write_value(entry, value_name, item, shape.value, default_ts)
    else:
        SubElement(parent, name).text = _scalar_text(value, shape, default_ts)


def _scalar_text(value, shape: Shape, default_ts: str) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(scalars.format_timestamp(value, shape.serialization.get("timestampFormat", default_ts)))
    if kind == "blob":
        return scalars.b64(value)
    if kind in ("float", "double"):
        return scalars.format_float(value)
    return xml_text(str(value))
