"""What a bucket policy may name, beyond the policy grammar the IAM engine checks: S3 refuses a policy whose
statements reach past its own bucket ("Policy has invalid resource") or name another service's actions
("Policy has invalid action"), rather than store statements that could never apply."""

from __future__ import annotations

import re

from runtime.errors import AwsError

_S3_ARN = "arn:aws:s3:::"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def _names_bucket(pattern: str, bucket: str) -> bool:
    """Whether the bucket part of an IAM resource pattern (`*` and `?` wildcards) matches `bucket`."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, bucket) is not None


def check_policy_scope(document: dict, bucket: str) -> None:
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict):
            continue
        for resource in _as_list(statement.get("Resource")) + _as_list(statement.get("NotResource")):
            if resource == "*":
                continue
            if not (isinstance(resource, str) and resource.startswith(_S3_ARN)
                    and _names_bucket(resource[len(_S3_ARN):].split("/", 1)[0], bucket)):
                raise AwsError("MalformedPolicy", "Policy has invalid resource", 400)
        for action in _as_list(statement.get("Action")) + _as_list(statement.get("NotAction")):
            if not (isinstance(action, str) and (action == "*" or action.lower().startswith("s3:"))):
                raise AwsError("MalformedPolicy", "Policy has invalid action", 400)
