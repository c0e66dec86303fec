"""Hypothesis strategies that generate values for any botocore shape, respecting what each wire location
can carry (headers are ASCII without surrounding whitespace and timestamps there have second precision; URI
labels are non-empty), so a round trip through a protocol is expected to be exact."""

from __future__ import annotations

import string
from datetime import datetime, timezone

from botocore.model import Shape
from hypothesis import strategies as st

MAX_DEPTH = 4
_HEADER_TEXT = st.text(string.ascii_letters + string.digits + "-_.:/=+ ", min_size=1, max_size=12).map(
    str.strip).filter(bool)
_XML_SAFE = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r") | st.sampled_from("\n\t")
_ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def _timestamps(seconds_only: bool):
    low, high = datetime(1971, 1, 1), datetime(2100, 1, 1)
    values = st.datetimes(min_value=low, max_value=high).map(lambda d: d.replace(tzinfo=timezone.utc))
    if seconds_only:
        return values.map(lambda d: d.replace(microsecond=0))
    return values.map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


def for_shape(shape: Shape, *, location: str | None = None, xml: bool = False, depth: int = 0):
    kind = shape.type_name
    header = location in ("header", "headers")
    if kind == "structure":
        if shape.is_document_type:
            return st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=5), st.integers(0, 9),
                                   max_size=2)
        if depth >= MAX_DEPTH:
            return st.just({})
        if shape.is_tagged_union:
            return st.one_of([for_shape(member, xml=xml, depth=depth + 1).map(lambda v, n=name: {n: v})
                              for name, member in shape.members.items()])
        optional = {name: for_shape(member, xml=xml, depth=depth + 1) for name, member in shape.members.items()
                    if not member.serialization.get("eventstream") and not member.serialization.get("hostLabel")}
        return st.fixed_dictionaries({}, optional=optional)
    if kind == "list":
        if depth >= MAX_DEPTH:
            return st.just([])
        return st.lists(for_shape(shape.member, location=location, xml=xml, depth=depth + 1), max_size=3)
    if kind == "map":
        if depth >= MAX_DEPTH:
            return st.just({})
        keys = _HEADER_TEXT if header else (st.text(string.ascii_letters + string.digits, min_size=1, max_size=8))
        return st.dictionaries(keys, for_shape(shape.value, location=location, xml=xml, depth=depth + 1),
                               max_size=3)
    if kind == "string":
        if shape.serialization.get("jsonvalue"):
            return st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=4),
                                   st.text(string.ascii_letters, max_size=4), max_size=2)
        if header:
            return _HEADER_TEXT
        if location == "uri":
            return st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
                lambda s: s not in (".", ".."))
        if xml:
            return st.text(_XML_SAFE, max_size=12)
        return _ANY_TEXT
    if kind in ("integer", "short", "byte"):
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "long":
        return st.integers(-(2**53), 2**53)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return _timestamps(seconds_only=header)
    if kind == "blob":
        return st.binary(min_size=1, max_size=16)
    raise ValueError(f"no strategy for {kind}")


def top_level(shape: Shape, *, xml: bool = False):
    """The input/output structure itself, with each member's strategy chosen by its wire location."""
    optional = {}
    for name, member in shape.members.items():
        if member.serialization.get("eventstream") or member.serialization.get("hostLabel"):
            continue
        location = member.serialization.get("location")
        strategy = for_shape(member, location=location, xml=xml, depth=1)
        if location == "statusCode":
            strategy = st.integers(200, 299)
        optional[name] = strategy
    required = {name: optional.pop(name) for name in list(optional)
                if shape.members[name].serialization.get("location") in ("uri", "statusCode")}
    return st.fixed_dictionaries(required, optional=optional)


def strip_empty(value):
    """Protocols may drop empty lists, maps and structures; compare without them."""
    if isinstance(value, dict):
        cleaned = {k: strip_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        cleaned = [strip_empty(v) for v in value]
        return [v for v in cleaned if v not in ({}, [], None)]
    return value
