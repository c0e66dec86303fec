"""Bucket features Terrarium does not have, read as S3 reads them on a bucket that has never had them: no
default encryption (the backend stores plain bytes, so claiming SSE-S3 would be false), no replication, no
Object Lock, no server access logging, the owner pays for requests, no Transfer Acceleration. Tools that read
every setting of a bucket (Terraform's aws_s3_bucket, the console's properties page) then work; the matching
Put operations stay 501 NotImplemented, so no setting is ever accepted and ignored."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services.s3.buckets import bucket_arn
from runtime.services.s3.records import get_bucket
from runtime.state import Store


def _not_configured(code: str, message: str, action: str, name: str):
    @operation(name, action=action, resources=bucket_arn)
    def read(self, ctx: RequestContext, params: dict) -> dict:
        record = get_bucket(self.store, params["Bucket"])
        raise AwsError(code, message, 404, BucketName=record.id)
    return read


def _default(answer: dict, action: str, name: str):
    @operation(name, action=action, resources=bucket_arn)
    def read(self, ctx: RequestContext, params: dict) -> dict:
        get_bucket(self.store, params["Bucket"])
        return dict(answer)
    return read


class UnconfiguredProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    get_encryption = _not_configured(
        "ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found",
        "s3:GetEncryptionConfiguration", "GetBucketEncryption")
    get_replication = _not_configured(
        "ReplicationConfigurationNotFoundError", "The replication configuration was not found",
        "s3:GetReplicationConfiguration", "GetBucketReplication")
    get_object_lock = _not_configured(
        "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket",
        "s3:GetBucketObjectLockConfiguration", "GetObjectLockConfiguration")
    get_logging = _default({}, "s3:GetBucketLogging", "GetBucketLogging")
    get_request_payment = _default({"Payer": "BucketOwner"}, "s3:GetBucketRequestPayment", "GetBucketRequestPayment")
    get_accelerate = _default({}, "s3:GetAccelerateConfiguration", "GetBucketAccelerateConfiguration")
