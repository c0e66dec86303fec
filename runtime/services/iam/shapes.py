"""IAM records -> response dicts shaped like botocore's output shapes; list paging with Marker/MaxItems.

Policy documents go out URL-encoded, as IAM sends them (botocore decodes every policy document field).
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from runtime.errors import AwsError
from runtime.services.iam import managed
from runtime.state import Record

DEFAULT_MAX_ITEMS = 100


def when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def encoded(document: str) -> str:
    return quote(document, safe="")


def tags(record: Record) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in record.tags.items()]


def boundary(spec: dict) -> dict:
    arn = spec.get("Boundary")
    return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}} if arn else {}


def user(record: Record, *, with_tags: bool = False) -> dict:
    spec = record.spec
    out = {"Path": spec["Path"], "UserName": spec["UserName"], "UserId": record.id, "Arn": spec["Arn"],
           "CreateDate": when(spec["CreateDate"]), **boundary(spec)}
    if with_tags and record.tags:
        out["Tags"] = tags(record)
    return out


def group(record: Record) -> dict:
    spec = record.spec
    return {"Path": spec["Path"], "GroupName": spec["GroupName"], "GroupId": record.id, "Arn": spec["Arn"],
            "CreateDate": when(spec["CreateDate"])}


def role(record: Record, *, detail: bool = False) -> dict:
    spec = record.spec
    out = {"Path": spec["Path"], "RoleName": spec["RoleName"], "RoleId": record.id, "Arn": spec["Arn"],
           "CreateDate": when(spec["CreateDate"]), "AssumeRolePolicyDocument": encoded(spec["Trust"]),
           "MaxSessionDuration": spec["MaxSessionDuration"], **boundary(spec)}
    if spec.get("Description") is not None:
        out["Description"] = spec["Description"]
    if record.tags:
        out["Tags"] = tags(record)
    if detail:
        used = record.status.get("LastUsedDate")
        out["RoleLastUsed"] = {"LastUsedDate": when(used), "Region": record.status["Region"]} if used else {}
    return out


def customer_policy(record: Record, attachments: int) -> dict:
    spec = record.spec
    out = {"PolicyName": spec["PolicyName"], "PolicyId": record.id, "Arn": spec["Arn"], "Path": spec["Path"],
           "DefaultVersionId": spec["DefaultVersionId"], "AttachmentCount": attachments,
           "PermissionsBoundaryUsageCount": 0, "IsAttachable": True, "CreateDate": when(spec["CreateDate"]),
           "UpdateDate": when(spec["UpdateDate"])}
    if spec.get("Description"):
        out["Description"] = spec["Description"]
    if record.tags:
        out["Tags"] = tags(record)
    return out


def aws_policy(policy: managed.ManagedPolicy, attachments: int) -> dict:
    return {"PolicyName": policy.name, "PolicyId": policy.policy_id, "Arn": policy.arn, "Path": policy.path,
            "DefaultVersionId": "v1", "AttachmentCount": attachments, "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True, "Description": policy.description, "CreateDate": when(managed.CREATED),
            "UpdateDate": when(managed.CREATED)}


def policy_version(version_id: str, version: dict, default_id: str, *, document: bool = True) -> dict:
    out = {"VersionId": version_id, "IsDefaultVersion": version_id == default_id,
           "CreateDate": when(version["CreateDate"])}
    if document:
        out["Document"] = encoded(version["Document"])
    return out


def access_key(record: Record) -> dict:
    spec = record.spec
    return {"UserName": spec["UserName"], "AccessKeyId": record.id, "Status": spec["Status"],
            "CreateDate": when(spec["CreateDate"])}


def instance_profile(record: Record, roles: list[Record]) -> dict:
    spec = record.spec
    out = {"Path": spec["Path"], "InstanceProfileName": spec["InstanceProfileName"], "InstanceProfileId": record.id,
           "Arn": spec["Arn"], "CreateDate": when(spec["CreateDate"]), "Roles": [role(r) for r in roles]}
    if record.tags:
        out["Tags"] = tags(record)
    return out


def page(items: list, params: dict, key: str) -> dict:
    """One page of `items` under `key`, with IsTruncated/Marker; the marker is the offset, opaque to clients."""
    marker = params.get("Marker")
    try:
        start = int(marker) if marker else 0
    except ValueError:
        raise AwsError("ValidationError", "Invalid Marker.") from None
    size = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    chunk = items[start:start + size]
    out = {key: chunk, "IsTruncated": start + size < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = str(start + size)
    return out


def under_path(records: list[Record], prefix: str | None) -> list[Record]:
    return [r for r in records if r.spec["Path"].startswith(prefix or "/")]
