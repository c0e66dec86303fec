"""`x-amz-checksum-type` on the answers whose model carries it (PutObject, GetObject, HeadObject).

SeaweedFS names the type only for multipart uploads; for a whole-object checksum it sends the value alone, and
boto3 then reports no `ChecksumType`. S3 writes a composite checksum (a checksum of the parts' checksums) as
`<base64>-<part count>`, a full-object one as the bare value, so the value says which it is.
"""

from __future__ import annotations

import re

TYPED_OPERATIONS = frozenset({"PutObject", "GetObject", "HeadObject"})
_ALGORITHMS = frozenset({"crc32", "crc32c", "crc64nvme", "sha1", "sha256"})
_COMPOSITE = re.compile(r"-\d+$")


def with_checksum_type(headers: dict[str, str]) -> None:
    """Add the type of the checksum `headers` carry, unless they carry none or name the type already (one
    pass over the headers: this runs on every GET)."""
    value = None
    for name, text in headers.items():
        lowered = name.lower()
        if lowered.startswith("x-amz-checksum-"):
            if lowered == "x-amz-checksum-type":
                return
            if value is None and lowered[15:] in _ALGORITHMS:
                value = text
    if value is not None:
        headers["x-amz-checksum-type"] = "COMPOSITE" if _COMPOSITE.search(value) else "FULL_OBJECT"
