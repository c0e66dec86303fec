"""Wildcard matching for policy elements, with policy-variable substitution.

IAM has four matching dialects, and a policy means something different in each:

* Action: `*` and `?` over the whole `service:Operation` string, case-insensitive.
* Resource / NotResource: case-sensitive; `*` and `?` stay inside one colon-separated segment of the ARN's
  first five (`arn:partition:service:region:account`), except that a `*` ending a segment may run past the
  colons. In the resource part (after the fifth colon) colons are ordinary characters.
* String conditions (`StringLike`): case-sensitive, `*` and `?` over the whole string.
* ARN conditions (`ArnLike`, `ArnEquals`): both sides are split into their six colon-separated components and
  each component is matched on its own; a value that is not a six-component ARN never matches.

Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, and the escapes `${*}`, `${?}`,
`${$}`) are only recognised when the policy's Version is 2012-10-17; their values are inserted literally, so a
`*` inside a user name is not a wildcard. A variable that the request cannot resolve (key absent, no default)
makes the whole pattern unresolvable: `render` returns None and the caller treats the element as not
applying, which is how AWS describes a statement with an unresolvable variable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Literal

Mode = Literal["action", "string", "resource"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"^\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# A rendered pattern is a sequence of (text, literal) pieces: in literal pieces `*` and `?` are plain characters.
Pieces = tuple[tuple[str, bool], ...]
Lookup = Callable[[str], "str | None"]


def has_variables(pattern: str) -> bool:
    """True when the pattern contains `${...}` and so must be rendered per request."""
    return "${" in pattern


def render(pattern: str, lookup: Lookup | None) -> Pieces | None:
    """Substitute policy variables; None when one of them cannot be resolved.

    `lookup` maps a context key (any case) to its single string value or None; passing None disables
    variables (Version 2008-10-17 or missing), which leaves `${...}` as literal text with live wildcards.
    """
    if lookup is None or "${" not in pattern:
        return ((pattern, False),)
    pieces: list[tuple[str, bool]] = []
    for text, key, default in _template(pattern):
        if key is None:
            pieces.append((text, False))
        elif not key:
            pieces.append((text, True))
        else:
            value = lookup(key)
            value = default if value is None else value
            if value is None:
                return None
            pieces.append((value, True))
    return tuple(pieces)


@lru_cache(maxsize=8192)
def _template(pattern: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """The pattern as (text, variable key, default) items: key None is pattern text, "" an escape (`${*}`)."""
    items: list[tuple[str, str | None, str | None]] = []
    position = 0
    for found in _VARIABLE.finditer(pattern):
        if found.start() > position:
            items.append((pattern[position:found.start()], None, None))
        body = found.group(1)
        defaulted = _DEFAULTED.match(body)
        if body in _ESCAPES:
            items.append((_ESCAPES[body], "", None))
        elif not body.strip():
            items.append((found.group(0), None, None))  # `${}` names nothing: plain text
        elif defaulted:
            items.append(("", defaulted.group(1), defaulted.group(2)))
        else:
            items.append(("", body.strip(), None))
        position = found.end()
    if position < len(pattern):
        items.append((pattern[position:], None, None))
    return tuple(items)


def _translate(pieces: Pieces, mode: Mode) -> str:
    """Regex source for a rendered pattern in one dialect."""
    out: list[str] = []
    colons = 0
    flat = [(char, literal) for text, literal in pieces for char in text]
    for index, (char, literal) in enumerate(flat):
        if char == ":":
            colons += 1
        if literal or char not in "*?":
            out.append(re.escape(char))
        elif mode != "resource" or colons >= 5:
            out.append(".*" if char == "*" else ".")
        elif char == "?":
            out.append("[^:]")
        else:
            segment_ends = index + 1 == len(flat) or flat[index + 1][0] == ":"
            out.append(".*" if segment_ends else "[^:]*")
    return "".join(out)


@lru_cache(maxsize=8192)
def _compile(pieces: Pieces, mode: Mode) -> re.Pattern[str]:
    flags = re.IGNORECASE | re.DOTALL if mode == "action" else re.DOTALL
    return re.compile(_translate(pieces, mode), flags)


def matches(pattern: str, value: str, mode: Mode, lookup: Lookup | None = None) -> bool:
    """Does `value` match the policy `pattern` in this dialect (False if a variable is unresolvable)?"""
    if pattern == "*":
        return True
    pieces = render(pattern, lookup)
    return pieces is not None and matches_rendered(pieces, value, mode)


@lru_cache(maxsize=8192)
def compile_any(patterns: tuple[str, ...], mode: Mode) -> re.Pattern[str]:
    """One regex matching a value that any of the (variable-free) patterns matches; built once per statement."""
    source = "|".join(f"(?:{_translate(((pattern, False),), mode)})" for pattern in patterns)
    flags = re.IGNORECASE | re.DOTALL if mode == "action" else re.DOTALL
    return re.compile(source, flags)


def matches_rendered(pieces: Pieces, value: str, mode: Mode) -> bool:
    """`matches` for a pattern already passed through `render`."""
    if pieces == (("*", False),):
        return True
    return _compile(pieces, mode).fullmatch(value) is not None


def arn_matches(pattern: str, value: str, lookup: Lookup | None = None) -> bool:
    """ArnLike/ArnEquals: component-by-component match of two six-component ARNs."""
    pieces = render(pattern, lookup)
    if pieces is None:
        return False
    components = _split_pieces(pieces)
    values = value.split(":", 5)
    if len(components) != 6 or len(values) != 6:
        return False
    return all(_compile(component, "string").fullmatch(part) is not None
               for component, part in zip(components, values))


def _split_pieces(pieces: Pieces) -> list[Pieces]:
    """Split a rendered pattern at its first five colons, keeping the literal flags."""
    components: list[list[tuple[str, bool]]] = [[]]
    for text, literal in pieces:
        rest = text
        while len(components) < 6 and ":" in rest:
            head, rest = rest.split(":", 1)
            components[-1].append((head, literal))
            components.append([])
        components[-1].append((rest, literal))
    return [tuple(component) for component in components]


def single_value_lookup(keys: Mapping[str, object]) -> Lookup:
    """A variable lookup over a lower-cased context: multi-valued keys cannot be variables (AWS rule)."""

    def lookup(name: str) -> str | None:
        value = keys.get(name.lower())
        if value is None or isinstance(value, (list, tuple)):
            return None
        return as_text(value)

    return lookup


def as_text(value: object) -> str:
    """Context values as IAM compares them: booleans are `true`/`false`, numbers their decimal text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
