"""CopyObject and UploadPartCopy answers as S3 gives them: the ETag in the result quoted, as every other ETag
is (SeaweedFS writes it bare, so it never equals the ETag a GET or PUT of the same bytes returns), and the
source version that was copied echoed in `x-amz-copy-source-version-id`."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

_BARE_ETAG = re.compile(rb"<ETag>([^\"<&][^<]*)</ETag>")


def quoted_etag(data: bytes) -> bytes:
    return _BARE_ETAG.sub(rb'<ETag>"\1"</ETag>', data, count=1)


def source_version(copy_source: str) -> str | None:
    """The `versionId` an `x-amz-copy-source` header names, if any."""
    _, _, query = unquote(copy_source).partition("?")
    return (parse_qs(query).get("versionId") or [None])[0]
