"""S3 event notifications to Lambda: configuration checks and the durable hand-off of event records.

Each matching configuration of a successful create or delete becomes one job on the store's
`lambda.async` topic (the payload as JSON text, the shape the Lambda async worker consumes), written before
the client's response is sent, so a crash loses no event; the Lambda async worker delivers it (and applies
the function's resource policy).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from urllib.parse import quote_plus

from runtime.errors import AwsError
from runtime.services.s3.records import canonical_user_id
from runtime.state import Store

TOPIC = "lambda.async"
FUNCTION_KIND = "lambda.function"
_PREFIXES = ("s3:ObjectCreated:", "s3:ObjectRemoved:", "s3:ObjectRestore:", "s3:ObjectTagging:",
             "s3:ObjectAcl:", "s3:LifecycleExpiration:", "s3:LifecycleTransition", "s3:Replication:",
             "s3:IntelligentTiering", "s3:ReducedRedundancyLostObject", "s3:TestEvent")


def check_configuration(store: Store, account: str, config: dict) -> None:
    """`InvalidArgument` for an unknown event name or a destination that does not exist: a Lambda function not
    created, or any SQS queue or SNS topic (Terrarium has neither service, so no such destination exists).
    EventBridge delivery is 501: there is no EventBridge to deliver to."""
    if config.get("EventBridgeConfiguration") is not None:
        raise AwsError("NotImplemented", "Terrarium's S3 does not deliver notifications to EventBridge.", 501,
                       sender_fault=False)
    for kind, field, what in (("QueueConfigurations", "QueueArn", "SQS queue"),
                              ("TopicConfigurations", "TopicArn", "SNS topic")):
        items = config.get(kind) or []
        if items:
            raise AwsError("InvalidArgument", "Unable to validate the following destination configurations", 400,
                           ArgumentName=items[0].get(field, ""), ArgumentValue=f"The destination {what} does not exist")
    missing = []
    for item in config.get("LambdaFunctionConfigurations") or []:
        for event in item.get("Events") or []:
            if not event.startswith(_PREFIXES):
                raise AwsError("InvalidArgument", "The event is not supported for notifications", 400,
                               ArgumentName=event, ArgumentValue=event)
        for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
            if rule.get("Name", "").lower() not in ("prefix", "suffix"):
                raise AwsError("InvalidArgument", "filter rule name must be either prefix or suffix", 400)
        arn = item.get("LambdaFunctionArn", "")
        if not _function_exists(store, arn):
            missing.append(arn)
    if missing:
        raise AwsError("InvalidArgument", "Unable to validate the following destination configurations", 400,
                       ArgumentName=missing[0], ArgumentValue="The destination Lambda function does not exist")


def _function_exists(store: Store, arn: str) -> bool:
    fields = arn.split(":")
    if len(fields) < 7 or fields[2] != "lambda" or fields[5] != "function":
        return False
    return store.find(FUNCTION_KIND, fields[4], fields[6]) is not None


def _matches(item: dict, event_name: str, key: str) -> bool:
    wanted = item.get("Events") or []
    family = event_name.split(":")[0]
    if not any(e in (f"s3:{event_name}", f"s3:{family}:*") for e in wanted):
        return False
    for rule in ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
        name, value = rule.get("Name", "").lower(), rule.get("Value", "")
        if (name == "prefix" and not key.startswith(value)) or (name == "suffix" and not key.endswith(value)):
            return False
    return True


def event_record(*, region: str, event_name: str, principal_id: str, source_ip: str, request_id: str,
                 config_id: str, bucket: str, owner_account: str, key: str, size: int | None, etag: str | None,
                 version_id: str | None) -> dict:
    """One `Records[]` entry exactly as AWS shapes it (eventVersion 2.1)."""
    now = datetime.now(timezone.utc)
    obj = {"key": quote_plus(key, safe="/"), "sequencer": f"{time.time_ns():016X}"}
    if size is not None:
        obj["size"] = size
    if etag:
        obj["eTag"] = etag.strip('"')
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "eventName": event_name, "userIdentity": {"principalId": principal_id},
            "requestParameters": {"sourceIPAddress": source_ip},
            "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": request_id},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": config_id,
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": canonical_user_id(owner_account)},
                              "arn": f"arn:aws:s3:::{bucket}"},
                   "object": obj}}


def enqueue_events(store: Store, bucket_record, *, region: str, event_name: str, principal_id: str,
                   source_ip: str, request_id: str, objects: list[tuple[str, int | None, str | None, str | None]]
                   ) -> int:
    """Queue one async invoke per (matching configuration, object); returns how many were queued."""
    configs = (bucket_record.spec.get("notification") or {}).get("LambdaFunctionConfigurations") or []
    queued = 0
    with store.transaction():
        for item in configs:
            for key, size, etag, version_id in objects:
                if not _matches(item, event_name, key):
                    continue
                record = event_record(region=region, event_name=event_name, principal_id=principal_id,
                                      source_ip=source_ip, request_id=request_id, config_id=item.get("Id", ""),
                                      bucket=bucket_record.id, owner_account=bucket_record.account, key=key,
                                      size=size, etag=etag, version_id=version_id)
                store.enqueue(TOPIC, {"function_arn": item["LambdaFunctionArn"], "request_id": request_id,
                                      "payload": json.dumps({"Records": [record]}),
                                      "source": "s3", "source_arn": f"arn:aws:s3:::{bucket_record.id}",
                                      "source_account": bucket_record.account})
                queued += 1
    return queued
