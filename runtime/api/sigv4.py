"""AWS Signature Version 4: read the signature a request carries and check it against a secret.

Verification recomputes exactly what botocore's signers compute (`botocore.auth.SigV4Auth`, `S3SigV4Auth`,
`SigV4QueryAuth`): S3 paths are used as sent while every other service's path is normalised and encoded once
more; a present `x-amz-content-sha256` header is taken verbatim as the payload hash; presigned S3 URLs sign
`UNSIGNED-PAYLOAD`. S3 bodies are then checked as they stream by `PayloadVerifier` (that hash, aws-chunked
chunk and trailer signatures, checksums).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import quote, unquote

from awscrt import checksums as crt_checksums
from botocore.utils import normalize_url_path

from runtime.api.http import HttpRequest
from runtime.errors import AwsError

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
    """`YYYYMMDDTHHMMSSZ` read by slicing: `strptime` was a visible share of a small S3 request."""
    if not text:
        raise MalformedAuth("Missing X-Amz-Date")
    try:
        if len(text) != 16 or text[8] != "T" or text[15] != "Z" or not (text[:8] + text[9:15]).isdigit():
            raise ValueError(text)
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[11:13]),
                        int(text[13:15]), tzinfo=timezone.utc)
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


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The day's key of a secret (cached: four HMACs that every request of the day would repeat)."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature_matches(request: HttpRequest, sig: Signature, secret: str) -> bool:
    key = signing_key(secret, sig.date, sig.region, sig.service)
    expected = hmac.new(key, string_to_sign(request, sig).encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig.signature)


# --- S3 payloads: hex hash, UNSIGNED-PAYLOAD, aws-chunked (signed chunks, trailers), checksums ---------------
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_CHUNKED = {STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
READ_SIZE = 256 * 1024


class ByteSource(Protocol):
    """What aiohttp's `StreamReader` offers and a payload needs."""

    async def read(self, n: int = -1) -> bytes: ...
    async def readline(self) -> bytes: ...
    async def readexactly(self, n: int) -> bytes: ...


class BytesSource:
    """A `ByteSource` over a body already in memory (small S3 bodies such as XML documents)."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    async def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else min(len(self._data), self._at + n)
        out = bytes(self._data[self._at:end])
        self._at = end
        return out

    async def readline(self) -> bytes:
        end = bytes(self._data[self._at:]).find(b"\n")
        return await self.read(-1 if end < 0 else end + 1)

    async def readexactly(self, n: int) -> bytes:
        out = await self.read(n)
        if len(out) != n:
            raise AwsError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                             "Content-Length HTTP header", 400)
        return out


def is_chunked(headers) -> bool:
    return headers.get("x-amz-content-sha256", "") in _CHUNKED


def decoded_length(headers) -> int | None:
    """The object size a request carries: `x-amz-decoded-content-length` for aws-chunked, else Content-Length."""
    text = headers.get("x-amz-decoded-content-length") if is_chunked(headers) else headers.get("Content-Length")
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _is_md5_digest(text: str) -> bool:
    """Whether a Content-MD5 value is what S3 takes: the base64 of 16 bytes."""
    try:
        return len(base64.b64decode(text, validate=True)) == 16
    except ValueError:
        return False


class _Crc:
    """A running CRC of a kind S3 checksums with: zlib's CRC-32, and the AWS Common Runtime's hardware CRC-32C
    and CRC-64/NVME (the same code the SDKs use; a Python CRC-32C ran at ~15 MB/s and stalled the event loop)."""
    _UPDATE = {"crc32": zlib.crc32, "crc32c": crt_checksums.crc32c, "crc64nvme": crt_checksums.crc64nvme}
    _BYTES = {"crc32": 4, "crc32c": 4, "crc64nvme": 8}

    def __init__(self, kind: str) -> None:
        self._update = self._UPDATE[kind]
        self._size = self._BYTES[kind]
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = self._update(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self._size, "big")


_CHECKSUM_NAMES = {"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}
_CHECKSUMS = {"crc32": lambda: _Crc("crc32"), "crc32c": lambda: _Crc("crc32c"),
              "crc64nvme": lambda: _Crc("crc64nvme"), "sha1": hashlib.sha1, "sha256": hashlib.sha256}


def _checksum(name: str):
    algorithm = name.lower().removeprefix("x-amz-checksum-")
    if algorithm not in _CHECKSUMS:
        raise AwsError("NotImplemented", f"Terrarium does not verify the {algorithm.upper()} checksum algorithm.",
                       501, sender_fault=False)
    return algorithm, _CHECKSUMS[algorithm]()


@dataclass
class PayloadVerifier:
    """Reads an S3 request body from a `ByteSource` and yields its decoded bytes, verified.

    Every check that needs the whole body (payload SHA-256, Content-MD5, `x-amz-checksum-*` headers or
    trailers, the final chunk and trailer signatures) is made before the last piece is released, so a
    consumer that forwards the pieces to a store never completes a body that fails verification: the
    iterator raises the AWS error instead. `checksums` holds the verified checksums (base64) afterwards.
    """

    headers: object
    signature: Signature | None = None
    secret: str = ""
    checksums: dict[str, str] = field(default_factory=dict)

    async def iterate(self, source: ByteSource) -> AsyncIterator[bytes]:
        pending = None
        async for piece in self._pieces(source):
            if pending:
                yield pending
            pending = piece
        if pending:
            yield pending

    def accepts_empty(self) -> bool:
        """Whether an empty body passes every check this verifier would make (a GET's usual case), so the
        caller may skip reading it through the verifier."""
        declared = self.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        return declared in (EMPTY_SHA256, UNSIGNED_PAYLOAD) and "Content-MD5" not in self.headers and not any(
            name.lower().startswith("x-amz-checksum-") and name.lower() != "x-amz-checksum-mode"
            for name in self.headers)

    async def read_all(self, source: ByteSource) -> bytes:
        return b"".join([piece async for piece in self.iterate(source)])

    def verify_whole(self, data: bytes) -> bytes:
        """A whole body that is not aws-chunked, checked at once: what `read_all` does, without the
        per-piece async machinery (a small PUT's fast path)."""
        declared, sha, md5, hashers, expected = self._plan()
        if declared in _CHUNKED:
            raise ValueError("an aws-chunked body must be read through iterate()")
        for hasher in (sha, md5, *hashers.values()):
            if hasher is not None:
                hasher.update(data)
        self._check(declared, sha, md5, hashers, expected)
        return data

    def _plan(self) -> tuple[str, object, object, dict[str, object], dict[str, str]]:
        """The declared payload hash and the hashers every check needs, from the headers."""
        declared = self.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        hashers: dict[str, object] = {}
        expected: dict[str, str] = {}
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered.removeprefix("x-amz-checksum-") in _CHECKSUM_NAMES:
                algorithm, hasher = _checksum(lowered)
                hashers[algorithm], expected[algorithm] = hasher, value
        md5 = None
        if "Content-MD5" in self.headers:
            if not _is_md5_digest(self.headers["Content-MD5"]):
                raise AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
            md5 = hashlib.md5()
        sha = None
        if _HEX64.match(declared):
            sha = hashlib.sha256()
        elif declared not in _CHUNKED and declared != UNSIGNED_PAYLOAD:
            raise AwsError("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                              "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.", 400)
        return declared, sha, md5, hashers, expected

    def _check(self, declared: str, sha, md5, hashers: dict, expected: dict) -> None:
        if sha is not None and sha.hexdigest() != declared:
            raise AwsError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not "
                                                        "match what was computed.", 400)
        if md5 is not None and base64.b64encode(md5.digest()).decode() != self.headers["Content-MD5"]:
            raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)
        for algorithm, hasher in hashers.items():
            actual = base64.b64encode(hasher.digest()).decode()
            if actual != expected.get(algorithm):
                raise AwsError("BadDigest", f"The {algorithm.upper()} you specified did not match the "
                                            f"calculated checksum.", 400)
            self.checksums[algorithm] = actual

    async def _pieces(self, source: ByteSource) -> AsyncIterator[bytes]:
        declared, sha, md5, hashers, expected = self._plan()
        chunks = self._chunks(source, declared, hashers, expected) if declared in _CHUNKED else self._raw(source)
        async for data in chunks:
            for hasher in (sha, md5, *hashers.values()):
                if hasher is not None:
                    hasher.update(data)
            yield data
        self._check(declared, sha, md5, hashers, expected)

    @staticmethod
    async def _raw(source: ByteSource) -> AsyncIterator[bytes]:
        while data := await source.read(READ_SIZE):
            yield data

    async def _chunks(self, source: ByteSource, declared: str, hashers: dict, expected: dict
                      ) -> AsyncIterator[bytes]:
        signed = declared != STREAMING_UNSIGNED_TRAILER
        trailer = self.headers.get("x-amz-trailer", "").strip().lower()
        if trailer:
            algorithm, hasher = _checksum(trailer)
            hashers[algorithm] = hasher
        sig = self.signature
        if signed and sig is None:
            raise AwsError("AccessDenied", "Access Denied", 403)
        key = signing_key(self.secret, sig.date, sig.region, sig.service) if signed else b""
        scope = f"{sig.date}/{sig.region}/{sig.service}/aws4_request" if signed else ""
        previous = sig.signature if signed else ""
        while True:
            header = (await source.readline()).strip().decode("latin-1")
            size_text, _, extension = header.partition(";")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise AwsError("IncompleteBody", "The request body is not a valid aws-chunked stream.", 400)
            data = await source.readexactly(size) if size else b""
            if signed:
                claimed = extension.partition("chunk-signature=")[2]
                to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", sig.timestamp.strftime(TIME_FORMAT), scope,
                                     previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
                previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(previous, claimed):
                    raise AwsError("SignatureDoesNotMatch", "The chunk signature does not match.", 403)
            if size == 0:
                break
            await source.readexactly(2)
            yield data
        trailer_lines = []
        while True:
            line = (await source.readline())
            text = line.strip().decode("latin-1")
            if not text:
                break
            trailer_lines.append(text)
        values = {}
        for text in trailer_lines:
            name, _, value = text.partition(":")
            values[name.strip().lower()] = value.strip()
        if trailer:
            if trailer not in values:
                raise AwsError("MalformedTrailerError", "The request contained trailing data that was not "
                                                        "well-formed or did not conform to our published schema.", 400)
            expected[trailer.removeprefix("x-amz-checksum-")] = values[trailer]
        if declared == STREAMING_SIGNED_TRAILER and trailer:
            canonical = f"{trailer}:{values[trailer]}\n"
            to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", sig.timestamp.strftime(TIME_FORMAT), scope,
                                 previous, hashlib.sha256(canonical.encode()).hexdigest()])
            wanted = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(wanted, values.get("x-amz-trailer-signature", "")):
                raise AwsError("SignatureDoesNotMatch", "The trailer signature does not match.", 403)


# --- S3 presigned URLs of Signature Version 2 (what `aws s3 presign` of CLI v1 produces) -------------------
def sigv2_query_signature(http: HttpRequest, secret: str) -> str:
    """The signature S3 expects in `Signature=` of a SigV2 query-string URL, computed by botocore's own
    canonicaliser (`HmacV1Auth.canonical_string`) over the path-style resource."""
    from botocore.auth import HmacV1Auth
    from botocore.credentials import Credentials
    from urllib.parse import urlsplit

    query = "&".join(part for part in http.query_string.split("&")  # as sent: `?acl` is signed without "="
                     if part and part.partition("=")[0] not in ("AWSAccessKeyId", "Signature", "Expires"))
    split = urlsplit(http.path + ("?" + query if query else ""))
    headers = {k: v for k, v in http.headers.items()
               if k.lower() in ("content-md5", "content-type") or k.lower().startswith("x-amz-")}
    expires = http.query.get("Expires", "")

    class _Expiring(HmacV1Auth):
        def _get_date(self) -> str:  # the query form signs Expires where the header form signs Date
            return expires

    text = _Expiring(Credentials("-", secret)).canonical_string(http.method, split, headers)
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
