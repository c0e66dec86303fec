"""Object Ownership and ACLs as S3 reports them for a bucket with ACLs disabled (BucketOwnerEnforced, S3's
default since April 2023). That is Terrarium's whole model: the bucket owner owns every object and only policies
decide access, so every bucket reports it. Reading an ACL shows the owner's full control; setting one is
refused unless it grants exactly that (`acl.grants_only_owner`), as S3 does. Switching ACLs back on
(ObjectWriter, BucketOwnerPreferred) is not implemented. The policy status reads the stored bucket policy."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.host.s3backend import Backend
from runtime.services.s3.access import is_public_policy
from runtime.services.s3.acl import ENFORCED, acl_not_supported, grants_only_owner
from runtime.services.s3.buckets import bucket_arn, object_arn
from runtime.services.s3.names import malformed_xml
from runtime.services.s3.object_head import head_object
from runtime.services.s3.records import get_bucket, owner
from runtime.state import Store

def _owner_full_control(account: str) -> dict:
    who = owner(account)
    return {"Owner": who, "Grants": [{"Grantee": {**who, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]}


class OwnershipProvider:
    def __init__(self, store: Store, backend: Backend) -> None:
        self.store = store
        self.backend = backend

    @operation("GetBucketAcl", action="s3:GetBucketAcl", resources=bucket_arn)
    def get_bucket_acl(self, ctx: RequestContext, params: dict) -> dict:
        return _owner_full_control(get_bucket(self.store, params["Bucket"]).account)

    @operation("PutBucketAcl", action="s3:PutBucketAcl", resources=bucket_arn)
    def put_bucket_acl(self, ctx: RequestContext, params: dict) -> dict:
        record = get_bucket(self.store, params["Bucket"])
        if not grants_only_owner(params, record.account):
            raise acl_not_supported()
        return {}

    @operation("GetObjectAcl", action="s3:GetObjectAcl", resources=object_arn)
    async def get_object_acl(self, ctx: RequestContext, params: dict) -> dict:
        record = await self._existing_object(params)
        return _owner_full_control(record.account)

    @operation("PutObjectAcl", action="s3:PutObjectAcl", resources=object_arn)
    async def put_object_acl(self, ctx: RequestContext, params: dict) -> dict:
        record = await self._existing_object(params)
        if not grants_only_owner(params, record.account):
            raise acl_not_supported()
        return {}

    async def _existing_object(self, params: dict):
        """The bucket, once the backend confirmed the object (or the version asked for) exists."""
        record, _ = await head_object(self.store, self.backend, params)
        return record

    @operation("GetBucketOwnershipControls", action="s3:GetBucketOwnershipControls", resources=bucket_arn)
    def get_ownership_controls(self, ctx: RequestContext, params: dict) -> dict:
        get_bucket(self.store, params["Bucket"])
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": ENFORCED}]}}

    @operation("PutBucketOwnershipControls", action="s3:PutBucketOwnershipControls", resources=bucket_arn)
    def put_ownership_controls(self, ctx: RequestContext, params: dict) -> dict:
        get_bucket(self.store, params["Bucket"])
        rules = (params.get("OwnershipControls") or {}).get("Rules") or []
        if len(rules) != 1:
            raise malformed_xml()
        if rules[0].get("ObjectOwnership") != ENFORCED:
            raise AwsError("NotImplemented", f"Terrarium's S3 keeps ACLs disabled: Object Ownership is always "
                           f"{ENFORCED}.", 501)
        return {}

    @operation("GetBucketPolicyStatus", action="s3:GetBucketPolicyStatus", resources=bucket_arn)
    def get_policy_status(self, ctx: RequestContext, params: dict) -> dict:
        record = get_bucket(self.store, params["Bucket"])
        policy = record.spec.get("policy")
        if not policy:
            raise AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404, BucketName=record.id)
        return {"PolicyStatus": {"IsPublic": is_public_policy(policy)}}
