"""Static website hosting: `GET http://<bucket>.s3-website[-.]<anything>/path` as S3 website endpoints do.

Website endpoints are anonymous and read-only: an object is served only if the bucket policy lets anyone
read it. `/` and `.../` get the index document; a missing key is answered with the error document (status
404) or S3's HTML error page; `RedirectAllRequestsTo` redirects everything, `RoutingRules` what they match
(routing_rules.py), an object stored with a website redirect location redirects to it (301). Bytes stream
from the backend.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import unquote

from aiohttp import web

from runtime.api.context import RequestContext
from runtime.api.gateway import anonymous_credential
from runtime.api.http import HttpRequest
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.services.s3.records import find_bucket
from runtime.services.s3.redirects import redirect_of
from runtime.services.s3.routing_rules import redirect_for
from runtime.state import Store

WEBSITE_HOST = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3-website[.-][^:]+(?::\d+)?$")
CHUNK = 1024 * 1024


def website_bucket(host: str) -> str | None:
    found = WEBSITE_HOST.match(host.lower())
    return found.group("bucket") if found else None


def _html_error(status: int, code: str, message: str, request_id: str) -> web.Response:
    body = (f"<html>\n<head><title>{status} {escape(message)}</title></head>\n<body>\n<h1>{status} "
            f"{escape(message)}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {escape(message)}</li>\n"
            f"<li>RequestId: {request_id}</li>\n</ul>\n<hr/>\n</body>\n</html>\n")
    return web.Response(status=status, text=body, content_type="text/html")


class WebsiteServer:
    def __init__(self, store: Store, backend: Backend, access, get_object) -> None:
        self.store = store
        self.backend = backend
        self.access = access          # S3Access
        self.get_object = get_object  # the BoundOperation of GetObject (action and resource ARN)

    async def __call__(self, request: web.Request, request_id: str) -> web.StreamResponse:
        bucket = website_bucket(request.host)
        if request.method not in ("GET", "HEAD"):
            return _html_error(405, "MethodNotAllowed", "Method Not Allowed", request_id)
        record = find_bucket(self.store, bucket or "")
        if record is None:
            return _html_error(404, "NoSuchBucket", "The specified bucket does not exist", request_id)
        config = record.spec.get("website")
        if not config:
            return _html_error(404, "NoSuchWebsiteConfiguration",
                               "The specified bucket does not have a website configuration", request_id)
        redirect = config.get("RedirectAllRequestsTo")
        if redirect:
            scheme = redirect.get("Protocol", request.scheme)
            raise web.HTTPMovedPermanently(f"{scheme}://{redirect['HostName']}{request.raw_path}")
        index = (config.get("IndexDocument") or {}).get("Suffix", "index.html")
        asked = unquote(request.raw_path.split("?", 1)[0]).lstrip("/")
        if (routed := self._route(config, asked, None, request)) is not None:
            return routed
        key = asked + index if asked == "" or asked.endswith("/") else asked
        if await self._denied(request, record.id, key, request_id):
            return self._route(config, asked, "403", request) or _html_error(403, "AccessDenied", "Access Denied",
                                                                             request_id)
        redirect = redirect_of(record, key)
        if redirect:
            raise web.HTTPMovedPermanently(redirect)
        try:
            reply = await self.backend.request(request.method, record.spec["backend"], key, [], {})
        except BackendUnavailable:
            return _html_error(503, "ServiceUnavailable", "Please reduce your request rate.", request_id)
        try:
            if reply.status == 200:
                return await self._stream(request, reply, 200)
        finally:
            reply.release()
        return self._route(config, asked, "404", request) or await self._not_found(
            request, record, config, key, index, request_id)

    @staticmethod
    def _route(config: dict, key: str, error: str | None, request: web.Request) -> web.Response | None:
        """The redirect a routing rule makes of `key` failing with `error` (None: not failing), if one applies."""
        found = redirect_for(config.get("RoutingRules") or [], key, error=error, scheme=request.scheme,
                             host=request.host)
        if found is None:
            return None
        status, location = found
        return web.Response(status=status, headers={"Location": location})

    async def _denied(self, request: web.Request, bucket: str, key: str, request_id: str) -> bool:
        http = HttpRequest("GET", "/", "", request.headers)
        credential = anonymous_credential()
        ctx = RequestContext("s3", "GetObject", "us-east-1", request_id, credential.principal, http,
                             request.remote or "127.0.0.1", request.secure, credential)
        return await self.access(ctx, self.get_object, {"Bucket": bucket, "Key": key}) is not None

    async def _not_found(self, request, record, config, key, index, request_id) -> web.StreamResponse:
        if not key.endswith(index):  # "docs" where "docs/index.html" exists: S3 redirects to "docs/"
            probe = await self.backend.request("HEAD", record.spec["backend"], f"{key}/{index}", [], {})
            probe.release()
            if probe.status == 200:
                raise web.HTTPFound("/" + key + "/")
        error_key = (config.get("ErrorDocument") or {}).get("Key")
        if error_key and not await self._denied(request, record.id, error_key, request_id):
            reply = await self.backend.request("GET", record.spec["backend"], error_key, [], {})
            try:
                if reply.status == 200:
                    return await self._stream(request, reply, 404)
            finally:
                reply.release()
        return _html_error(404, "NoSuchKey", "The specified key does not exist.", request_id)

    @staticmethod
    async def _stream(request: web.Request, reply, status: int) -> web.StreamResponse:
        headers = {k: v for k, v in reply.headers.items()
                   if k.lower() in ("content-type", "etag", "last-modified", "cache-control", "content-encoding")}
        response = web.StreamResponse(status=status, headers=headers)
        if reply.content_length is not None:
            response.content_length = reply.content_length
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in reply.content.iter_chunked(CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response
