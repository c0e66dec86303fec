"""Record kinds and layouts, and records -> FunctionConfiguration (the dict boto3 returns).

| kind | id | name | parent | spec |
|---|---|---|---|---|
| `lambda.function` | unqualified ARN | function name | | $LATEST's configuration (below), `Policy` {qualifier: [statements]}, `ReservedConcurrency`, `EventInvokeConfigs` {qualifier: config}, `LastVersion` |
| `lambda.version` | qualified ARN | `<name>:<N>` | function | the configuration as published |
| `lambda.alias` | alias ARN | `<name>:<alias>` | function | Name, FunctionVersion, Description, RoutingConfig, RevisionId |
| `lambda.url` | url id | `<name>:<qualifier or $LATEST>` | function | FunctionUrl, AuthType, Cors, InvokeMode, Qualifier, CreationTime, LastModifiedTime |

Configuration keys: FunctionName, FunctionArn, Runtime, Role, Handler, Description, Timeout, MemorySize,
Environment (variables dict), EphemeralStorage (MB), CodeSha256 (base64), CodeHex, CodeSize, LastModified
(epoch), RevisionId, Version, VpcConfig, Architectures. A function's status holds State, StateReason,
StateReasonCode, LastUpdateStatus (+Reason, ReasonCode); a version is Active from the start.
"""

from __future__ import annotations

import time

from runtime.services.lambda_.naming import LATEST
from runtime.state import Record

FUNCTION = "lambda.function"
VERSION = "lambda.version"
ALIAS = "lambda.alias"
URL = "lambda.url"

CONFIG_KEYS = ("FunctionName", "Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize", "Environment",
               "EphemeralStorage", "CodeSha256", "CodeHex", "CodeSize", "LastModified", "VpcConfig",
               "Architectures")


def last_modified(epoch: float) -> str:
    """`2026-01-01T12:00:00.000+0000`, the format Lambda uses for LastModified."""
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}+0000"


def configuration(record: Record) -> dict:
    """FunctionConfiguration of a `lambda.function` ($LATEST) or `lambda.version` record."""
    spec, status = record.spec, record.status
    version = spec.get("Version", LATEST)
    arn = spec["FunctionArn"] if version == LATEST else f"{spec['FunctionArn']}:{version}"
    out = {
        "FunctionName": spec["FunctionName"], "FunctionArn": arn, "Runtime": spec["Runtime"], "Role": spec["Role"],
        "Handler": spec["Handler"], "CodeSize": spec["CodeSize"], "Description": spec.get("Description", ""),
        "Timeout": spec["Timeout"], "MemorySize": spec["MemorySize"],
        "LastModified": last_modified(spec["LastModified"]), "CodeSha256": spec["CodeSha256"], "Version": version,
        "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": spec["RevisionId"], "PackageType": "Zip",
        "Architectures": spec.get("Architectures") or ["x86_64"],
        "EphemeralStorage": {"Size": spec.get("EphemeralStorage", 512)},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{spec['FunctionName']}"},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "State": status.get("State", "Active"),
        "LastUpdateStatus": status.get("LastUpdateStatus", "Successful"),
    }
    if spec.get("Environment"):
        out["Environment"] = {"Variables": dict(spec["Environment"])}
    if spec.get("VpcConfig"):
        out["VpcConfig"] = spec["VpcConfig"]
    for key in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
        if status.get(key):
            out[key] = status[key]
    return out


def alias(record: Record) -> dict:
    spec = record.spec
    out = {"AliasArn": record.id, "Name": spec["Name"], "FunctionVersion": spec["FunctionVersion"],
           "Description": spec.get("Description", ""), "RevisionId": spec["RevisionId"]}
    if spec.get("RoutingConfig"):
        out["RoutingConfig"] = spec["RoutingConfig"]
    return out
