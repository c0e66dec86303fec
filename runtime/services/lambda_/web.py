"""The two plain-HTTP doors of Lambda on Terrarium's endpoint (not AWS API operations, so not the gateway):

- function URLs: `ANY /_terrarium/lambda-url/<url-id>/<path>` -> a payload-format 2.0 event, synchronous
  invoke, and the result mapped back to an HTTP response (a dict with `statusCode` is a response object;
  anything else is a 200 JSON body). AuthType AWS_IAM requires a SigV4 signature (service `lambda`) by a
  caller whom the IAM engine allows `lambda:InvokeFunctionUrl` (identity or the function's resource policy);
  AuthType NONE still needs a resource policy allowing it, as AWS requires — here AddPermission with
  Principal "*" and FunctionUrlAuthType NONE, which CreateFunctionUrlConfig's callers normally add.
- code downloads: `GET /_terrarium/lambda-code/<sha>.zip?expires=&signature=`, the presigned Location that
  GetFunction returns (valid 10 minutes, HMAC with a secret kept in the store's meta).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from runtime.api.context import Credential, Principal, RequestContext
from runtime.api.dispatch import BoundOperation, OperationSpec
from runtime.api.http import HttpRequest
from runtime.api.sigv4 import MalformedAuth, read_signature, signature_matches
from runtime.errors import AwsError, NotFound
from runtime.sandbox.ports import SandboxThrottled, SandboxUnavailable
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.service import LambdaService
from runtime.services.lambda_.urls import URL_PATH

CODE_PATH = "/_terrarium/lambda-code/"
CODE_URL_SECONDS = 600
SECRET_META = "lambda.code-url-secret"
ANONYMOUS = Principal("*", "anonymous", "", "anonymous", "anonymous")

CredentialLookup = Callable[[str], Credential | None]
Authorize = Callable[[RequestContext, BoundOperation, dict], Awaitable[object | None]]


def add_routes(router: web.UrlDispatcher, resolve: Callable[[web.Request], "LambdaWeb"]) -> None:
    """Register both doors; `resolve` finds the LambdaWeb of the running app (made after the routes are)."""
    async def function_url(request: web.Request) -> web.StreamResponse:
        return await resolve(request).function_url(request)

    async def code_download(request: web.Request) -> web.StreamResponse:
        return await resolve(request).code_download(request)

    router.add_route("*", URL_PATH + "{url_id:[a-z0-9]+}{tail:(/.*)?}", function_url)
    router.add_get(CODE_PATH + "{sha:[0-9a-f]{64}}.zip", code_download)


def _json(status: int, body: dict) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


class LambdaWeb:
    def __init__(self, service: LambdaService, *, endpoint: str, lookup_credential: CredentialLookup,
                 authorize: Authorize) -> None:
        self.service = service
        self.store = service.store
        self.endpoint = endpoint.rstrip("/")
        self.lookup_credential = lookup_credential
        self.authorize = authorize

    # --------------------------------------------------------------------------------- code downloads

    def _secret(self) -> bytes:
        secret = self.store.get_meta(SECRET_META)
        if secret is None:
            secret = secrets.token_hex(32)
            self.store.set_meta(SECRET_META, secret)
        return bytes.fromhex(secret)

    def code_url(self, sha_hex: str) -> str:
        expires = int(time.time()) + CODE_URL_SECONDS
        signature = hmac.new(self._secret(), f"{sha_hex}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self.endpoint}{CODE_PATH}{sha_hex}.zip?expires={expires}&signature={signature}"

    async def code_download(self, request: web.Request) -> web.StreamResponse:
        sha = request.match_info["sha"]
        try:
            expires = int(request.query.get("expires", "0"))
        except ValueError:
            expires = 0
        wanted = hmac.new(self._secret(), f"{sha}:{expires}".encode(), hashlib.sha256).hexdigest()
        if expires < time.time() or not hmac.compare_digest(wanted, request.query.get("signature", "")):
            return web.Response(status=403, text="Request has expired or its signature does not match")
        path = self.service.code.zip_path(sha)
        if not path.is_file():
            return web.Response(status=404, text="NoSuchKey")
        return web.FileResponse(path, headers={"Content-Type": "application/zip"})

    # --------------------------------------------------------------------------------- function URLs

    async def function_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        try:
            url = self.store.get(shapes.URL, url_id)
        except NotFound:
            return _json(404, {"Message": None})
        cors = url.spec.get("Cors") or {}
        origin = request.headers.get("Origin")
        if (cors and origin and request.method == "OPTIONS"
                and "Access-Control-Request-Method" in request.headers):
            return web.Response(status=200, headers=cors_headers(cors, origin, preflight=True))
        body = await request.read()
        http = HttpRequest.from_target(request.method, request.raw_path, request.headers, body)
        function_arn = url.spec["FunctionArn"]
        principal, denied = await self._authorise(http, url, function_arn, request.remote or "127.0.0.1")
        if denied is not None:
            return denied
        ref = naming.parse(self.service.region, url.account, function_arn)
        try:
            target = self.service.target(ref)
            self.service.check_invocable(target)
        except AwsError:  # the function went away or is not Active: not servable now
            return _json(502, {"Message": "Internal Server Error"})
        event = url_event(request, body, url_id, url.account, principal)
        request_id = str(uuid.uuid4())
        try:
            result = await self.service.run(target, json.dumps(event).encode(), request_id=request_id)
        except SandboxThrottled:
            return _json(429, {"Message": "Rate Exceeded."})
        except SandboxUnavailable:
            return _json(502, {"Message": "Internal Server Error"})
        if result.function_error:
            return _json(502, {"Message": "Internal Server Error"})
        response = map_response(result.payload)
        response.headers["x-amzn-RequestId"] = request_id
        if cors and origin:
            response.headers.update(cors_headers(cors, origin, preflight=False))
        return response

    async def _authorise(self, http: HttpRequest, url, function_arn: str, source_ip: str):
        """(principal, None) when the caller may invoke; (None, error response) otherwise."""
        auth_type = url.spec["AuthType"]
        credential = None
        if auth_type == "AWS_IAM":
            try:
                signature = read_signature(http)
            except MalformedAuth:
                signature = None
            credential = self.lookup_credential(signature.access_key) if signature else None
            if (signature is None or signature.service != "lambda" or credential is None or not credential.active
                    or (credential.session_token is not None and signature.security_token != credential.session_token)
                    or (credential.expires is not None and time.time() >= credential.expires)
                    or not signature_matches(http, signature, credential.secret)):
                return None, _json(403, {"Message": "Forbidden"})
        principal = credential.principal if credential else ANONYMOUS
        if auth_type == "NONE":
            if not self._public(url.account, function_arn):
                return None, _json(403, {"Message": "Forbidden"})
            return principal, None
        ctx = _ctx(self.service.region, url.account, principal, http, source_ip, credential)
        op = BoundOperation("lambda", OperationSpec("InvokeFunctionUrl", "lambda:InvokeFunctionUrl",
                                                    lambda c, p: [function_arn],
                                                    lambda c, p: {"lambda:FunctionUrlAuthType": auth_type}),
                            self.invoke_function_url)
        if await self.authorize(ctx, op, {}) is not None:
            return None, _json(403, {"Message": "Forbidden"})
        return principal, None


    def _public(self, account: str, function_arn: str) -> bool:
        """AuthType NONE: the resource policy must let everyone call lambda:InvokeFunctionUrl."""
        ref = naming.parse(self.service.region, account, function_arn)
        try:
            function = self.store.get(shapes.FUNCTION, ref.arn)
        except NotFound:
            return False
        for statement in function.spec.get("Policy", {}).get(ref.qualifier or naming.LATEST, []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Principal"] in ("*", {"AWS": "*"}) and any(
                    a in ("lambda:InvokeFunctionUrl", "lambda:*", "*") for a in actions):
                return True
        return False

    def resource_policy(self, ctx: RequestContext, arn: str):
        return self.service.resource_policy(ctx, arn)

    def invoke_function_url(self, ctx: RequestContext, params: dict) -> dict:
        """Stands for the InvokeFunctionUrl action when the IAM engine is asked (see `_authorise`)."""
        return {}


def _ctx(region: str, account: str, principal: Principal, http: HttpRequest, source_ip: str,
         credential: Credential | None) -> RequestContext:
    if principal.kind == "anonymous":
        principal = Principal("*", "anonymous", account, "anonymous", "anonymous")
    return RequestContext("lambda", "InvokeFunctionUrl", region, str(uuid.uuid4()), principal, http, source_ip,
                          False, credential)


def cors_headers(cors: dict, origin: str, *, preflight: bool) -> dict[str, str]:
    """The CORS headers a function URL adds for `origin` (none if the origin is not allowed); Lambda answers
    preflight requests itself, without invoking the function."""
    origins = cors.get("AllowOrigins") or []
    if "*" not in origins and origin not in origins:
        return {}
    credentials = bool(cors.get("AllowCredentials"))
    headers = {"Access-Control-Allow-Origin": origin if credentials or "*" not in origins else "*"}
    if credentials:
        headers["Access-Control-Allow-Credentials"] = "true"
    if preflight:
        if cors.get("AllowMethods"):
            headers["Access-Control-Allow-Methods"] = ",".join(cors["AllowMethods"])
        if cors.get("AllowHeaders"):
            headers["Access-Control-Allow-Headers"] = ",".join(cors["AllowHeaders"])
        if cors.get("MaxAge"):
            headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
    elif cors.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(cors["ExposeHeaders"])
    return headers


def url_event(request: web.Request, body: bytes, url_id: str, account: str, principal: Principal) -> dict:
    """Payload format 2.0, as function URLs send it."""
    path = "/" + request.match_info.get("tail", "").lstrip("/")
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for key, value in request.query.items():
        query[key] = f"{query[key]},{value}" if key in query else value
    now = time.time()
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    content_type = headers.get("content-type", "")
    if body and not encoded and not (content_type.startswith("text/") or "json" in content_type
                                     or "xml" in content_type or "x-www-form-urlencoded" in content_type):
        text, encoded = base64.b64encode(body).decode(), True
    context = {"accountId": account if principal.kind != "anonymous" else "anonymous", "apiId": url_id,
               "domainName": request.host, "domainPrefix": url_id,
               "http": {"method": request.method, "path": path, "protocol": f"HTTP/{request.version.major}."
                                                                           f"{request.version.minor}",
                        "sourceIp": request.remote or "127.0.0.1", "userAgent": headers.get("user-agent", "")},
               "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
               "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000)}
    if principal.kind != "anonymous":
        context["authorizer"] = {"iam": {"accessKey": None, "accountId": principal.account,
                                         "callerId": principal.user_id, "userArn": principal.arn,
                                         "userId": principal.user_id}}
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path,
             "rawQueryString": request.raw_path.partition("?")[2],
             "headers": headers, "requestContext": context, "isBase64Encoded": encoded}
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text
    return event


def map_response(payload: bytes) -> web.Response:
    """A function URL's result -> HTTP: a dict with statusCode is a response object, anything else is JSON."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        return web.Response(status=200, body=payload, content_type="application/json")
    if not (isinstance(value, dict) and "statusCode" in value):
        return web.Response(status=200, body=payload, content_type="application/json")
    headers = {str(k): str(v) for k, v in (value.get("headers") or {}).items()}
    body = value.get("body") or ""
    data = base64.b64decode(body) if value.get("isBase64Encoded") else str(body).encode()
    response = web.Response(status=int(value["statusCode"]), body=data)
    for key, item in headers.items():
        response.headers[key] = item
    if "content-type" not in {k.lower() for k in headers}:
        response.headers["Content-Type"] = "application/json"
    for cookie in value.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    return response
