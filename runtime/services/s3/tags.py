"""S3's tag-set rules, checked before a tag set reaches the store or the backend (SeaweedFS accepts
duplicates, `aws:` keys and any count on objects given in a header): at most 10 tags on an object and 50 on a
bucket, keys 1-128 and values 0-256 characters, no key twice, no `aws:` keys."""

from __future__ import annotations

from urllib.parse import parse_qsl

from runtime.errors import AwsError

OBJECT_LIMIT = 10
BUCKET_LIMIT = 50


def check_tag_set(tags: list[dict], *, on_bucket: bool) -> None:
    limit = BUCKET_LIMIT if on_bucket else OBJECT_LIMIT
    if len(tags) > limit:
        what = "Bucket tag count" if on_bucket else "Object tags"
        raise AwsError("BadRequest", f"{what} cannot be greater than {limit}", 400)
    seen: set[str] = set()
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not key:
            raise _invalid("The TagKey you have provided is invalid")
        if len(key) > 128:
            raise _invalid("The TagKey you have provided is too long, max 128")
        if len(value) > 256:
            raise _invalid("The TagValue you have provided is too long, max 256")
        if key.lower().startswith("aws:"):
            raise _invalid("System tags cannot be added/updated by requester")
        if key in seen:
            raise _invalid("Cannot provide multiple Tags with the same key")
        seen.add(key)


def check_tagging_header(text: str) -> None:
    """`x-amz-tagging` (a URL query string) on PutObject, CopyObject and CreateMultipartUpload."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:  # percent-escapes that are not UTF-8
        raise _invalid("The TagKey you have provided is invalid") from None
    if text and not pairs:
        raise _invalid("The TagKey you have provided is invalid")
    check_tag_set([{"Key": k, "Value": v} for k, v in pairs], on_bucket=False)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidTag", message, 400)
