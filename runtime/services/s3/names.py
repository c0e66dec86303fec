"""Checks of S3 input that no model states: bucket names (AWS rules) and the backend names that hide them,
object keys the backend cannot hold, the user-metadata size limit, part numbers, malformed configurations."""

from __future__ import annotations

import re
import secrets

from runtime.api.errors import XML_SCHEMA_MESSAGE
from runtime.errors import AwsError

DEFAULT_CONTENT_TYPE = "binary/octet-stream"  # what S3 stores for an object sent without one

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
BACKEND_PREFIX = "tr-"


def check_bucket_name(name: str) -> None:
    """`InvalidBucketName` unless `name` follows the general-purpose bucket naming rules."""
    if (not _NAME.match(name) or ".." in name or _IP.match(name) or name.startswith(("xn--", "sthree-"))
            or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")) or ".-" in name or "-." in name):
        raise AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=name)


def new_backend_name() -> str:
    """A fresh backend bucket per created bucket: a deleted and re-created bucket never sees old objects,
    and no client-chosen name ever reaches the backend."""
    return BACKEND_PREFIX + secrets.token_hex(12)


def check_object_key(key: str, *, writes_data: bool = False) -> None:
    """`NotImplemented` for a key that the filesystem-style backends (SeaweedFS, MinIO) would not store as
    itself. They map keys to paths: an empty segment ("/a", "a//b") collapses onto another key, a backslash
    is listed as "/", and data under a key ending in "/" is dropped (the key becomes a directory). AWS
    accepts all of these; answering so is honest where storing them would be silently wrong."""
    if key.startswith("/") or "//" in key:
        reason = "an empty path segment (a leading '/' or '//')"
    elif "\\" in key:
        reason = "a backslash"
    elif writes_data and key.endswith("/"):
        reason = "data under a key ending in '/' (only an empty folder marker can end in '/')"
    else:
        return
    raise AwsError("NotImplemented", f"Terrarium's S3 backend cannot store a key with {reason}.", 501, Key=key)


MAX_METADATA_BYTES = 2048
META_PREFIX = "x-amz-meta-"


def check_metadata_size(headers: dict[str, str]) -> None:
    """`MetadataTooLarge` when the user metadata (`x-amz-meta-*`) exceeds AWS's 2 KB: the sum of the UTF-8
    bytes of each name (without the prefix) and value."""
    size = sum(len(name[len(META_PREFIX):].encode("utf-8", "surrogateescape"))
               + len(value.encode("utf-8", "surrogateescape"))
               for name, value in headers.items() if name.lower().startswith(META_PREFIX))
    if size > MAX_METADATA_BYTES:
        raise AwsError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", 400,
                       Size=str(size), MaxSizeAllowed=str(MAX_METADATA_BYTES))


def malformed_xml() -> AwsError:
    return AwsError("MalformedXML", XML_SCHEMA_MESSAGE, 400)


def check_part_number(number: int) -> None:
    if not 1 <= number <= 10000:
        raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", 400,
                       ArgumentName="partNumber", ArgumentValue=str(number))


_BYTE_RANGE = re.compile(r"bytes=(?:(\d+)-(\d*)|-\d+)")


def is_single_byte_range(value: str) -> bool:
    """Whether a Range header is one byte-range S3 honours (`bytes=N-M` with M >= N, `bytes=N-`, `bytes=-N`).
    S3 ignores any other Range (a reversed `bytes=5-1`, several ranges, garbage) and sends the whole object."""
    found = _BYTE_RANGE.fullmatch(value.strip())
    return found is not None and not (found.group(2) and int(found.group(2)) < int(found.group(1)))


def byte_range(value: str, size: int) -> tuple[int, int] | None:
    """The first and last byte a Range S3 honours selects of `size` bytes; None when it selects none
    (unsatisfiable: S3 answers 416). Only for `is_single_byte_range` values."""
    text = value.strip().removeprefix("bytes=")
    first, _, last = text.partition("-")
    if not first:  # the last N bytes
        return (max(size - int(last), 0), size - 1) if int(last) and size else None
    if int(first) >= size:
        return None
    return int(first), min(int(last), size - 1) if last else size - 1


def check_version_id(record, version: str | None) -> None:
    """A VersionId on a bucket that was never versioned: S3 refuses it, where the backend would ignore it and
    answer with the current object."""
    if version not in (None, "null") and not record.spec.get("versioning"):
        raise AwsError("InvalidArgument", "Invalid version id specified", 400, ArgumentName="versionId",
                       ArgumentValue=version)
