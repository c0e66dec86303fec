"""Bucket CORS rules applied as S3 applies them (the backend never sees them).

A browser's preflight (`OPTIONS /bucket[/key]` with `Origin` and `Access-Control-Request-Method`, maybe
`Access-Control-Request-Headers`) is answered without authentication: 200 with the matching rule's
`Access-Control-*` headers, or 403 `AccessForbidden` ("CORSResponse: ...") when the bucket is missing, has no
CORS configuration, or no rule matches; 400 `BadRequest` without `Origin`. An actual request that carries
`Origin` gets the same headers (less `Access-Control-Allow-Headers`) when a rule matches its method; requests
without `Origin` are not cross-origin and get none. The first matching rule wins, as in S3.

Matching: the origin equals an `AllowedOrigin` (one `*` wildcard allowed, `*` alone matches any origin); the
method is among `AllowedMethods`; every requested header matches an `AllowedHeader` case-insensitively (one
`*` wildcard allowed). A rule whose origin matched by `*` alone answers `Access-Control-Allow-Origin: *`
without credentials, as S3 does; otherwise the request's origin with `Access-Control-Allow-Credentials`.
Response shapes are those recorded against AWS (LocalStack's S3 CORS snapshot tests).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote
from xml.sax.saxutils import escape

from aiohttp import web

from runtime.api.http import HttpRequest
from runtime.errors import AwsError
from runtime.services.s3.names import malformed_xml
from runtime.services.s3.records import find_bucket
from runtime.state import Store

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")


def check_configuration(config: dict) -> None:
    """What PutBucketCors refuses before storing."""
    rules = (config or {}).get("CORSRules") or []
    if not rules:
        raise malformed_xml()
    for rule in rules:
        for method in rule.get("AllowedMethods") or []:
            if method not in METHODS:
                raise AwsError("InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported "
                                                 f"method is {method}", 400)
        for field, element in (("AllowedOrigins", "AllowedOrigin"), ("AllowedHeaders", "AllowedHeader")):
            for value in rule.get(field) or []:
                if value.count("*") > 1:
                    raise AwsError("InvalidRequest", f'{element} "{value}" can not have more than one wildcard.',
                                   400)


@lru_cache(maxsize=1024)
def _pattern(allowed: str) -> re.Pattern:
    return re.compile("^" + ".*".join(re.escape(part) for part in allowed.split("*")) + "$", re.S)


def _matches(allowed: str, value: str) -> bool:
    return allowed == value if "*" not in allowed else _pattern(allowed).match(value) is not None


def _requested_headers(text: str | None) -> list[str]:
    return [h.strip().lower() for h in (text or "").split(",") if h.strip()]


def matching_rule(rules: list[dict], origin: str, method: str, requested: list[str] | None) -> dict | None:
    """The first rule allowing `origin` to use `method` (and, for a preflight, every `requested` header)."""
    for rule in rules:
        if method not in (rule.get("AllowedMethods") or []):
            continue
        if not any(_matches(allowed, origin) for allowed in rule.get("AllowedOrigins") or []):
            continue
        if requested:
            allowed_headers = [h.lower() for h in rule.get("AllowedHeaders") or []]
            if not all(any(_matches(allowed, header) for allowed in allowed_headers) for header in requested):
                continue
        return rule
    return None


def rule_headers(rule: dict, origin: str) -> dict[str, str]:
    """The `Access-Control-*` headers a matching rule puts on a response."""
    wildcard = "*" in (rule.get("AllowedOrigins") or [])
    headers = {"Access-Control-Allow-Origin": "*" if wildcard else origin, "Vary": VARY,
               "Access-Control-Allow-Methods": ", ".join(rule.get("AllowedMethods") or [])}
    if not wildcard:
        headers["Access-Control-Allow-Credentials"] = "true"
    if rule.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if rule.get("MaxAgeSeconds") is not None:
        headers["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return headers


def _bucket_and_key(http: HttpRequest) -> tuple[str, bool]:
    bucket, _, key = http.path.lstrip("/").partition("/")
    return unquote(bucket), bool(key)


def _forbidden(message: str, method: str, resource_type: str, request_id: str) -> web.Response:
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessForbidden</Code>'
            f"<Message>{escape(message)}</Message><Method>{escape(method)}</Method>"
            f"<ResourceType>{resource_type}</ResourceType><RequestId>{request_id}</RequestId>"
            f"<HostId>{request_id}</HostId></Error>")
    return web.Response(status=403, body=body.encode(), content_type="application/xml",
                        headers={"x-amz-request-id": request_id, "x-amz-id-2": request_id})


class BucketCors:
    """The gateway's S3 CORS port: `preflight` answers OPTIONS, `headers_for` decorates actual requests."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rules(self, bucket: str, cache: dict | None = None) -> tuple[bool, list[dict]]:
        record = find_bucket(self.store, bucket, cache) if bucket else None
        if record is None:
            return False, []
        return True, (record.spec.get("cors") or {}).get("CORSRules") or []

    def preflight(self, request: web.Request, http: HttpRequest, request_id: str) -> web.Response:
        origin = request.headers.get("Origin")
        ids = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
        if not origin:
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadRequest</Code><Message>Insufficient '
                    "information. Origin request header needed.</Message>"
                    f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>")
            return web.Response(status=400, body=body.encode(), content_type="application/xml", headers=ids)
        method = request.headers.get("Access-Control-Request-Method") or "OPTIONS"
        bucket, has_key = _bucket_and_key(http)
        exists, rules = self._rules(bucket)
        if not exists:
            return _forbidden("CORSResponse: Bucket not found", method, "BUCKET", request_id)
        if not rules:
            return _forbidden("CORSResponse: CORS is not enabled for this bucket.", method, "BUCKET", request_id)
        requested = _requested_headers(request.headers.get("Access-Control-Request-Headers"))
        rule = matching_rule(rules, origin, method, requested)
        if rule is None:
            return _forbidden(NOT_ALLOWED, method, "OBJECT" if has_key else "BUCKET", request_id)
        headers = rule_headers(rule, origin)
        if requested:
            headers["Access-Control-Allow-Headers"] = ", ".join(requested)
        return web.Response(status=200, headers={**headers, **ids})

    def headers_for(self, request: web.Request, http: HttpRequest, cache: dict | None = None) -> dict[str, str]:
        """CORS headers for an actual (non-preflight) request: none unless it has `Origin` and a rule matches."""
        origin = request.headers.get("Origin")
        if not origin:
            return {}
        bucket, _ = _bucket_and_key(http)
        _, rules = self._rules(bucket, cache)
        rule = matching_rule(rules, origin, request.method, None) if rules else None
        return rule_headers(rule, origin) if rule is not None else {}
