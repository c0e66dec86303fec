"""The one HTTP entry point for every AWS service: route, authenticate, parse, validate, authorise, dispatch,
serialise. Each step can fail only with an `AwsError`, which is answered in the service's own envelope; any
other exception is logged and answered as `InternalFailure`, so a client never sees a traceback.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, unquote
from typing import Awaitable, Callable, Protocol as TypingProtocol

from aiohttp import web
from botocore.model import OperationModel, ServiceModel

from runtime.api import specs
from runtime.api.context import Credential, Principal, RequestContext
from runtime.api.dispatch import BoundOperation, Dispatcher
from runtime.api.errors import (CONSTRAINT, INVALID, MISSING, UNKNOWN, XML_SCHEMA_MESSAGE, WireError,
                               internal_failure, not_implemented)
from runtime.api.http import HttpRequest, HttpResponse
from runtime.api.protocols.rest_xml import RestXmlProtocol
from runtime.api.sigv4 import (MAX_SKEW_SECONDS, BytesSource, MalformedAuth, PayloadVerifier, Signature,
                               is_chunked, read_signature, signature_matches, sigv2_query_signature)
from runtime.api.validate import coral_message, validate
from runtime.errors import AwsError

LOG = logging.getLogger(__name__)
_DATED_PATH = re.compile(r"^/20\d\d-\d\d-\d\d/")
_S3_VIRTUAL_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?:s3\.[^:]+|localhost)(?::\d+)?$")
_S3_WEBSITE_HOST = re.compile(r"^[a-z0-9][a-z0-9.-]*?\.s3-website[.-][^:]+(?::\d+)?$")
STREAMING = "__aws_streaming__"
"""Attribute a provider method sets to receive the S3 request body unread, as `ctx.extras["payload"]`."""
RAW_RESPONSE = "__raw_response__"
"""Key of a provider result that carries a finished aiohttp response to return as is."""
BAD_SIGNATURE_MESSAGE = ("The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method. "
                         "Consult the service documentation for details.")


class CredentialSource(TypingProtocol):
    def lookup(self, access_key: str) -> Credential | None: ...


@dataclass(frozen=True)
class Denial:
    """Why the policy engine refused, in the words the caller should see."""

    principal_arn: str
    action: str
    resource: str
    explicit: bool


Authorizer = Callable[[RequestContext, BoundOperation, dict], Awaitable[Denial | None]]
WebsiteHandler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
PostHandler = Callable[[web.Request, str, str], Awaitable[web.StreamResponse]]


class CorsHandler(TypingProtocol):
    """S3 bucket CORS: answers browser preflights and names the headers an actual request's answer gets."""

    def preflight(self, request: web.Request, http: HttpRequest, request_id: str) -> web.StreamResponse: ...
    def headers_for(self, request: web.Request, http: HttpRequest) -> dict[str, str]: ...


async def allow_all(ctx: RequestContext, op: BoundOperation, params: dict) -> Denial | None:
    return None


class Gateway:
    def __init__(self, dispatcher: Dispatcher, credentials: CredentialSource, *, region: str,
                 authorize: Authorizer = allow_all, clock: Callable[[], float] = time.time) -> None:
        self.dispatcher = dispatcher
        self.credentials = credentials
        self.region = region
        self.authorize = authorize
        self.clock = clock
        self.website: WebsiteHandler | None = None  # S3 website endpoints, when S3 is installed
        self.s3_post: PostHandler | None = None      # S3 browser-form uploads (POST policy)
        self.s3_cors: CorsHandler | None = None      # S3 bucket CORS rules

    async def handle(self, request: web.Request) -> web.StreamResponse:
        head = HttpRequest.from_target(request.method, request.raw_path, request.headers)
        if self.website is not None and _S3_WEBSITE_HOST.match(request.host.lower()):
            return await self.website(request, secrets.token_hex(8).upper())
        service, signature, auth_error = self._route(head)
        if service == "s3":
            return await self.handle_s3(request, head, signature, auth_error)
        try:
            body = await request.read()
        except web.HTTPException:
            raise
        except Exception:  # a client that hangs up mid-body
            LOG.debug("could not read request body", exc_info=True)
            body = b""
        http = HttpRequest.from_target(request.method, request.raw_path, request.headers, body)
        response = await self.handle_http(http, source_ip=request.remote or "127.0.0.1",
                                          secure=request.secure)
        return web.Response(status=response.status, headers=response.headers, body=response.body)

    async def handle_s3(self, request: web.Request, signed: HttpRequest, signature: Signature | None,
                        auth_error: AwsError | None) -> web.StreamResponse:
        """S3 without reading bodies first: the operation comes from method, path and query, authentication
        from the headers; a provider method marked `STREAMING` gets the verified body as an async iterator
        (`ctx.extras["payload"]`), every other S3 operation a small body read and verified here. Providers see
        the aiohttp request in `ctx.extras["request"]` and may answer with `{RAW_RESPONSE: response}`.
        """
        info = specs.SERVICES["s3"]
        model = specs.service_model("s3")
        protocol = specs.protocol_for(model)
        request_id = secrets.token_hex(8).upper()
        http = s3_path_style(signed)
        cors: dict[str, str] = {}
        if self.s3_cors is not None:
            if request.method == "OPTIONS":
                return self.s3_cors.preflight(request, http, request_id)
            if "Origin" in request.headers:
                cors = self.s3_cors.headers_for(request, http)
        try:
            if request.headers.get("Authorization", "").startswith("AWS "):
                raise AwsError("InvalidRequest", "The authorization mechanism you have provided is not supported. "
                                                 "Please use AWS4-HMAC-SHA256.", 400)
            if auth_error is not None:
                if "X-Amz-Credential" in request.query:
                    raise AwsError("AuthorizationQueryParametersError", auth_error.message, 400)
                raise auth_error
            if signature is not None and not signature.presigned and "x-amz-content-sha256" not in request.headers:
                raise AwsError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
            bucket_only = http.path.strip("/")
            if (self.s3_post is not None and request.method == "POST" and bucket_only and "/" not in bucket_only
                    and request.content_type == "multipart/form-data" and signature is None):
                return _with_headers(await self.s3_post(request, unquote(bucket_only), request_id), cors)
            operation = s3_operation(model, s3_matched_operation(protocol, model, http), http)
            bound = self.dispatcher.get("s3", operation.name)
            streaming = bound is not None and getattr(bound.handler, STREAMING, False)
            if not streaming:
                signed.body = await request.read()
            if "AWSAccessKeyId" in request.query:
                credential = self._authenticate_sigv2(http)
            elif signature is None:
                credential = anonymous_credential()  # bucket policies decide
            else:
                credential = self._authenticate(signed, signature, info, operation)
            verifier = PayloadVerifier(request.headers, signature, credential.secret)
            if not streaming and (signed.body or not verifier.accepts_empty()):
                http.body = (await verifier.read_all(BytesSource(signed.body)) if is_chunked(request.headers)
                             else verifier.verify_whole(signed.body))
            ctx = RequestContext("s3", operation.name, self._region(signature, info), request_id,
                                 credential.principal, http, request.remote or "127.0.0.1", request.secure,
                                 credential)
            ctx.extras["request"] = request
            ctx.extras["cors"] = cors
            if streaming:
                ctx.extras["payload"] = verifier.iterate(request.content)
                ctx.extras["verifier"] = verifier
            params = self._parse(protocol, operation, http, info)
            if bound is None:
                raise not_implemented(operation.name, "s3")
            denial = await self.authorize(ctx, bound, params)
            if denial is not None:
                raise denied_error(info, denial)
            result = await bound(ctx, params)
            if RAW_RESPONSE in result:
                return _with_headers(result[RAW_RESPONSE], cors)
            response = protocol.serialize(operation, result, request_id)
        except AwsError as error:
            response = self._error(protocol, model, error, request_id, http)
        except Exception:
            LOG.exception("internal failure serving %s %s", http.method, http.path)
            response = self._error(protocol, model, internal_failure(), request_id, http)
        return web.Response(status=response.status, headers={**response.headers, **cors}, body=response.body)

    async def handle_http(self, http: HttpRequest, *, source_ip: str = "127.0.0.1",
                          secure: bool = False) -> HttpResponse:
        service_name, signature, auth_error = self._route(http)
        info = specs.SERVICES.get(service_name)
        request_id = secrets.token_hex(8).upper() if service_name == "s3" else str(uuid.uuid4())
        if info is None:
            model = specs.service_model("sts")
            return specs.protocol_for(model).serialize_error(model, AwsError(
                "NotImplemented", f"Terrarium does not implement the service '{service_name}'.", status=501,
                sender_fault=False), request_id)
        model = specs.service_model(service_name)
        protocol = specs.protocol_for(model)
        try:
            if auth_error is not None:
                raise auth_error
            operation = protocol.operation_for(model, http)
            credential = self._authenticate(http, signature, info, operation)
            ctx = RequestContext(service_name, operation.name, self._region(signature, info), request_id,
                                 credential.principal, http, source_ip, secure, credential)
            params = self._parse(protocol, operation, http, info)
            bound = self.dispatcher.get(service_name, operation.name)
            if bound is None:
                raise not_implemented(operation.name, service_name)
            denial = await self.authorize(ctx, bound, params)
            if denial is not None:
                raise denied_error(info, denial)
            if service_name == "ec2" and params.get("DryRun"):
                raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
            result = await bound(ctx, params)
            return protocol.serialize(operation, result, request_id)
        except AwsError as error:
            return self._error(protocol, model, error, request_id, http)
        except Exception:
            LOG.exception("internal failure serving %s %s", http.method, http.path)
            return self._error(protocol, model, internal_failure(), request_id, http)

    def _error(self, protocol, model: ServiceModel, error: AwsError, request_id: str, http: HttpRequest):
        if isinstance(protocol, RestXmlProtocol):
            return protocol.serialize_error(model, error, request_id, head=http.method == "HEAD")
        return protocol.serialize_error(model, error, request_id)

    def _route(self, http: HttpRequest) -> tuple[str, Signature | None, AwsError | None]:
        """The service a request is for: its signing scope first, then path, target and Version fallbacks."""
        try:
            signature = read_signature(http)
        except MalformedAuth as exc:
            return self._unsigned_service(http), None, AwsError("IncompleteSignature", str(exc), 400)
        if signature is not None:
            return signature.service, signature, None
        return self._unsigned_service(http), None, None

    def _unsigned_service(self, http: HttpRequest) -> str:
        target = http.headers.get("X-Amz-Target", "")
        if target:
            return specs.json_targets().get(target.rpartition(".")[0], "unknown")
        if _DATED_PATH.match(http.path):
            return "lambda"
        content_type = http.headers.get("Content-Type", "")
        if (http.method == "POST" and "x-www-form-urlencoded" in content_type) or "Action=" in http.query_string:
            form = parse_qs(http.body.decode("utf-8", "replace") + "&" + http.query_string)
            version = (form.get("Version") or [""])[0]
            return specs.api_versions().get(version, "sts")
        return "s3"

    def _region(self, signature: Signature | None, info: specs.ServiceInfo) -> str:
        if signature is None or info.global_region:
            return self.region
        return signature.region

    def _authenticate_sigv2(self, http: HttpRequest) -> Credential:
        """A Signature Version 2 presigned S3 URL (`AWSAccessKeyId`, `Expires`, `Signature`)."""
        query = http.query
        credential = self.credentials.lookup(query.get("AWSAccessKeyId", ""))
        if credential is None or not credential.active or credential.session_token is not None:
            raise AwsError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                           403)
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            raise AwsError("AccessDenied", "Query-string authentication requires the Signature, Expires and "
                                           "AWSAccessKeyId parameters", 403) from None
        if self.clock() > expires:
            raise AwsError("AccessDenied", "Request has expired", 403)
        given = query.get("Signature", "")
        paths = [http.path] + ([http.path + "/"] if http.path.count("/") == 1 else [])  # botocore signs "/bucket/"
        if not any(hmac.compare_digest(sigv2_query_signature(replace(http, path=path), credential.secret), given)
                   for path in paths):
            raise AwsError("SignatureDoesNotMatch", BAD_SIGNATURE_MESSAGE, 403)
        return credential

    def _authenticate(self, http: HttpRequest, signature: Signature | None, info: specs.ServiceInfo,
                      operation: OperationModel) -> Credential:
        if signature is None:
            if operation.auth_type == "none" or operation.metadata.get("auth") == ["smithy.api#noAuth"]:
                return anonymous_credential()
            raise _fault(info.missing_auth, "Request is missing Authentication Token")
        credential = self.credentials.lookup(signature.access_key)
        if credential is None or not credential.active:
            raise _fault(info.unknown_key, "The security token included in the request is invalid.")
        if credential.session_token is not None and signature.security_token != credential.session_token:
            raise _fault(info.unknown_key, "The security token included in the request is invalid.")
        now = self.clock()
        if credential.expires is not None and now >= credential.expires:
            raise _fault(info.expired_token, "The security token included in the request is expired")
        stamp = signature.timestamp.timestamp()
        if signature.presigned:
            if now > stamp + signature.expires:
                raise _fault(info.denied if info.name == "s3" else info.expired_token, "Request has expired")
        elif abs(now - stamp) > MAX_SKEW_SECONDS:
            raise _fault(info.skewed, f"Signature expired: {signature.timestamp:%Y%m%dT%H%M%SZ} is now earlier "
                                      f"than the allowed window (15 minutes of server time)")
        if not signature_matches(http, signature, credential.secret):
            raise _fault(info.bad_signature, BAD_SIGNATURE_MESSAGE)
        return credential

    def _parse(self, protocol, operation: OperationModel, http: HttpRequest, info: specs.ServiceInfo) -> dict:
        try:
            params = protocol.parse(operation, http)
        except WireError as error:
            raise wire_error(info, [error]) from error
        errors = validate(operation.input_shape, params)
        if errors:
            raise wire_error(info, errors)
        return params


def _with_headers(response: web.StreamResponse, headers: dict[str, str]) -> web.StreamResponse:
    """`response` with `headers` added, unless it was streamed (its provider added them before sending)."""
    if headers and not response.prepared:
        response.headers.update(headers)
    return response


def _required_wire(operation: OperationModel) -> list[tuple[str, str]]:
    shape = operation.input_shape
    if shape is None:
        return []
    return [(m.serialization["location"], m.serialization.get("name", n).lower())
            for n, m in shape.members.items()
            if n in shape.required_members and m.serialization.get("location") in ("querystring", "header")]


@functools.cache
def _s3_twins(model: ServiceModel, name: str) -> tuple[tuple[OperationModel, tuple], ...]:
    """Operations sharing `name`'s method and URI, each with the query/header members it requires."""
    http = model.operation_model(name).http
    twins = [model.operation_model(other) for other in model.operation_names
             if model.operation_model(other).http.get("method") == http.get("method")
             and model.operation_model(other).http.get("requestUri") == http.get("requestUri")]
    return tuple((op, tuple(_required_wire(op))) for op in twins)


_S3_BUCKET_PATH = re.compile(r"^/[^/]+/?$")
_S3_OBJECT_PATH = re.compile(r"^/[^/]+/.")
_S3_MATCHED: dict[tuple, OperationModel] = {}


@functools.cache
def _s3_literals(protocol) -> tuple[frozenset[str], tuple[re.Pattern, ...]]:
    """The query keys S3's request URIs name literally (`?uploads`, `?list-type=2`) and the label-free paths."""
    templates = protocol.templates(specs.service_model("s3"))
    return (frozenset(key for t in templates for key, _ in t.literal_query),
            tuple(t.regex for t in templates if not t.labels))


def s3_matched_operation(protocol, model: ServiceModel, http: HttpRequest) -> OperationModel:
    """`protocol.operation_for`, remembered: which S3 operation a request is depends only on its method, on
    whether its path names the root, a bucket or an object, and on the literal query keys (and their values)
    present, so that is the key. Paths a label-free template could match (`/WriteGetObjectResponse`) are
    matched every time."""
    path = http.path
    shape = 0 if path in ("", "/") else 1 if _S3_BUCKET_PATH.match(path) else 2 if _S3_OBJECT_PATH.match(path) \
        else -1
    literal_keys, literal_paths = _s3_literals(protocol)
    if shape < 0 or (shape == 1 and any(regex.match(path) for regex in literal_paths)):
        return protocol.operation_for(model, http)
    query = tuple(sorted((k, v) for k, v in http.query.items() if k in literal_keys)) if http.query_string else ()
    key = (http.method.upper(), shape, query)
    found = _S3_MATCHED.get(key)
    if found is None:
        found = protocol.operation_for(model, http)
        if len(_S3_MATCHED) < 4096:
            _S3_MATCHED[key] = found
    return found


def s3_operation(model: ServiceModel, operation: OperationModel, http: HttpRequest) -> OperationModel:
    """S3 operations that share a method and URI (PutObject/UploadPart/CopyObject, GetObject/ListParts, ...)
    differ only by the query parameters and headers they require: pick the one whose requirements the request
    meets most specifically (and the current operation over its deprecated twin: PutBucketLifecycle...)."""
    query = {k.lower() for k in http.query}
    best, best_score = operation, (-1, False)
    for candidate, required in _s3_twins(model, operation.name):
        present = [(where, name) for where, name in required
                   if (name in query if where == "querystring" else name in http.headers)]
        score = (len(required), not candidate.deprecated)
        if len(present) == len(required) and score > best_score:
            best, best_score = candidate, score
    return best


def s3_path_style(http: HttpRequest) -> HttpRequest:
    """A virtual-hosted S3 request (`Host: <bucket>.s3.<anything>` or `<bucket>.localhost`) as path-style.
    The signature still covers the request as sent, so callers keep the original for authentication."""
    found = _S3_VIRTUAL_HOST.match(http.headers.get("Host", "").lower())
    if found is None:
        return http
    path = "/" + found.group("bucket") + (http.path if http.path != "/" else "")
    return HttpRequest(http.method, path, http.query_string, http.headers, http.body)


def _fault(fault: specs.Fault, message: str) -> AwsError:
    code, status = fault
    return AwsError(code, message, status)


_VIOLATION_AT = re.compile(r"^Value (?:'(.*)'|null) at '([^']+)'", re.S)
_S3_ENUM_ERRORS = {  # S3's own codes for a header enum a value misses, by the member's path
    "storageClass": ("InvalidStorageClass", "The storage class you specified is not valid", None),
    "createBucketConfiguration.locationConstraint": (
        "InvalidLocationConstraint", "The specified location-constraint is not valid", "LocationConstraint"),
}


def _s3_wire_error(first: WireError) -> AwsError | None:
    """S3's answer to a request the model refuses, where it is not the generic InvalidArgument: S3 checks a
    configuration document against its schema, so a missing or out-of-range value inside one is MalformedXML."""
    if first.message == XML_SCHEMA_MESSAGE:
        return AwsError("MalformedXML", first.message)
    found = _VIOLATION_AT.search(first.message)
    if first.kind not in (CONSTRAINT, MISSING) or found is None:
        return None
    if found.group(2) in _S3_ENUM_ERRORS:
        code, message, field = _S3_ENUM_ERRORS[found.group(2)]
        return AwsError(code, message, 400, **({field: found.group(1)} if field else {}))
    if ".events." in found.group(2) and found.group(2).startswith("notificationConfiguration."):
        return AwsError("InvalidArgument", "The event is not supported for notifications", 400,
                        ArgumentName="Event", ArgumentValue=found.group(1) or "")
    _, _, inner = found.group(2).partition(".")
    if inner and not inner.partition(".")[0].isdigit():  # inside the body document (a top-level member
        return AwsError("MalformedXML", XML_SCHEMA_MESSAGE)  # that is a structure), not a header list
    return None


def wire_error(info: specs.ServiceInfo, errors: list[WireError]) -> AwsError:
    first = errors[0]
    if info.name == "ec2":
        if first.kind == MISSING:
            return AwsError(info.missing_param, f"The request must contain the parameter {first.member}")
        if first.kind == UNKNOWN:
            return AwsError(info.unknown_param, first.message)
        return AwsError(info.invalid_param, first.message)
    if info.name == "s3" and (special := _s3_wire_error(first)) is not None:
        return special
    code = {MISSING: info.missing_param, CONSTRAINT: info.constraint, INVALID: info.invalid_param,
            UNKNOWN: info.invalid_param}[first.kind]
    message = coral_message(errors) if first.kind in (MISSING, CONSTRAINT) else first.message
    return AwsError(code, message)


def denied_error(info: specs.ServiceInfo, denial: Denial) -> AwsError:
    code, status = info.denied
    reason = "with an explicit deny" if denial.explicit else "because no identity-based policy allows the action"
    detail = (f"User: {denial.principal_arn} is not authorized to perform: {denial.action} "
              f"on resource: {denial.resource} {reason}")
    if info.name == "ec2":
        return AwsError(code, f"You are not authorized to perform this operation. {detail}", status)
    if info.name == "s3":
        return AwsError(code, "Access Denied", status)
    return AwsError(code, detail, status)


def anonymous_credential() -> Credential:
    return Credential("", "", Principal("*", "anonymous", "", "anonymous", "anonymous"))
