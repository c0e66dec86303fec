"""GetObjectAttributes, answered from one HEAD of the backend object plus Terrarium's own storage class: only
the attributes asked for, as S3 returns them (the ETag without quotes, the checksum stored with the object,
the part count of a multipart object)."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.host.s3backend import Backend
from runtime.services.s3.buckets import object_arn
from runtime.services.s3.object_head import head_object
from runtime.state import Store

ATTRIBUTES = {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}
_PARTS = re.compile(r'-(\d+)"?$')
_CHECKSUMS = {"x-amz-checksum-crc32": "ChecksumCRC32", "x-amz-checksum-crc32c": "ChecksumCRC32C",
              "x-amz-checksum-crc64nvme": "ChecksumCRC64NVME", "x-amz-checksum-sha1": "ChecksumSHA1",
              "x-amz-checksum-sha256": "ChecksumSHA256"}


class AttributesProvider:
    def __init__(self, store: Store, backend: Backend) -> None:
        self.store = store
        self.backend = backend

    @operation("GetObjectAttributes", action="s3:GetObjectAttributes", resources=object_arn)
    async def get_object_attributes(self, ctx: RequestContext, params: dict) -> dict:
        wanted = set(params.get("ObjectAttributes") or [])
        unknown = wanted - ATTRIBUTES
        if not wanted or unknown:
            raise AwsError("InvalidArgument", "Invalid attribute name specified.", 400,
                           ArgumentName="x-amz-object-attributes",
                           ArgumentValue=",".join(sorted(unknown)) if unknown else "")
        record, headers = await head_object(self.store, self.backend, params, {"x-amz-checksum-mode": "ENABLED"})
        lowered = {k.lower(): v for k, v in headers.items()}
        out: dict = {}
        if "last-modified" in lowered:
            out["LastModified"] = parsedate_to_datetime(lowered["last-modified"])
        if "x-amz-version-id" in lowered:
            out["VersionId"] = lowered["x-amz-version-id"]
        etag = lowered.get("etag", "")
        if "ETag" in wanted:
            out["ETag"] = etag.strip('"')
        if "ObjectSize" in wanted:
            out["ObjectSize"] = int(lowered.get("content-length", "0"))
        if "StorageClass" in wanted:
            out["StorageClass"] = (record.spec.get("storage_classes") or {}).get(params["Key"], "STANDARD")
        if "Checksum" in wanted:
            checksum = {name: lowered[header] for header, name in _CHECKSUMS.items() if header in lowered}
            if checksum:
                out["Checksum"] = checksum
        parts = _PARTS.search(etag)
        if "ObjectParts" in wanted and parts:
            out["ObjectParts"] = {"TotalPartsCount": int(parts.group(1))}
        return out
