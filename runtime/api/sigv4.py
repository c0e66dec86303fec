"""AWS Signature Version 4: read the signature a request carries and check it against a secret.

Verification recomputes exactly what botocore's signers compute (`botocore.auth.SigV4Auth`, `S3SigV4Auth`,
`SigV4QueryAuth`): S3 paths are used as sent while every other service's path is normalised and encoded once
more; a present `x-amz-content-sha256` header is taken verbatim as the payload hash; presigned S3 URLs sign
`UNSIGNED-PAYLOAD`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from runtime.api.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TIME_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_AUTH_FIELD = re.compile(r"(\w+)=([^,\s]*)")


class MalformedAuth(ValueError):
    """The request claims SigV4 but its Authorization header or X-Amz-* parameters are unreadable."""


@dataclass(frozen=True)
class Signature:
    access_key: str
    date: str                     # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime           # X-Amz-Date
    presigned: bool
    expires: int | None           # presigned lifetime in seconds
    security_token: str | None


def read_signature(request: HttpRequest) -> Signature | None:
    """The SigV4 signature of a request, or None if it carries no credentials at all."""
    header = request.headers.get("Authorization")
    if header is not None:
        return _from_header(request, header)
    query = request.query
    if "X-Amz-Credential" in query or "X-Amz-Signature" in query:
        return _from_query(query)
    return None


def _scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        raise MalformedAuth(f"Credential should be scoped to a valid region and service: {credential}")
    return parts[0], parts[1], parts[2], parts[3]


def _timestamp(text: str | None) -> datetime:
    if not text:
        raise MalformedAuth("Missing X-Amz-Date")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise MalformedAuth(f"Invalid X-Amz-Date: {text}") from exc


def _from_header(request: HttpRequest, header: str) -> Signature:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise MalformedAuth(f"Unsupported Authorization type {algorithm}")
    fields = dict(_AUTH_FIELD.findall(rest))
    try:
        access_key, date, region, service = _scope(fields["Credential"])
        signed = tuple(fields["SignedHeaders"].split(";"))
        signature = fields["Signature"]
    except KeyError as exc:
        raise MalformedAuth(f"Authorization header requires '{exc.args[0]}' parameter") from exc
    stamp = request.headers.get("X-Amz-Date") or _http_date(request.headers.get("Date"))
    return Signature(access_key, date, region, service, signed, signature, _timestamp(stamp), False, None,
                     request.headers.get("X-Amz-Security-Token"))


def _http_date(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).astimezone(timezone.utc).strftime(TIME_FORMAT)
    except (TypeError, ValueError):
        return None


def _from_query(query) -> Signature:
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        raise MalformedAuth("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    try:
        access_key, date, region, service = _scope(query["X-Amz-Credential"])
        expires = int(query["X-Amz-Expires"])
        signed = tuple(query["X-Amz-SignedHeaders"].split(";"))
        signature = query["X-Amz-Signature"]
    except KeyError as exc:
        raise MalformedAuth(f"Query-string authentication requires the {exc.args[0]} parameter") from exc
    except ValueError as exc:
        raise MalformedAuth("X-Amz-Expires should be a number") from exc
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise MalformedAuth("X-Amz-Expires must be between 1 and 604800 seconds")
    return Signature(access_key, date, region, service, signed, signature, _timestamp(query.get("X-Amz-Date")),
                     True, expires, query.get("X-Amz-Security-Token"))


def canonical_request(request: HttpRequest, sig: Signature) -> str:
    path = request.path or "/"
    if sig.service != "s3":
        path = quote(normalize_url_path(path), safe="/~")
    pairs = []
    for part in request.query_string.split("&") if request.query_string else []:
        key, _, value = part.partition("=")
        if sig.presigned and unquote(key) == "X-Amz-Signature":
            continue
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    lines = []
    for name in sig.signed_headers:
        values = request.headers.getall(name, [])
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    if "x-amz-content-sha256" in request.headers:
        payload = request.headers["x-amz-content-sha256"]
    elif sig.presigned and sig.service == "s3":
        payload = "UNSIGNED-PAYLOAD"
    else:
        payload = hashlib.sha256(request.body).hexdigest()
    return "\n".join([request.method.upper(), path, query, "\n".join(lines) + "\n",
                      ";".join(sig.signed_headers), payload])


def string_to_sign(request: HttpRequest, sig: Signature) -> str:
    scope = f"{sig.date}/{sig.region}/{sig.service}/aws4_request"
    digest = hashlib.sha256(canonical_request(request, sig).encode("utf-8")).hexdigest()
    return "\n".join([ALGORITHM, sig.timestamp.strftime(TIME_FORMAT), scope, digest])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature_matches(request: HttpRequest, sig: Signature, secret: str) -> bool:
    key = signing_key(secret, sig.date, sig.region, sig.service)
    expected = hmac.new(key, string_to_sign(request, sig).encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig.signature)
