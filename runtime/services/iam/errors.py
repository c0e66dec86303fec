"""IAM's errors in IAM's words, and the input checks the botocore model does not express (name patterns, paths,
ARNs, policy documents and their size quotas)."""

from __future__ import annotations

import re
import unicodedata

from runtime.errors import AwsError
from runtime.iam.policy import SIZE_QUOTAS, MalformedPolicy, PolicyKind, parse_policy, policy_size

_NAME = re.compile(r"[\w+=,.@-]+")
_ROLE_DESCRIPTION = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]*")
_NO_CONTROLS = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*")
_PATH = re.compile(r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)")


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def already_exists(message: str) -> AwsError:
    return AwsError("EntityAlreadyExists", message, 409)


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("LimitExceeded", message, 409)


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


def not_attachable(arn: str) -> AwsError:
    return no_such_entity(f"Policy {arn} does not exist or is not attachable.")


def check_name(value: str, member: str) -> str:
    """Entity names: `[\\w+=,.@-]+` (lengths are checked by the model)."""
    if not _NAME.fullmatch(value):
        raise validation_error(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                               f"constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    return value


def check_path(value: str | None, member: str = "path") -> str:
    if value is None:
        return "/"
    if not _PATH.fullmatch(value) or "//" in value:
        raise validation_error(f"The specified value for {member} is invalid. It must begin and end with / and "
                               f"contain only alphanumeric characters and/or / characters.")
    return value


def check_document(text: str, kind: PolicyKind, quota: str | None = None, *, managed: bool = False) -> str:
    """A policy document IAM would store: valid (MalformedPolicyDocument) and within its size quota, if any
    (inline policies are checked by their entity's total instead)."""
    try:
        parse_policy(text, kind=kind, require_current_version=managed)
    except MalformedPolicy as exc:
        raise AwsError("MalformedPolicyDocument", str(exc), 400) from None
    limit = SIZE_QUOTAS[quota] if quota else None
    if limit is not None and policy_size(text) > limit:
        name = "ACLSizePerRole" if quota == "trust" else "PolicySize"
        raise limit_exceeded(f"Cannot exceed quota for {name}: {limit}")
    return text


def _tag_text(value: str) -> bool:
    """`[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`: letters, separators, numbers and a few marks."""
    return all(unicodedata.category(ch)[0] in "LZN" or ch in "_.:/=+-@" for ch in value)


def check_free_text(params: dict, *, role: bool = False) -> None:
    """Tags and descriptions as the model's patterns allow them (roles' descriptions have a pattern, other
    descriptions only must not hold control characters, which XML cannot carry back out)."""
    for index, tag in enumerate(params.get("Tags") or [], 1):
        for part in ("Key", "Value"):
            if not _tag_text(tag[part]):
                raise validation_error(f"1 validation error detected: Value at 'tags.{index}.member."
                                       f"{part.lower()}' failed to satisfy constraint: Member must satisfy regular "
                                       f"expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*")
    description = params.get("Description")
    if description is not None and not (_ROLE_DESCRIPTION if role else _NO_CONTROLS).fullmatch(description):
        raise validation_error("1 validation error detected: Value at 'description' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: "
                               + ("[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u00A1-\\u00FF]*" if role
                                  else "[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]*"))
