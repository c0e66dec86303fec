"""Browser uploads: `POST /<bucket>` with a multipart/form-data body and a signed POST policy (boto3's
`generate_presigned_post`).

The policy (base64 JSON: `expiration`, `conditions`) is checked the way S3 checks it: the SigV4 signature is
HMAC(signing key, policy text); every form field must be allowed by a condition (`eq`, `starts-with`,
exact-match objects, `content-length-range`); then the caller must be allowed s3:PutObject like any other
caller. The file part is spooled to a temporary file under the data dir (the backend needs a length
up front, a form part has none), so memory stays flat whatever the size.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web

from runtime.api.context import RequestContext
from runtime.api.http import HttpRequest
from runtime.api.sigv4 import signing_key
from runtime.errors import AwsError
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.services.s3.acl import check_write_acl
from runtime.services.s3.buckets import unavailable
from runtime.services.s3.folder_markers import check_no_marker_named, note_markers
from runtime.services.s3.names import DEFAULT_CONTENT_TYPE, check_metadata_size, check_object_key
from runtime.services.s3.notifications import enqueue_events
from runtime.services.s3.records import get_bucket
from runtime.services.s3.redirects import note_redirects
from runtime.state import Store

_IGNORED = {"x-amz-signature", "file", "policy", "awsaccesskeyid", "signature"}
CHUNK = 1024 * 1024


def _policy_error(message: str) -> AwsError:
    return AwsError("AccessDenied", f"Invalid according to Policy: {message}", 403)


def check_policy(policy: dict, fields: dict[str, str], bucket: str, size: int, now: datetime) -> None:
    """`AccessDenied` unless the form fields and the upload size satisfy the policy."""
    expiration = policy.get("expiration")
    if not expiration or datetime.fromisoformat(expiration.replace("Z", "+00:00")) < now:
        raise _policy_error("Policy expired.")
    covered = {"bucket"}
    values = {**{k.lower(): v for k, v in fields.items()}, "bucket": bucket}
    for condition in policy.get("conditions") or []:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                name = name.lower()
                covered.add(name)
                if values.get(name) != expected:
                    raise _policy_error(f"Policy Condition failed: [\"eq\", \"${name}\", \"{expected}\"]")
        elif isinstance(condition, list) and condition and condition[0] == "content-length-range":
            if not int(condition[1]) <= size <= int(condition[2]):
                raise AwsError("EntityTooLarge" if size > int(condition[2]) else "EntityTooSmall",
                               "Your proposed upload exceeds the maximum allowed size" if size > int(condition[2])
                               else "Your proposed upload is smaller than the minimum allowed size", 400)
        elif isinstance(condition, list) and len(condition) == 3:
            operator, name, expected = condition[0].lower(), condition[1].lstrip("$").lower(), condition[2]
            covered.add(name)
            actual = values.get(name, "")
            if (operator == "eq" and actual != expected) or (operator == "starts-with"
                                                            and not actual.startswith(expected)):
                raise _policy_error(f"Policy Condition failed: {json.dumps(condition)}")
    for name in values:
        if name not in covered and name not in _IGNORED and not name.startswith("x-ignore-"):
            raise _policy_error(f"Extra input fields: {name}")


class PostObjectHandler:
    def __init__(self, store: Store, backend: Backend, credentials, access, put_object, spool_dir: Path) -> None:
        self.store = store
        self.backend = backend
        self.credentials = credentials  # the gateway's CredentialSource
        self.access = access            # S3Access
        self.put_object = put_object    # BoundOperation of PutObject (action, resources)
        self.spool_dir = spool_dir

    async def __call__(self, request: web.Request, bucket: str, request_id: str) -> web.StreamResponse:
        fields: dict[str, str] = {}
        reader = await request.multipart()
        spooled, size, filename = None, 0, ""
        try:
            async for part in reader:
                if part.name == "file":
                    filename = part.filename or ""
                    spooled, size = await self._spool(part)
                    break
                fields[part.name] = await part.text()
            if spooled is None:
                raise AwsError("InvalidArgument", "POST requires exactly one file upload per request.", 400)
            return await self._store(request, bucket, fields, spooled, size, filename, request_id)
        finally:
            if spooled is not None:
                os.unlink(spooled)

    async def _spool(self, part) -> tuple[str, int]:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        handle, path = tempfile.mkstemp(dir=self.spool_dir, prefix="post-")
        size = 0
        with os.fdopen(handle, "wb") as out:
            while chunk := await part.read_chunk(CHUNK):
                out.write(chunk)
                size += len(chunk)
        return path, size

    def _credential(self, fields: dict[str, str]):
        lowered = {k.lower(): v for k, v in fields.items()}
        if "awsaccesskeyid" in lowered and "policy" in lowered:  # Signature Version 2 (boto3's default)
            credential = self._lookup(lowered["awsaccesskeyid"], lowered)
            expected = base64.b64encode(hmac.new(credential.secret.encode(), lowered["policy"].encode(),
                                                 hashlib.sha1).digest()).decode()
            if not hmac.compare_digest(expected, lowered.get("signature", "")):
                raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                        "signature you provided.", 403)
            return credential, json.loads(base64.b64decode(lowered["policy"]))
        if lowered.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or "policy" not in lowered:
            raise AwsError("InvalidArgument", "Bucket POST must contain a field named 'policy' signed with "
                                              "AWS4-HMAC-SHA256.", 400)
        parts = lowered.get("x-amz-credential", "").split("/")
        credential = self._lookup(parts[0] if len(parts) == 5 else "", lowered)
        key = signing_key(credential.secret, parts[1], parts[2], parts[3])
        expected = hmac.new(key, lowered["policy"].encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, lowered.get("x-amz-signature", "")):
            raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                    "signature you provided.", 403)
        return credential, json.loads(base64.b64decode(lowered["policy"]))

    def _lookup(self, access_key: str, lowered: dict[str, str]):
        credential = self.credentials.lookup(access_key) if access_key else None
        if credential is None or not credential.active or (
                credential.session_token is not None and lowered.get("x-amz-security-token") != credential.session_token):
            raise AwsError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                           403)
        return credential

    async def _store(self, request, bucket, fields, spooled, size, filename, request_id) -> web.StreamResponse:
        credential, policy = self._credential(fields)
        key = fields.get("key", "").replace("${filename}", filename)
        check_object_key(key, writes_data=size > 0)
        check_policy(policy, fields, bucket, size, datetime.now(timezone.utc))
        ctx = RequestContext("s3", "PutObject", "us-east-1", request_id, credential.principal,
                             HttpRequest("POST", f"/{bucket}", "", request.headers), request.remote or "127.0.0.1",
                             request.secure, credential)
        params = {"Bucket": bucket, "Key": key}
        if await self.access(ctx, self.put_object, params) is not None:
            raise AwsError("AccessDenied", "Access Denied", 403)
        record = get_bucket(self.store, bucket)
        check_write_acl({"ACL": v for k, v in fields.items() if k.lower() == "acl"}, record.account)
        check_no_marker_named(record, key)
        headers = {"Content-Length": str(size), "content-type": DEFAULT_CONTENT_TYPE}
        for name, value in fields.items():
            lowered = name.lower()
            if lowered in ("content-type", "cache-control", "content-disposition") or lowered.startswith("x-amz-meta-"):
                headers[lowered] = value
        check_metadata_size(headers)
        try:
            with open(spooled, "rb") as body:
                reply = await self.backend.request("PUT", record.spec["backend"], key, [], headers, body)
        except BackendUnavailable as exc:
            raise unavailable() from exc
        try:
            await reply.read()
            if reply.status != 200:
                raise AwsError("InternalError", "We encountered an internal error. Please try again.", 500)
            etag = reply.headers.get("ETag", "")
        finally:
            reply.release()
        note_markers(self.store, record, stored=[key])
        note_redirects(self.store, record, {key: None})  # a form upload sets none; an earlier one goes
        enqueue_events(self.store, record, region=record.spec.get("region", "us-east-1"),
                       event_name="ObjectCreated:Post", principal_id=credential.principal.user_id,
                       source_ip=ctx.source_ip, request_id=request_id, objects=[(key, size, etag, None)])
        return self._answer(request, fields, bucket, key, etag, request_id)

    @staticmethod
    def _answer(request, fields, bucket, key, etag, request_id) -> web.StreamResponse:
        headers = {"x-amz-request-id": request_id, "ETag": etag,
                   "Location": f"{request.scheme}://{request.host}/{bucket}/{key}"}
        redirect = fields.get("success_action_redirect")
        if redirect:
            raise web.HTTPSeeOther(f"{redirect}{'&' if '?' in redirect else '?'}bucket={bucket}&key={key}"
                                   f"&etag={etag}", headers=headers)
        status = fields.get("success_action_status", "204")
        if status == "201":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{escape(headers["Location"])}'
                    f"</Location><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(etag)}"
                    f"</ETag></PostResponse>")
            return web.Response(status=201, body=body.encode(), content_type="application/xml", headers=headers)
        return web.Response(status=200 if status == "200" else 204, headers=headers)
