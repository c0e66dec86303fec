"""`Backend`: the one client of the object store behind the S3 gateway.

Object bytes go over `http1.Pool` (keep-alive, TCP_NODELAY, a small request in one send), streamed both
ways; without TCP_NODELAY a small GET stalls ~44 ms on Nagle against delayed ACK. Requests are signed with
the backend's own keys (SigV4, `UNSIGNED-PAYLOAD`, so a body is never hashed or buffered); those keys never
leave Terrarium. Bucket administration uses the `minio` SDK in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from minio import Minio
from minio.commonconfig import DISABLED, ENABLED
from minio.error import S3Error
from minio.versioningconfig import SUSPENDED, VersioningConfig

from runtime.host.s3backend.http1 import BackendConnectionError, Pool, Response

UNSIGNED = "UNSIGNED-PAYLOAD"
Body = bytes | AsyncIterable[bytes] | None


@dataclass(frozen=True)
class BackendEndpoint:
    url: str                      # http://127.0.0.1:<port>
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    gateway_pages_listings: bool = False  # SeaweedFS: version and upload listings are paged by the gateway

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc


class BackendUnavailable(Exception):
    """The backend is not answering (starting, restarting or gone)."""


class BackendError(Exception):
    """The backend refused an administrative call; `code` is its S3 error code."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in pairs))


def object_path(bucket: str, key: str | None) -> str:
    if not bucket:
        return "/"
    path = "/" + _encode(bucket)
    if key is not None:
        path += "/" + quote(key, safe="/-_.~")
    return path


def sign(endpoint: BackendEndpoint, method: str, path: str, query: str, now: datetime,
         extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers that authenticate one request to the backend: SigV4 over host, date, payload hash and
    every `x-amz-*` header sent (SeaweedFS insists on the latter)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    headers = {k.lower(): " ".join(str(v).split()) for k, v in (extra or {}).items()
               if k.lower().startswith("x-amz-")}
    headers.update({"host": endpoint.netloc, "x-amz-content-sha256": UNSIGNED, "x-amz-date": stamp})
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, path, query, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
                           signed, UNSIGNED])
    scope = f"{day}/{endpoint.region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(_signing_key(endpoint.secret_key, day, endpoint.region), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    return {"x-amz-content-sha256": UNSIGNED, "x-amz-date": stamp,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={endpoint.access_key}/{scope}, "
                             f"SignedHeaders={signed}, Signature={signature}"}


@functools.lru_cache(maxsize=16)
def _signing_key(secret: str, day: str, region: str) -> bytes:
    """The SigV4 key of a day: four HMACs that every request of that day would otherwise repeat."""
    key = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class Backend:
    """The gateway's port to the object store. `wait_ready` blocks until the supervisor reports health.
    `writes(bucket)` counts the requests that may have changed a bucket (every one but GET and HEAD), so
    that what was listed from it can be cached until the count moves."""

    def __init__(self, endpoint: BackendEndpoint, ready: Callable[[float], Awaitable[bool]] | None = None) -> None:
        self.endpoint = endpoint
        self._ready = ready
        parts = urlsplit(endpoint.url)
        tls = parts.scheme == "https"
        self._pool = Pool(parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80),
                          host_header=endpoint.netloc, tls=tls, limit=256)
        self._admin = Minio(endpoint.netloc, access_key=endpoint.access_key, secret_key=endpoint.secret_key,
                            secure=endpoint.url.startswith("https"), region=endpoint.region)
        self._writes: dict[str, int] = {}

    def writes(self, bucket: str) -> int:
        return self._writes.get(bucket, 0)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        if self._ready is not None and not await self._ready(timeout):
            raise BackendUnavailable("the S3 backend is not ready")

    async def request(self, method: str, bucket: str, key: str | None, query: list[tuple[str, str]],
                      headers: dict[str, str], body: Body = None) -> Response:
        """Send one request; the caller reads (streams) and releases the response."""
        await self.wait_ready()
        path = object_path(bucket, key)
        query_text = canonical_query(query)
        all_headers = dict(headers)
        all_headers.update(sign(self.endpoint, method, path, query_text, datetime.now(timezone.utc), headers))
        target = path + (f"?{query_text}" if query_text else "")
        try:
            return await self._pool.request(method, target, all_headers, body)
        except BackendConnectionError as exc:
            raise BackendUnavailable(str(exc)) from exc
        finally:  # counted once the write is done (or failed), so no listing started before it is kept
            if method not in ("GET", "HEAD"):
                self._writes[bucket] = self._writes.get(bucket, 0) + 1

    # --- bucket administration (minio SDK) -------------------------------------------------------
    async def create_bucket(self, bucket: str) -> None:
        await self.wait_ready()
        await self._admin_call(self._admin.make_bucket, bucket)

    async def delete_bucket(self, bucket: str) -> None:
        await self.wait_ready()
        await self._admin_call(self._admin.remove_bucket, bucket)

    async def set_versioning(self, bucket: str, status: str) -> None:
        await self.wait_ready()
        state = {"Enabled": ENABLED, "Suspended": SUSPENDED}.get(status, DISABLED)
        await self._admin_call(self._admin.set_bucket_versioning, bucket, VersioningConfig(state))

    async def _admin_call(self, func, *args) -> None:
        try:
            await asyncio.to_thread(func, *args)
        except S3Error as exc:
            raise BackendError(exc.code or "InternalError", exc.message or "") from exc
        except Exception as exc:  # urllib3 connection errors: the backend is down
            if exc.__class__.__module__.startswith("urllib3"):
                raise BackendUnavailable(str(exc)) from exc
            raise

    async def close(self) -> None:
        await self._pool.close()
