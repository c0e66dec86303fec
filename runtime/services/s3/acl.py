"""The ACL rule of a bucket with ACLs disabled (Object Ownership BucketOwnerEnforced, S3's default since April
2023 and Terrarium's only model): an ACL that a request sets must give the bucket owner full control and
nobody anything else (no ACL, `private`, `bucket-owner-full-control`, or the same grant spelled out)."""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.services.s3.records import canonical_user_id

ENFORCED = "BucketOwnerEnforced"
OWNER_ONLY_CANNED = {"private", "bucket-owner-full-control"}
_GRANT_PARAMS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP")


def acl_not_supported() -> AwsError:
    return AwsError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def grants_only_owner(params: dict, account: str) -> bool:
    """Whether the ACL a request sets (canned, grant headers or an AccessControlPolicy body) gives full control
    to the bucket owner and nothing to anyone else: the only ACL a bucket with ACLs disabled accepts."""
    canned = params.get("ACL")
    if canned is not None and canned not in OWNER_ONLY_CANNED:
        return False
    own = canonical_user_id(account)
    for name in _GRANT_PARAMS:
        value = params.get(name)
        if value is not None and (name != "GrantFullControl" or value.replace(" ", "") != f'id="{own}"'):
            return False
    for grant in (params.get("AccessControlPolicy") or {}).get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        if grant.get("Permission") != "FULL_CONTROL" or grantee.get("Type") != "CanonicalUser" \
                or grantee.get("ID") != own:
            return False
    return True


def check_write_acl(params: dict, account: str, *, creating_bucket: bool = False) -> None:
    """The ACL headers of PutObject, CopyObject, CreateMultipartUpload and CreateBucket."""
    if not grants_only_owner(params, account):
        if creating_bucket:
            raise AwsError("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with "
                           "ObjectOwnership's BucketOwnerEnforced setting", 400)
        raise acl_not_supported()
