"""EC2 `Filter.N.Name` / `Filter.N.Value.M` matching.

Filters AND together, the values of one filter OR together, values may use `*` and `?` wildcards, and
`tag:<key>` / `tag-key` / `tag-value` filters read the record's tags. A filter name the resource does not
support is an `InvalidParameterValue`, as in AWS.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Callable, Mapping

from runtime.errors import AwsError

FieldGetter = Callable[[Any], Any]


def matches_filters(item: Any, filters: list[dict] | None, fields: Mapping[str, FieldGetter],
                    tags: Callable[[Any], dict[str, str]] | None = None) -> bool:
    for flt in filters or []:
        name, values = flt.get("Name", ""), flt.get("Values") or []
        if not _matches(item, name, values, fields, tags):
            return False
    return True


def _matches(item, name: str, values: list[str], fields, tags) -> bool:
    if tags is not None and name.startswith("tag:"):
        value = tags(item).get(name[4:])
        return value is not None and _any(value, values)
    if tags is not None and name == "tag-key":
        return any(_any(k, values) for k in tags(item))
    if tags is not None and name == "tag-value":
        return any(_any(v, values) for v in tags(item).values())
    getter = fields.get(name)
    if getter is None:
        raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
    actual = getter(item)
    if isinstance(actual, (list, tuple, set)):
        return any(_any(a, values) for a in actual)
    return _any(actual, values)


def _any(actual, patterns: list[str]) -> bool:
    if actual is None:
        return False
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    return any(fnmatchcase(text, p) for p in patterns)
