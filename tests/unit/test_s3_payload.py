"""`PayloadVerifier.verify_whole` (the small-body fast path) decides exactly as reading through `read_all`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib

import pytest
from multidict import CIMultiDict

from runtime.api.sigv4 import UNSIGNED_PAYLOAD, BytesSource, PayloadVerifier
from runtime.errors import AwsError

BODY = b"hello, small body" * 100
CRC = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
MD5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
SHA = hashlib.sha256(BODY).hexdigest()

CASES = [
    ({"x-amz-content-sha256": SHA}, None),
    ({"x-amz-content-sha256": UNSIGNED_PAYLOAD, "x-amz-checksum-crc32": CRC, "Content-MD5": MD5}, None),
    ({"x-amz-content-sha256": "0" * 64}, "XAmzContentSHA256Mismatch"),
    ({"x-amz-content-sha256": SHA, "x-amz-checksum-crc32": "AAAAAA=="}, "BadDigest"),
    ({"x-amz-content-sha256": SHA, "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "BadDigest"),
    ({"x-amz-content-sha256": "not-a-hash"}, "InvalidArgument"),
]


def _outcome(call):
    try:
        return call(), None
    except AwsError as error:
        return None, error.code


@pytest.mark.parametrize("headers, error", CASES)
def test_verify_whole_agrees_with_read_all(headers, error):
    whole = PayloadVerifier(CIMultiDict(headers))
    streamed = PayloadVerifier(CIMultiDict(headers))
    assert _outcome(lambda: whole.verify_whole(BODY)) == (None if error else BODY, error)
    assert _outcome(lambda: asyncio.run(streamed.read_all(BytesSource(BODY)))) == (None if error else BODY, error)
    assert whole.checksums == streamed.checksums


def test_verify_whole_refuses_aws_chunked_bodies():
    with pytest.raises(ValueError):
        PayloadVerifier(CIMultiDict({"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})).verify_whole(b"")
