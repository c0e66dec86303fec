"""Tags as EC2 carries them: `TagSpecifications` in, `[{Key, Value}]` out."""

from __future__ import annotations

from runtime.errors import AwsError

MAX_TAGS = 50


def tags_from_specifications(params: dict, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType", resource_type) != resource_type:
            continue
        for tag in spec.get("Tags") or []:
            key = tag.get("Key", "")
            if not key or key.startswith("aws:"):
                raise AwsError("InvalidParameterValue", f"Tag key '{key}' is not allowed")
            tags[key] = tag.get("Value", "")
    if len(tags) > MAX_TAGS:
        raise AwsError("TagLimitExceeded", f"The maximum number of tags per resource is {MAX_TAGS}")
    return tags


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
