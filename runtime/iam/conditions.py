"""The Condition element: operators, set qualifiers, `...IfExists`, and AWS's AND/OR rules.

Rules (IAM User Guide, "Condition operators" and "Conditions with multiple context keys or values"):

* operators in one block AND together; keys under one operator AND together; the values listed for one key OR
  together, and for a negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) they NOR together;
* a key absent from the request makes a condition false, except for negated operators (true), `...IfExists`
  (true) and `Null` (which tests presence);
* `ForAnyValue:` is true when at least one request value satisfies the operator (false if the key is absent or
  empty); `ForAllValues:` when every request value does (true if the key is absent or empty);
* without a qualifier a multi-valued request key matches when any of its values matches (negated operators:
  when none does);
* condition key names are case-insensitive; the context passed here is already lower-cased.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from runtime.iam import matching
from runtime.iam.matching import Lookup, as_text


def _string_equals(value: str, pattern: str, lookup: Lookup | None) -> bool:
    pieces = matching.render(pattern, lookup)
    return pieces is not None and "".join(text for text, _ in pieces) == value


def _string_equals_ignore_case(value: str, pattern: str, lookup: Lookup | None) -> bool:
    pieces = matching.render(pattern, lookup)
    return pieces is not None and "".join(text for text, _ in pieces).casefold() == value.casefold()


def _string_like(value: str, pattern: str, lookup: Lookup | None) -> bool:
    return matching.matches(pattern, value, "string", lookup)


def _arn_like(value: str, pattern: str, lookup: Lookup | None) -> bool:
    return matching.arn_matches(pattern, value, lookup)


def _bool(value: str, pattern: str, lookup: Lookup | None) -> bool:
    pieces = matching.render(pattern, lookup)
    return pieces is not None and "".join(text for text, _ in pieces).lower() == value.lower()


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(text: str) -> datetime | None:
    """ISO 8601 (date, date-time, `Z` or offset) or epoch seconds; naive times are UTC."""
    text = text.strip()
    epoch = _number(text) if text[:1].isdigit() and "-" not in text else None
    if epoch is not None:
        try:
            return datetime.fromtimestamp(float(epoch), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _ordered(parse: Callable[[str], object], test: Callable[[object, object], bool]):
    def compare(value: str, pattern: str, lookup: Lookup | None) -> bool:
        left, right = parse(value), parse(pattern)
        return left is not None and right is not None and test(left, right)

    return compare


def _binary(value: str, pattern: str, lookup: Lookup | None) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(pattern, validate=True)
    except (binascii.Error, ValueError):
        return False


def _ip(value: str, pattern: str, lookup: Lookup | None) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
        network = ipaddress.ip_network(pattern.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


Matcher = Callable[[str, str, "Lookup | None"], bool]

_EQ, _LT, _LE = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)

# base operator -> (value matcher, negated)
OPERATORS: dict[str, tuple[Matcher, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_ordered(_number, _EQ), False),
    "NumericNotEquals": (_ordered(_number, _EQ), True),
    "NumericLessThan": (_ordered(_number, _LT), False),
    "NumericLessThanEquals": (_ordered(_number, _LE), False),
    "NumericGreaterThan": (_ordered(_number, _GT), False),
    "NumericGreaterThanEquals": (_ordered(_number, _GE), False),
    "DateEquals": (_ordered(_date, _EQ), False),
    "DateNotEquals": (_ordered(_date, _EQ), True),
    "DateLessThan": (_ordered(_date, _LT), False),
    "DateLessThanEquals": (_ordered(_date, _LE), False),
    "DateGreaterThan": (_ordered(_date, _GT), False),
    "DateGreaterThanEquals": (_ordered(_date, _GE), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}
# Operators whose policy values may contain policy variables (the others compare them literally).
_VARIABLE_OPERATORS = {name for name in OPERATORS if name.startswith(("String", "Arn"))} | {"Bool"}

_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")


@dataclass(frozen=True, slots=True)
class Operator:
    """A parsed operator name such as `ForAnyValue:StringLikeIfExists`."""

    name: str
    base: str
    qualifier: str | None
    if_exists: bool

    @classmethod
    def parse(cls, name: str) -> Operator:
        """Raises ValueError for a name IAM does not know."""
        qualifier = next((q[:-1] for q in _QUALIFIERS if name.startswith(q)), None)
        base = name[len(qualifier) + 1:] if qualifier else name
        if_exists = base.endswith("IfExists") and base != "IfExists"
        if if_exists:
            base = base[:-len("IfExists")]
        if base != "Null" and base not in OPERATORS:
            raise ValueError(name)
        if base == "Null" and (if_exists or qualifier):
            raise ValueError(name)
        return cls(name, base, qualifier, if_exists)


@dataclass(frozen=True, slots=True)
class Condition:
    """One `operator: {key: values}` entry, with its values already turned into text."""

    operator: Operator
    key: str
    values: tuple[str, ...]
    key_lower: str  # context lookups are case-insensitive on the key name


def parse_block(block: object) -> tuple[Condition, ...]:
    """The Condition element as conditions; raises ValueError on bad shapes or unknown operators."""
    if not isinstance(block, dict):
        raise ValueError("Condition must be an object")
    conditions: list[Condition] = []
    for name, entries in block.items():
        if not isinstance(entries, dict):
            raise ValueError(f"Condition {name} must be an object")
        if not entries:
            continue
        operator = Operator.parse(name)
        for key, raw in entries.items():
            raw_values = raw if isinstance(raw, list) else [raw]
            if not raw_values or not all(isinstance(v, (str, bool, int, float)) for v in raw_values):
                raise ValueError(f"Condition {name}/{key} has invalid values")
            conditions.append(Condition(operator, key, tuple(as_text(v) for v in raw_values), key.lower()))
    return tuple(conditions)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, (list, tuple)) and not value)


def evaluate(condition: Condition, context: Mapping[str, object], lookup: Lookup | None,
             missing: set[str] | None = None) -> bool:
    """One condition against a lower-cased context; records absent keys in `missing` (for simulation)."""
    operator = condition.operator
    value = context.get(condition.key_lower)
    present = _present(value)
    if not present and missing is not None:
        missing.add(condition.key)
    if operator.base == "Null":
        return any((wanted.lower() == "true") != present for wanted in condition.values)
    matcher, negated = OPERATORS[operator.base]
    if not present:
        if operator.if_exists:
            return True
        if operator.qualifier == "ForAllValues":
            return True
        if operator.qualifier == "ForAnyValue":
            return False
        return negated
    variables = lookup if operator.base in _VARIABLE_OPERATORS else None
    request_values = [as_text(v) for v in value] if isinstance(value, (list, tuple)) else [as_text(value)]
    if variables is not None and any(matching.render(p, variables) is None for p in condition.values):
        return False

    def hit(item: str) -> bool:
        return any(matcher(item, pattern, variables) for pattern in condition.values)

    if operator.qualifier == "ForAllValues":
        return all(hit(item) != negated for item in request_values)
    if operator.qualifier == "ForAnyValue":
        return any(hit(item) != negated for item in request_values)
    found = any(hit(item) for item in request_values)
    return not found if negated else found


def evaluate_all(conditions: Sequence[Condition], context: Mapping[str, object], lookup: Lookup | None,
                 missing: set[str] | None = None) -> bool:
    """AND over the block. With `missing` given, every condition is visited so all absent keys are seen."""
    if missing is None:
        return all(evaluate(c, context, lookup) for c in conditions)
    results = [evaluate(c, context, lookup, missing) for c in conditions]
    return all(results)
