"""Input validation from the model: required members, lengths, ranges and enums.

Types are already enforced while parsing; this pass checks the modelled constraints and reports every
violation in the Coral style AWS uses ("2 validation errors detected: Value null at 'userName' ...");
EC2's own wording is produced by the handler from the first violation.
"""

from __future__ import annotations

from botocore.model import Shape

from runtime.api.errors import CONSTRAINT, MISSING, WireError


def validate(shape: Shape | None, params: dict) -> list[WireError]:
    errors: list[WireError] = []
    if shape is not None:
        _structure(shape, params, "", errors)
    return errors


def coral_message(errors: list[WireError]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(e.message for e in errors)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _structure(shape: Shape, value: dict, path: str, errors: list[WireError]) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            where = f"{path}.{_camel(name)}" if path else _camel(name)
            errors.append(WireError(MISSING, name,
                                    f"Value null at '{where}' failed to satisfy constraint: Member must not be null"))
    for name, member in shape.members.items():
        if value.get(name) is not None:
            _check(member, value[name], f"{path}.{_camel(name)}" if path else _camel(name), name, errors)


def _check(shape: Shape, value, path: str, member: str, errors: list[WireError]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and not shape.is_document_type and isinstance(value, dict):
        _structure(shape, value, path, errors)
    elif kind == "list" and isinstance(value, list):
        _bounds(len(value), meta, "length", value, path, member, errors)
        for index, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{index}.member", member, errors)
    elif kind == "map" and isinstance(value, dict):
        _bounds(len(value), meta, "length", value, path, member, errors)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", member, errors)
            _check(shape.value, item, f"{path}.{key}", member, errors)
    elif kind in ("string", "blob") and isinstance(value, (str, bytes)):
        _bounds(len(value), meta, "length", value, path, member, errors)
        if kind == "string" and shape.enum and value not in shape.enum:
            errors.append(WireError(CONSTRAINT, member, f"Value '{value}' at '{path}' failed to satisfy constraint: "
                                                        f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
    elif kind in ("integer", "long", "float", "double") and not isinstance(value, bool):
        _bounds(value, meta, "value", value, path, member, errors)


def _bounds(measure, meta: dict, noun: str, value, path: str, member: str, errors: list[WireError]) -> None:
    shown = value if not isinstance(value, (list, dict, bytes)) else "[...]"
    if "min" in meta and measure < meta["min"]:
        errors.append(WireError(CONSTRAINT, member, f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                                                    f"Member must have {noun} greater than or equal to {meta['min']}"))
    if "max" in meta and measure > meta["max"]:
        errors.append(WireError(CONSTRAINT, member, f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                                                    f"Member must have {noun} less than or equal to {meta['max']}"))
