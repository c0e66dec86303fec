"""CopyObject and UploadPartCopy answers as S3 gives them: the ETag in the result quoted, as every other ETag
is (SeaweedFS writes it bare, so it never equals the ETag a GET or PUT of the same bytes returns), and the
source version that was copied named in `x-amz-copy-source-version-id`: the one asked for, or, from a
versioned bucket, the current one, which the gateway reads first and then copies by its id (SeaweedFS names
only a version it was given)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

_BARE_ETAG = re.compile(rb"<ETag>([^\"<&][^<]*)</ETag>")


def quoted_etag(data: bytes) -> bytes:
    return _BARE_ETAG.sub(rb'<ETag>"\1"</ETag>', data, count=1)


def source_parts(copy_source: str) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of an `x-amz-copy-source` value. The `?versionId=` is split off
    before the path is percent-decoded, so a key holding `?` (sent as `%3F`) stays whole."""
    path, _, query = copy_source.partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    return bucket, key, (parse_qs(query).get("versionId") or [None])[0]
