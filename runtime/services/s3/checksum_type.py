"""`x-amz-checksum-type` on the answers whose model carries it (PutObject, GetObject, HeadObject).

SeaweedFS names the type only for multipart uploads; for a whole-object checksum it sends the value alone, and
boto3 then reports no `ChecksumType`. S3 writes a composite checksum (a checksum of the parts' checksums) as
`<base64>-<part count>`, a full-object one as the bare value, so the value says which it is.
"""

from __future__ import annotations

import re

TYPED_OPERATIONS = frozenset({"PutObject", "GetObject", "HeadObject"})
_CHECKSUM_HEADER = re.compile(r"^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$", re.IGNORECASE)
_COMPOSITE = re.compile(r"-\d+$")


def with_checksum_type(headers: dict[str, str]) -> None:
    """Add the type of the checksum `headers` carry, unless they carry none or name the type already."""
    if any(name.lower() == "x-amz-checksum-type" for name in headers):
        return
    for name, value in headers.items():
        if _CHECKSUM_HEADER.match(name):
            headers["x-amz-checksum-type"] = "COMPOSITE" if _COMPOSITE.search(value) else "FULL_OBJECT"
            return
