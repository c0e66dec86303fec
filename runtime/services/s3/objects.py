"""Object operations: authorised by the gateway, then proxied to the backend bucket with the bytes streamed.

The gateway has already authenticated, parsed, validated and authorised the call; here the request is
re-addressed (bucket -> backend bucket, `x-amz-copy-source` likewise), re-signed by the backend client and
sent on with only the headers S3 semantics need. Large bodies are never held: PutObject and UploadPart read
from the verified payload iterator and GetObject writes the backend's body as it arrives. Small XML answers
(listings, multipart, errors) are buffered so the backend's bucket name can be replaced by the client's.
Notifications are queued after the backend confirmed a change and before the client hears of it.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote
from xml.etree.ElementTree import ParseError, fromstring

from aiohttp import web

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.api.gateway import RAW_RESPONSE, STREAMING
from runtime.api.sigv4 import decoded_length, is_chunked
from runtime.errors import AwsError
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.services.s3.acl import check_write_acl
from runtime.services.s3.buckets import bucket_arn, object_arn, unavailable
from runtime.services.s3.checksum_type import TYPED_OPERATIONS, with_checksum_type
from runtime.services.s3.copy_results import quoted_etag, source_parts
from runtime.services.s3.delete_markers import delete_marker_answer
from runtime.services.s3.encryption import check_encryption
from runtime.services.s3.folder_markers import both_named, check_no_marker_named, note_markers
from runtime.services.s3.listed_objects import as_listed, with_initiator_and_owner
from runtime.services.s3.listing_order import in_byte_order
from runtime.services.s3.markers import resume_past_prefixes, token_past_prefix
from runtime.services.s3.names import (DEFAULT_CONTENT_TYPE, byte_range, check_metadata_size, check_object_key,
                                       check_part_number, check_version_id, is_single_byte_range, malformed_xml)
from runtime.services.s3.notifications import enqueue_events
from runtime.services.s3.objects_listing import ObjectsQuery, objects_page
from runtime.services.s3.prefixes import without_empty_prefixes
from runtime.services.s3.records import BUCKET, get_bucket, owner
from runtime.services.s3.redirects import HEADER as REDIRECT, check_redirect_location, note_redirects, redirect_of
from runtime.services.s3.tags import check_tag_set, check_tagging_header
from runtime.services.s3.uploads_listing import UploadsQuery, uploads_page
from runtime.services.s3.versions_listing import Query, versions_page
from runtime.state import Store

STREAM_CHUNK = 1024 * 1024
SMALL_BODY = 256 * 1024  # bodies up to this size are passed whole; larger ones stream
_FORWARD = {"content-type", "content-md5", "cache-control", "content-disposition", "content-language", "expires",
            "range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "x-amz-tagging",
            "x-amz-metadata-directive", "x-amz-tagging-directive", "x-amz-copy-source-range",
            "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match", "x-amz-copy-source-if-modified-since",
            "x-amz-copy-source-if-unmodified-since", "x-amz-checksum-algorithm",
            "x-amz-checksum-type", "x-amz-checksum-mode"}
_OBJECT_LOCK = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold")
_DROP_RESPONSE = {"server", "date", "vary", "connection", "keep-alive", "transfer-encoding", "x-amz-request-id",
                  "x-amz-id-2", "content-length", "owner"}
_AUTH_QUERY = {"x-id", "AWSAccessKeyId", "Signature", "Expires"}
_REQUEST_ID = re.compile(rb"<RequestId>[^<]*</RequestId>")
_FILE_AND_FOLDER = re.compile(rb"<Code>ExistingObjectIs(File|Directory)</Code>")  # SeaweedFS's own codes
_NOT_CHECKSUMS = {"x-amz-checksum-mode", "x-amz-checksum-type"}  # x-amz-checksum-* headers that carry none
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # no HTTP header value may carry these


def deleted_objects_arns(ctx: RequestContext, params: dict) -> list[str]:
    objects = (params.get("Delete") or {}).get("Objects") or []
    return [f"arn:aws:s3:::{params.get('Bucket', '')}/{o.get('Key', '')}" for o in objects] or bucket_arn(ctx, params)


def list_keys(ctx: RequestContext, params: dict) -> dict:
    keys = {"s3:prefix": params.get("Prefix") or ""}
    if params.get("Delimiter"):
        keys["s3:delimiter"] = params["Delimiter"]
    if params.get("MaxKeys") is not None:
        keys["s3:max-keys"] = str(params["MaxKeys"])
    return keys


# name: (action, resources, streams the request body, event name on success)
PROXIED = {
    "PutObject": ("s3:PutObject", object_arn, True, "ObjectCreated:Put"),
    "UploadPart": ("s3:PutObject", object_arn, True, None),
    "GetObject": ("s3:GetObject", object_arn, False, None),
    "HeadObject": ("s3:GetObject", object_arn, False, None),
    "DeleteObject": ("s3:DeleteObject", object_arn, False, "ObjectRemoved:Delete"),
    "CopyObject": ("s3:PutObject", object_arn, False, "ObjectCreated:Copy"),
    "UploadPartCopy": ("s3:PutObject", object_arn, False, None),
    "CreateMultipartUpload": ("s3:PutObject", object_arn, False, None),
    "CompleteMultipartUpload": ("s3:PutObject", object_arn, False, "ObjectCreated:CompleteMultipartUpload"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", object_arn, False, None),
    "ListParts": ("s3:ListMultipartUploadParts", object_arn, False, None),
    "GetObjectTagging": ("s3:GetObjectTagging", object_arn, False, None),
    "PutObjectTagging": ("s3:PutObjectTagging", object_arn, False, None),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", object_arn, False, None),
    "ListObjects": ("s3:ListBucket", bucket_arn, False, None),
    "ListObjectsV2": ("s3:ListBucket", bucket_arn, False, None),
    "ListObjectVersions": ("s3:ListBucketVersions", bucket_arn, False, None),
    "ListMultipartUploads": ("s3:ListBucketMultipartUploads", bucket_arn, False, None),
    "DeleteObjects": ("s3:DeleteObject", deleted_objects_arns, False, "ObjectRemoved:Delete"),
}
_LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}
_PAGED_BY_GATEWAY = {"ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"}
_STORES_CLASS = {"PutObject", "CopyObject", "CreateMultipartUpload"}
_WRITES_DATA = {"CopyObject", "CreateMultipartUpload"}  # and PutObject with a body
_SETS_ACL = {"PutObject", "CopyObject", "CreateMultipartUpload"}


def _proxied(name: str, action: str, resources, streaming: bool, event: str | None):
    async def handler(self, ctx: RequestContext, params: dict) -> dict:
        return {RAW_RESPONSE: await self.forward(ctx, params, name, event)}
    handler.__name__ = name
    handler = operation(name, action=action, resources=resources,
                        condition_keys=list_keys if resources is bucket_arn else None)(handler)
    if streaming:
        setattr(handler, STREAMING, True)
    return handler


class ObjectsProvider:
    """`read_check(ctx, bucket, key)` -> Denial | None decides whether the caller may read a copy source
    (AWS requires s3:GetObject on the source besides s3:PutObject on the target); it is wired to the S3
    authorizer after construction, and copies are refused while it is missing."""

    def __init__(self, store: Store, backend: Backend) -> None:
        self.store = store
        self.backend = backend
        self.read_check = None

    async def forward(self, ctx: RequestContext, params: dict, name: str, event: str | None) -> web.StreamResponse:
        request: web.Request = ctx.extras["request"]
        failures: list[AwsError] = []
        record = get_bucket(self.store, params["Bucket"], ctx.extras)
        backend_bucket = record.spec["backend"]
        key = params.get("Key")
        _check_request(name, params, request, record)
        if name in _PAGED_BY_GATEWAY and self.backend.endpoint.gateway_pages_listings:
            return await self._gateway_page(ctx, name, record, backend_bucket, params, request)
        headers = self._headers(request, params)
        if name in _STORES_CLASS and "content-type" not in headers and (
                name != "CopyObject" or request.headers.get("x-amz-metadata-directive", "").upper() == "REPLACE"):
            headers["content-type"] = DEFAULT_CONTENT_TYPE  # SeaweedFS would sniff one (text/plain...)
        check_metadata_size(headers)
        copied = None
        if "x-amz-copy-source" in headers:
            copied = await self._copy_source(ctx, headers)
        if "payload" in ctx.extras:
            size = decoded_length(request.headers)
            if size is None:
                raise AwsError("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
            headers["Content-Length"] = str(size)
            body = _recording(ctx.extras["payload"], failures)
            if size <= SMALL_BODY and not is_chunked(request.headers):  # read and checked whole, sent in one
                body = ctx.extras["verifier"].verify_whole(await _read_exactly(request, size))
            elif size <= SMALL_BODY:  # one send instead of one per piece: loopback sends cost ~0.1-0.5 ms each
                try:
                    body = b"".join([piece async for piece in body])
                except AwsError:
                    raise failures[0] from None
        else:
            body = ctx.http.body
            if body or request.method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
        query = [(k, v) for k, v in request.query.items()
                 if not k.lower().startswith("x-amz-") and k not in _AUTH_QUERY]
        if name in _LISTINGS and params.get("Delimiter"):
            query = resume_past_prefixes(query)
        if name == "ListParts" and params.get("MaxParts") is None:
            query.append(("max-parts", "1000"))  # S3's default; SeaweedFS's is 10000
        try:
            reply = await self.backend.request(request.method, backend_bucket, key, query, headers, body or None)
        except BackendUnavailable as exc:
            if failures:
                raise failures[0] from exc
            raise unavailable() from exc
        try:
            if failures:
                raise failures[0]
            ok = 200 <= reply.status < 300
            if ok:
                self._bookkeep(name, record, key, request, params)
            out_headers = self._response_headers(reply, ctx, record, key)
            if name == "GetObject" and ok and (reply.content_length is None or reply.content_length > SMALL_BODY):
                return await self._stream(request, reply, out_headers)
            data = await reply.read()
            status = reply.status
            if status == 404 and name in ("GetObject", "HeadObject") and record.spec.get("versioning"):
                marked = await delete_marker_answer(self.backend, backend_bucket, key, params.get("VersionId"),
                                                    request.method, ctx.request_id)
                if marked is not None:
                    status, extra, body = marked
                    out_headers.update(extra)
                    data = body or data
            if not ok and _FILE_AND_FOLDER.search(data):
                raise both_named(key)
            if not (ok and name == "GetObject"):  # an object's own bytes are never rewritten
                data = self._as_client_sees(data, backend_bucket, record, request, ctx.request_id)
            if ok and name in ("CopyObject", "UploadPartCopy"):
                data = quoted_etag(data)
                if copied:
                    out_headers["x-amz-copy-source-version-id"] = copied
            if name in _LISTINGS:
                data = as_listed(data, record)
            elif name == "ListParts" and ok:
                data = with_initiator_and_owner(data, record)
            if ok and name in _LISTINGS:
                url_encoded = params.get("EncodingType") == "url"
                if params.get("Delimiter"):
                    try:
                        data = await without_empty_prefixes(self.backend, backend_bucket, data,
                                                            versions=name == "ListObjectVersions",
                                                            url_encoded=url_encoded)
                    except BackendUnavailable as exc:
                        raise unavailable() from exc
                data = in_byte_order(data, name, url_encoded=url_encoded)
                if name == "ListObjectsV2" and params.get("Delimiter"):
                    data = token_past_prefix(data, url_encoded)
            if ok and event is not None:
                await self._notify(ctx, record, name, event, key, params, reply, data, request)
            if request.method == "HEAD":
                out_headers["Content-Length"] = reply.headers.get("Content-Length", "0")
                if ok and "range" in headers:  # SeaweedFS ignores a HEAD's Range; S3 answers for the range
                    status = _head_range(out_headers, headers["range"])
                return web.Response(status=status, headers=out_headers)
            return web.Response(status=status, headers=out_headers, body=data)
        finally:
            reply.release()

    async def _gateway_page(self, ctx: RequestContext, name: str, record, backend_bucket: str, params: dict,
                            request: web.Request) -> web.Response:
        """A listing page cut by the gateway (objects_listing, versions_listing, uploads_listing)."""
        most = params.get("MaxUploads" if name == "ListMultipartUploads" else "MaxKeys", 1000)
        if most < 0:
            argument = "maxUploads" if name == "ListMultipartUploads" else "maxKeys"
            raise AwsError("InvalidArgument", f"Argument {argument} must be an integer between 0 and 2147483647",
                           400, ArgumentName=argument, ArgumentValue=str(most))
        common = (params.get("Prefix") or "", params.get("Delimiter") or "")
        marker = params.get("KeyMarker") or ""
        url_encoded = params.get("EncodingType") == "url"
        try:
            if name == "ListObjectVersions":
                query = Query(*common, marker, params.get("VersionIdMarker") or "", min(most, 1000), url_encoded)
                data = await versions_page(self.backend, backend_bucket, query)
            elif name == "ListMultipartUploads":
                uploads = UploadsQuery(*common, marker, params.get("UploadIdMarker") or "", min(most, 1000),
                                       url_encoded)
                data = await uploads_page(self.backend, backend_bucket, uploads, owner(record.account),
                                          record.spec.get("storage_classes") or {})
            else:
                objects = ObjectsQuery(name == "ListObjectsV2", *common, min(most, 1000), url_encoded,
                                       marker=params.get("Marker") or "", start_after=params.get("StartAfter") or "",
                                       continuation_token=params.get("ContinuationToken") or "",
                                       fetch_owner=bool(params.get("FetchOwner")))
                data = await objects_page(self.backend, backend_bucket, objects)
        except BackendUnavailable as exc:
            raise unavailable() from exc
        data = self._as_client_sees(data, backend_bucket, record, request, ctx.request_id)
        if name in _LISTINGS:
            data = as_listed(data, record)
        headers = {"Content-Type": "application/xml", "x-amz-request-id": ctx.request_id,
                   "x-amz-id-2": ctx.request_id, **(ctx.extras.get("cors") or {})}
        return web.Response(status=200, headers=headers, body=data)

    def _as_client_sees(self, data: bytes, backend_bucket: str, record, request: web.Request,
                        request_id: str) -> bytes:
        """A backend XML answer (listing, multipart result, error) in the client's terms: its bucket name, this
        endpoint, this request's id."""
        data = data.replace(f">{backend_bucket}<".encode(), f">{record.id}<".encode()).replace(
            f"/{backend_bucket}/".encode(), f"/{record.id}/".encode())
        data = data.replace(self.backend.endpoint.url.encode(), f"{request.scheme}://{request.host}".encode())
        return _REQUEST_ID.sub(f"<RequestId>{request_id}</RequestId>".encode(), data)

    def _headers(self, request: web.Request, params: dict) -> dict[str, str]:
        headers: dict[str, str] = {}
        chunked = is_chunked(request.headers)
        for name, value in request.headers.items():
            lowered = name.lower()
            if lowered == "range" and not is_single_byte_range(value):
                continue
            if lowered in _FORWARD or lowered.startswith("x-amz-meta-") or (
                    lowered.startswith("x-amz-checksum-") and not chunked and lowered != "x-amz-checksum-mode"):
                headers[lowered] = value
        encoding = [e.strip() for e in request.headers.get("Content-Encoding", "").split(",")
                    if e.strip() and e.strip() != "aws-chunked"]
        if encoding:
            headers["content-encoding"] = ",".join(encoding)
        source = request.headers.get("x-amz-copy-source")
        if source:
            bucket, key, _ = source_parts(source)
            check_object_key(key)
            get_bucket(self.store, bucket)
            headers["x-amz-copy-source"] = source
        return headers

    async def _copy_source(self, ctx: RequestContext, headers: dict[str, str]) -> str | None:
        """Check that the caller may read the copy source, and re-address it to the backend, naming the
        version to copy; that version id (None for an unversioned source) is returned for the answer."""
        bucket, key, version = source_parts(headers["x-amz-copy-source"])
        if self.read_check is None or await self.read_check(ctx, bucket, key) is not None:
            raise AwsError("AccessDenied", "Access Denied", 403)
        record = get_bucket(self.store, bucket, ctx.extras)
        if version is None and record.spec.get("versioning"):
            version = await self._current_version(record.spec["backend"], key)
        text = f"/{record.spec['backend']}/{quote(key, safe='/-_.~')}"
        headers["x-amz-copy-source"] = text + (f"?versionId={quote(version, safe='')}" if version else "")
        return version

    async def _current_version(self, backend_bucket: str, key: str) -> str | None:
        """The id of a key's current version; None when it has none (a null version, a delete marker, no key:
        then the copy goes unpinned and the backend answers for it)."""
        try:
            reply = await self.backend.request("HEAD", backend_bucket, key, [], {})
        except BackendUnavailable as exc:
            raise unavailable() from exc
        try:
            version = reply.headers.get("x-amz-version-id")
            return version if reply.status == 200 and version and version != "null" else None
        finally:
            reply.release()

    @staticmethod
    def _response_headers(reply, ctx: RequestContext, record, key: str | None) -> dict[str, str]:
        out = {}
        for name, value in reply.headers.items():
            lowered = name.lower()
            if lowered in _DROP_RESPONSE or lowered.startswith("seaweed-"):
                continue
            out[name] = value
        if ctx.operation in TYPED_OPERATIONS and reply.status < 300:
            with_checksum_type(out)
        out["x-amz-request-id"] = ctx.request_id
        out["x-amz-id-2"] = ctx.request_id
        out.update(ctx.extras.get("cors") or {})
        if key is not None:
            klass = (record.spec.get("storage_classes") or {}).get(key)
            if klass:
                out["x-amz-storage-class"] = klass
            redirect = redirect_of(record, key) if ctx.operation in ("GetObject", "HeadObject") else None
            if redirect and reply.status < 300:
                out[REDIRECT] = redirect
        return out

    @staticmethod
    async def _stream(request: web.Request, reply, headers: dict[str, str]) -> web.StreamResponse:
        response = web.StreamResponse(status=reply.status, headers=headers)
        if reply.content_length is not None:
            response.content_length = reply.content_length
        await response.prepare(request)
        async for chunk in reply.content.iter_chunked(STREAM_CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response

    def _bookkeep(self, name: str, record, key: str | None, request: web.Request, params: dict) -> None:
        """Storage classes and website redirects are Terrarium's: the backend stores everything one way and drops
        redirects. Folder markers are noted."""
        if name in ("PutObject", "CopyObject", "CompleteMultipartUpload"):
            note_markers(self.store, record, stored=[key])
        elif name in ("DeleteObject", "DeleteObjects"):
            objects = (params.get("Delete") or {}).get("Objects") or [{"Key": key,
                                                                       "VersionId": params.get("VersionId")}]
            note_markers(self.store, record, deleted=[o.get("Key", "") for o in objects])
            note_redirects(self.store, record, {o.get("Key", ""): None for o in objects if not o.get("VersionId")})
        if name in _STORES_CLASS:
            note_redirects(self.store, record, {key: request.headers.get(REDIRECT)})
        if key is None:
            return
        klass = request.headers.get("x-amz-storage-class", "STANDARD") if name in _STORES_CLASS else None
        if name == "DeleteObject" or klass is not None:
            def update(spec: dict) -> dict:
                classes = dict(spec.get("storage_classes") or {})
                if klass and klass != "STANDARD":
                    classes[key] = klass
                else:
                    classes.pop(key, None)
                return {**spec, "storage_classes": classes}
            if name == "DeleteObject" or klass != "STANDARD" or key in (record.spec.get("storage_classes") or {}):
                self.store.update_spec(BUCKET, record.id, update)

    async def _notify(self, ctx, record, name, event, key, params, reply, data, request) -> None:
        if not (record.spec.get("notification") or {}).get("LambdaFunctionConfigurations"):
            return
        version = reply.headers.get("x-amz-version-id")
        if name == "DeleteObjects":
            objects = [(k, None, None, None) for k in _deleted_keys(data)]
        elif name == "DeleteObject":
            objects = [(key, None, None, version)]
        else:
            size, etag = decoded_length(request.headers), reply.headers.get("ETag")
            if name != "PutObject":
                size, etag = await self._size_and_etag(record, key, data)
            objects = [(key, size, etag, version)]
        enqueue_events(self.store, record, region=record.spec.get("region", ctx.region), event_name=event,
                       principal_id=ctx.principal.user_id or "anonymous", source_ip=ctx.source_ip,
                       request_id=ctx.request_id, objects=objects)

    async def _size_and_etag(self, record, key: str, data: bytes) -> tuple[int | None, str | None]:
        reply = await self.backend.request("HEAD", record.spec["backend"], key, [], {})
        try:
            size = reply.content_length
            return size, reply.headers.get("ETag")
        finally:
            reply.release()


def _check_request(name: str, params: dict, request: web.Request, record) -> None:
    """What S3 refuses (or the backend would get wrong) that no model states, before any body is read."""
    key = params.get("Key")
    if key is not None:
        check_object_key(key, writes_data=name in _WRITES_DATA or (
            name == "PutObject" and (decoded_length(request.headers) or 0) > 0))
        if name in _STORES_CLASS:  # the calls that write an object
            check_no_marker_named(record, key)
    for deleted in (params.get("Delete") or {}).get("Objects", []):
        check_object_key(deleted["Key"])
    if name == "DeleteObjects" and not _carries_checksum(request.headers):
        raise AwsError("InvalidRequest", "Missing required header for this request: Content-MD5", 400)
    check_version_id(record, params.get("VersionId"))
    if name in _SETS_ACL:
        check_write_acl(params, record.account)
    if name == "PutObjectTagging":
        check_tag_set((params.get("Tagging") or {}).get("TagSet") or [], on_bucket=False)
    if "x-amz-tagging" in request.headers:
        check_tagging_header(request.headers["x-amz-tagging"])
    if REDIRECT in request.headers and name in _STORES_CLASS:
        check_redirect_location(request.headers[REDIRECT])
    check_encryption(request.headers)
    if name in _STORES_CLASS and any(header in request.headers for header in _OBJECT_LOCK):
        raise AwsError("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)  # (no bucket has one)
    if name in ("UploadPart", "UploadPartCopy"):
        check_part_number(params["PartNumber"])
    if name == "CompleteMultipartUpload" and not (params.get("MultipartUpload") or {}).get("Parts"):
        raise malformed_xml()
    for parameter, value in request.query.items():
        if parameter.startswith("response-") and _CONTROL.search(value):  # it would become a response header
            raise AwsError("InvalidArgument", f"Invalid value for {parameter}: control characters are not "
                           f"allowed in a header value", 400, ArgumentName=parameter)


def _head_range(out_headers: dict[str, str], value: str) -> int:
    """The status and length of a HEAD with a Range, as a GET of that range would have them."""
    size = int(out_headers["Content-Length"])
    selected = byte_range(value, size)
    if selected is None:
        out_headers["Content-Length"] = "0"
        out_headers["Content-Range"] = f"bytes */{size}"
        return 416
    first, last = selected
    out_headers["Content-Length"] = str(last - first + 1)
    out_headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return 206


def _carries_checksum(headers) -> bool:
    """Whether a request's body comes with a checksum S3 can check it against (Content-MD5, an
    `x-amz-checksum-<algorithm>` header or trailer): what S3 requires of a multi-object delete."""
    return "Content-MD5" in headers or "x-amz-trailer" in headers or any(
        name.lower().startswith("x-amz-checksum-") and name.lower() not in _NOT_CHECKSUMS for name in headers)


async def _read_exactly(request: web.Request, size: int) -> bytes:
    if size == 0:  # aiohttp's reader for an empty body refuses even readexactly(0)
        return b""
    try:
        return await request.content.readexactly(size)
    except asyncio.IncompleteReadError:
        raise AwsError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                         "Content-Length HTTP header", 400) from None


async def _recording(payload, failures: list[AwsError]):
    """The payload, remembering a verification failure that aiohttp would otherwise report as a lost
    connection (the backend saw an incomplete body and stored nothing)."""
    try:
        async for piece in payload:
            yield piece
    except AwsError as error:
        failures.append(error)
        raise


def _deleted_keys(data: bytes) -> list[str]:
    try:
        root = fromstring(data)
    except ParseError:
        return []
    return [el.text or "" for el in root.iter() if el.tag.endswith("Key") and el.tag.rsplit("}", 1)[-1] == "Key"
            and _parent_is_deleted(root, el)]


def _parent_is_deleted(root, element) -> bool:
    for deleted in root.iter():
        if deleted.tag.rsplit("}", 1)[-1] == "Deleted" and element in list(deleted):
            return True
    return False


for _name, (_action, _resources, _streaming, _event) in PROXIED.items():
    setattr(ObjectsProvider, _name, _proxied(_name, _action, _resources, _streaming, _event))
