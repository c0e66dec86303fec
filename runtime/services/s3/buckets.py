"""Bucket operations: the bucket list, ownership and every bucket-level configuration live in the store;
the backend only gets a bucket (under a name of its own) and the versioning switch."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from aiohttp import web

from runtime.api.context import RequestContext
from runtime.api.gateway import RAW_RESPONSE
from runtime.api.dispatch import operation
from runtime.errors import AwsError, Conflict
from runtime.host.s3backend import Backend, BackendUnavailable
from runtime.host.s3backend.client import BackendError
from runtime.iam import policy as engine
from runtime.iam.policy import MalformedPolicy
from runtime.services.s3.access import is_public_policy
from runtime.services.s3.acl import ENFORCED, check_write_acl
from runtime.services.s3.config_checks import check_lifecycle, check_website
from runtime.services.s3.cors import check_configuration as check_cors
from runtime.services.s3.names import check_bucket_name, malformed_xml, new_backend_name
from runtime.services.s3.notifications import check_configuration
from runtime.services.s3.policy_scope import check_policy_scope
from runtime.services.s3.records import BUCKET, find_bucket, get_bucket, owner
from runtime.services.s3.tags import check_tag_set
from runtime.services.s3.tokens import name_in, token_for
from runtime.state import Store

US_EAST_1 = "us-east-1"


def bucket_arn(ctx: RequestContext, params: dict) -> list[str]:
    return [f"arn:aws:s3:::{params.get('Bucket', '')}"]


def object_arn(ctx: RequestContext, params: dict) -> list[str]:
    return [f"arn:aws:s3:::{params.get('Bucket', '')}/{params.get('Key', '')}"]


_STAMP = "\u0000timestamp:"


def jsonable(value):
    """A configuration as the store can hold it: timestamps (lifecycle `Date`) become tagged ISO text."""
    if isinstance(value, datetime):
        return _STAMP + value.astimezone(timezone.utc).isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def revived(value):
    """The inverse of `jsonable`."""
    if isinstance(value, str) and value.startswith(_STAMP):
        return datetime.fromisoformat(value[len(_STAMP):])
    if isinstance(value, dict):
        return {k: revived(v) for k, v in value.items()}
    if isinstance(value, list):
        return [revived(v) for v in value]
    return value


def unavailable() -> AwsError:
    return AwsError("ServiceUnavailable", "Please reduce your request rate.", 503, sender_fault=False)


def _config_ops(name: str, key: str, *, put_action: str, get_action: str, missing: tuple[str, str],
                param: str | None, unwrap: str | None = None, delete: bool = True):
    """Put/Get/Delete operations for one stored bucket configuration."""

    @operation(f"Put{name}", action=put_action, resources=bucket_arn)
    def put(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        value = params.get(param) if param else None
        self.validate(key, ctx, record, value)
        stored = jsonable(value)
        self.store.update_spec(BUCKET, record.id, lambda spec: {**spec, key: stored})
        return {}

    @operation(f"Get{name}", action=get_action, resources=bucket_arn)
    def get(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        value = revived(record.spec.get(key))
        if value is None and not missing[0]:
            return {}
        if value is None:
            raise AwsError(missing[0], missing[1], 404, BucketName=record.id)
        return {unwrap: value} if unwrap else dict(value)

    ops = [put, get]
    if delete:
        @operation(f"Delete{name}", action=put_action, resources=bucket_arn)
        def remove(self, ctx: RequestContext, params: dict) -> dict:
            record = self.owned(ctx, params["Bucket"])
            self.store.update_spec(BUCKET, record.id, lambda spec: {**spec, key: None})
            return {}
        ops.append(remove)
    return ops


class BucketsProvider:
    def __init__(self, store: Store, backend: Backend) -> None:
        self.store = store
        self.backend = backend

    def owned(self, ctx: RequestContext, name: str):
        return get_bucket(self.store, name)

    # --- the bucket itself -----------------------------------------------------------------------
    @operation("CreateBucket", action="s3:CreateBucket", resources=bucket_arn)
    async def create_bucket(self, ctx: RequestContext, params: dict) -> dict:
        name = params["Bucket"]
        check_bucket_name(name)
        check_write_acl(params, ctx.account, creating_bucket=True)
        ownership = params.get("ObjectOwnership")
        if ownership not in (None, ENFORCED):
            raise AwsError("NotImplemented", f"Terrarium's S3 keeps ACLs disabled: Object Ownership is always "
                           f"{ENFORCED}.", 501)
        if params.get("ObjectLockEnabledForBucket"):
            raise AwsError("NotImplemented", "Terrarium's S3 does not implement Object Lock.", 501,
                           sender_fault=False)
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        region = self._region(ctx, constraint)
        existing = find_bucket(self.store, name)
        if existing is not None:
            if existing.account != ctx.account:
                raise AwsError("BucketAlreadyExists", "The requested bucket name is not available. The bucket "
                               "namespace is shared by all users of the system. Please select a different name "
                               "and try again.", 409, BucketName=name)
            if region == US_EAST_1 and existing.spec.get("region") == US_EAST_1:
                return {"Location": f"/{name}"}
            raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                           "succeeded and you already own it.", 409, BucketName=name)
        backend_name = new_backend_name()
        try:
            self.store.put(BUCKET, name, ctx.account, {"backend": backend_name, "region": region}, name=name)
        except Conflict:
            raise AwsError("OperationAborted", "A conflicting conditional operation is currently in progress "
                           "against this resource. Please try again.", 409) from None
        try:
            await self.backend.create_bucket(backend_name)
        except (BackendUnavailable, BackendError) as exc:
            self.store.delete(BUCKET, name)
            if isinstance(exc, BackendUnavailable):
                raise unavailable() from exc
            raise AwsError("InternalError", "We encountered an internal error. Please try again.", 500,
                           sender_fault=False) from exc
        return {"Location": f"/{name}"}

    @staticmethod
    def _region(ctx: RequestContext, constraint: str | None) -> str:
        if constraint is None:
            if ctx.region != US_EAST_1:
                raise AwsError("IllegalLocationConstraintException", "The unspecified location constraint is "
                               "incompatible for the region specific endpoint this request was sent to.", 400)
            return US_EAST_1
        if constraint != ctx.region:
            raise AwsError("IllegalLocationConstraintException", f"The {constraint} location constraint is "
                           f"incompatible for the region specific endpoint this request was sent to.", 400)
        return "eu-west-1" if constraint == "EU" else constraint

    @operation("DeleteBucket", action="s3:DeleteBucket", resources=bucket_arn)
    async def delete_bucket(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        try:
            await self.backend.delete_bucket(record.spec["backend"])
        except BackendUnavailable as exc:
            raise unavailable() from exc
        except BackendError as exc:
            if exc.code == "BucketNotEmpty":
                raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                               BucketName=record.id) from exc
            if exc.code != "NoSuchBucket":
                raise
        self.store.delete(BUCKET, record.id)
        return {}

    @operation("HeadBucket", action="s3:ListBucket", resources=bucket_arn)
    def head_bucket(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        return {"BucketRegion": record.spec.get("region", US_EAST_1)}

    @operation("ListBuckets", action="s3:ListAllMyBuckets")
    def list_buckets(self, ctx: RequestContext, params: dict) -> dict:
        """Sorted by name; `Prefix` and `BucketRegion` filter, `MaxBuckets` pages with a continuation token."""
        prefix, region = params.get("Prefix") or "", params.get("BucketRegion")
        after = name_in(params["ContinuationToken"], "continuation-token") if params.get("ContinuationToken") else ""
        records = [r for r in sorted(self.store.list(BUCKET, ctx.account), key=lambda r: r.id)
                   if r.id.startswith(prefix) and r.id > after
                   and (region is None or r.spec.get("region", US_EAST_1) == region)]
        most = params.get("MaxBuckets") or len(records)
        out = {"Buckets": [{"Name": r.id, "CreationDate": datetime.fromtimestamp(r.created, timezone.utc),
                            "BucketRegion": r.spec.get("region", US_EAST_1)} for r in records[:most]],
               "Owner": owner(ctx.account)}
        if params.get("Prefix") is not None:
            out["Prefix"] = prefix
        if len(records) > most:
            out["ContinuationToken"] = token_for(records[most - 1].id)
        return out

    @operation("GetBucketLocation", action="s3:GetBucketLocation", resources=bucket_arn)
    def get_bucket_location(self, ctx: RequestContext, params: dict) -> dict:
        """Answered by hand: botocore parses this document itself, and an empty element means us-east-1."""
        region = self.owned(ctx, params["Bucket"]).spec.get("region", US_EAST_1)
        text = "" if region == US_EAST_1 else region
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns='
                f'"http://s3.amazonaws.com/doc/2006-03-01/">{text}</LocationConstraint>')
        return {RAW_RESPONSE: web.Response(body=body.encode(), content_type="application/xml",
                                           headers={"x-amz-request-id": ctx.request_id})}

    # --- versioning (also switched on the backend) -----------------------------------------------
    @operation("PutBucketVersioning", action="s3:PutBucketVersioning", resources=bucket_arn)
    async def put_bucket_versioning(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        config = params.get("VersioningConfiguration") or {}
        status = config.get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        try:
            await self.backend.set_versioning(record.spec["backend"], status)
        except BackendUnavailable as exc:
            raise unavailable() from exc
        self.store.update_spec(BUCKET, record.id, lambda spec: {**spec, "versioning": {
            k: v for k, v in config.items() if k in ("Status", "MFADelete")}})
        return {}

    @operation("GetBucketVersioning", action="s3:GetBucketVersioning", resources=bucket_arn)
    def get_bucket_versioning(self, ctx: RequestContext, params: dict) -> dict:
        return dict(self.owned(ctx, params["Bucket"]).spec.get("versioning") or {})

    # --- configurations kept only by Terrarium ---------------------------------------------------
    put_bucket_policy, get_bucket_policy, delete_bucket_policy = _config_ops(
        "BucketPolicy", "policy", put_action="s3:PutBucketPolicy", get_action="s3:GetBucketPolicy",
        missing=("NoSuchBucketPolicy", "The bucket policy does not exist"), param="Policy", unwrap="Policy")
    put_notification, get_notification = _config_ops(
        "BucketNotificationConfiguration", "notification", put_action="s3:PutBucketNotification",
        get_action="s3:GetBucketNotification", missing=("", ""), param="NotificationConfiguration", delete=False)
    put_cors, get_cors, delete_cors = _config_ops(
        "BucketCors", "cors", put_action="s3:PutBucketCORS", get_action="s3:GetBucketCORS",
        missing=("NoSuchCORSConfiguration", "The CORS configuration does not exist"), param="CORSConfiguration")
    put_website, get_website, delete_website = _config_ops(
        "BucketWebsite", "website", put_action="s3:PutBucketWebsite", get_action="s3:GetBucketWebsite",
        missing=("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
        param="WebsiteConfiguration")
    put_lifecycle, get_lifecycle, _ = _config_ops(
        "BucketLifecycleConfiguration", "lifecycle", put_action="s3:PutLifecycleConfiguration",
        get_action="s3:GetLifecycleConfiguration",
        missing=("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
        param="LifecycleConfiguration")
    put_pab, get_pab, delete_pab = _config_ops(
        "PublicAccessBlock", "public_access_block", put_action="s3:PutBucketPublicAccessBlock",
        get_action="s3:GetBucketPublicAccessBlock",
        missing=("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found"),
        param="PublicAccessBlockConfiguration", unwrap="PublicAccessBlockConfiguration")
    put_tagging, get_tagging, delete_tagging = _config_ops(
        "BucketTagging", "tags", put_action="s3:PutBucketTagging", get_action="s3:GetBucketTagging",
        missing=("NoSuchTagSet", "The TagSet does not exist"), param="Tagging")

    @operation("DeleteBucketLifecycle", action="s3:PutLifecycleConfiguration", resources=bucket_arn)
    def delete_lifecycle(self, ctx: RequestContext, params: dict) -> dict:
        record = self.owned(ctx, params["Bucket"])
        self.store.update_spec(BUCKET, record.id, lambda spec: {**spec, "lifecycle": None})
        return {}

    def validate(self, key: str, ctx: RequestContext, record, value) -> None:
        """Checks a configuration must pass before it is stored."""
        if key == "policy":
            try:
                engine.parse_policy(value or "", kind="resource")
                document = json.loads(value)
            except (MalformedPolicy, ValueError) as exc:
                raise AwsError("MalformedPolicy", str(exc) or "Policies must be valid JSON", 400) from exc
            check_policy_scope(document, record.id)
            pab = record.spec.get("public_access_block") or {}
            if pab.get("BlockPublicPolicy") and is_public_policy(value):
                raise AwsError("AccessDenied", "Access Denied", 403)
        elif key == "notification":
            check_configuration(self.store, ctx.account, value or {})
        elif key == "cors":
            check_cors(value or {})
        elif key == "tags":
            check_tag_set((value or {}).get("TagSet") or [], on_bucket=True)
        elif key == "lifecycle":
            check_lifecycle(value or {})
        elif key == "website":
            check_website(value or {})
