"""Every AWS identifier Terrarium mints, from one prefix table (reference/aws-spec.md §0.2).

EC2/VPC ids are `<prefix>-` + 17 lowercase hex. IAM unique ids are a 4-letter prefix + 17
characters, access key ids `AKIA`/`ASIA` + 16; both draw from the base32 alphabet (A-Z, 2-7) that
real AWS keys use, a subset of "upper-case alphanumeric". Randomness comes from `secrets`, so ids
are unguessable as well as unique. Keys of the tables are EC2 `ResourceType` names where one
exists (`instance`, `natgateway`, `elastic-ip`) and IAM entity names otherwise.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid

EC2_PREFIXES: dict[str, str] = {
    "instance": "i",
    "image": "ami",
    "volume": "vol",
    "snapshot": "snap",
    "vpc": "vpc",
    "subnet": "subnet",
    "security-group": "sg",
    "security-group-rule": "sgr",
    "internet-gateway": "igw",
    "route-table": "rtb",
    "route-table-association": "rtbassoc",
    "network-acl": "acl",
    "network-acl-association": "aclassoc",
    "network-interface": "eni",
    "network-interface-attachment": "eni-attach",
    "elastic-ip": "eipalloc",
    "elastic-ip-association": "eipassoc",
    "natgateway": "nat",
    "key-pair": "key",
    "reservation": "r",
    "dhcp-options": "dopt",
    "prefix-list": "pl",
}

IAM_PREFIXES: dict[str, str] = {
    "user": "AIDA",
    "role": "AROA",
    "policy": "ANPA",
    "group": "AGPA",
    "instance-profile": "AIPA",
    "public-key": "APKA",
}

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_EC2_SUFFIX = re.compile(r"(?:[0-9a-f]{8}|[0-9a-f]{17})")  # legacy 8-hex ids are still valid input
_IAM_SUFFIX = re.compile(r"[A-Z0-9]{17}")


def _choose(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_id(kind_name: str) -> str:
    """A fresh id for an EC2 resource type (`vpc-0a1b…`) or IAM entity (`AIDA…`)."""
    if prefix := EC2_PREFIXES.get(kind_name):
        return f"{prefix}-{secrets.token_hex(9)[:17]}"
    if prefix := IAM_PREFIXES.get(kind_name):
        return prefix + _choose(_BASE32, 17)
    raise KeyError(f"no id prefix for {kind_name!r}")


def is_id(kind_name: str, value: str) -> bool:
    """Whether `value` is well-formed for `kind_name` (EC2 `InvalidXxxID.Malformed` checks)."""
    if prefix := EC2_PREFIXES.get(kind_name):
        head, sep, tail = value.rpartition("-")
        return sep == "-" and head == prefix and _EC2_SUFFIX.fullmatch(tail) is not None
    if prefix := IAM_PREFIXES.get(kind_name):
        return value.startswith(prefix) and _IAM_SUFFIX.fullmatch(value[4:]) is not None
    raise KeyError(f"no id prefix for {kind_name!r}")


def new_access_key(temporary: bool = False) -> str:
    """An access key id: `AKIA…` for long-term keys, `ASIA…` for STS session credentials."""
    return ("ASIA" if temporary else "AKIA") + _choose(_BASE32, 16)


def new_secret_key() -> str:
    """A 40-character secret access key."""
    return _choose(_SECRET_ALPHABET, 40)


def new_session_token() -> str:
    """An opaque STS session token, base64 like the real ones (which are several hundred chars)."""
    return base64.b64encode(secrets.token_bytes(264)).decode()


def new_request_id() -> str:
    """The request id of an EC2, IAM, STS or Lambda answer (UUID4)."""
    return str(uuid.uuid4())


def new_s3_request_id() -> str:
    """S3's `x-amz-request-id`: 16 upper-case hex."""
    return secrets.token_hex(8).upper()


def new_s3_host_id() -> str:
    """S3's `x-amz-id-2`: an opaque base64 blob."""
    return base64.b64encode(secrets.token_bytes(48)).decode()


def new_revision_id() -> str:
    """A Lambda `RevisionId` (UUID4)."""
    return str(uuid.uuid4())
