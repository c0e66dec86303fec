"""Build and parse ARNs: `arn:<partition>:<service>:<region>:<account>:<resource>`.

Which fields are empty is per service (reference/aws-spec.md): IAM and STS are global (no region);
S3 bucket/object ARNs have neither region nor account; public EC2 images and snapshots carry no
account; AWS-managed IAM policies use the account `aws`. `resource` keeps everything after the fifth
colon, so Lambda qualifiers and log-group `:*` suffixes survive a parse/str round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTITION = "aws"


@dataclass(frozen=True)
class Arn:
    service: str
    region: str
    account: str
    resource: str
    partition: str = PARTITION

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse_arn(text: str) -> Arn:
    """`ValueError` unless `text` has the six ARN fields with a non-empty service and resource."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise ValueError(f"not an ARN: {text!r}")
    _, partition, service, region, account, resource = parts
    return Arn(service=service, region=region, account=account, resource=resource, partition=partition)


# --- EC2 ---------------------------------------------------------------------------------------------
def ec2_arn(region: str, account: str, resource_type: str, resource_id: str) -> str:
    """`arn:aws:ec2:us-east-1:123456789012:instance/i-…`; pass account "" for public images/snapshots."""
    return str(Arn("ec2", region, account, f"{resource_type}/{resource_id}"))


def image_arn(region: str, image_id: str) -> str:
    return ec2_arn(region, "", "image", image_id)


def snapshot_arn(region: str, snapshot_id: str) -> str:
    return ec2_arn(region, "", "snapshot", snapshot_id)


# --- IAM / STS ---------------------------------------------------------------------------------------
def _normalise_path(path: str) -> str:
    if not (path.startswith("/") and path.endswith("/")):
        raise ValueError(f"IAM path must start and end with '/': {path!r}")
    return path


def iam_arn(account: str, resource_type: str, name: str, path: str = "/") -> str:
    """`arn:aws:iam::123456789012:user/division/name` (also role, policy, group, instance-profile)."""
    return str(Arn("iam", "", account, f"{resource_type}{_normalise_path(path)}{name}"))


def iam_root_arn(account: str) -> str:
    return str(Arn("iam", "", account, "root"))


def aws_managed_policy_arn(name: str, path: str = "/") -> str:
    """`arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`."""
    return iam_arn("aws", "policy", name, path)


@dataclass(frozen=True)
class IamResource:
    account: str
    resource_type: str
    path: str
    name: str


def parse_iam_arn(text: str) -> IamResource:
    """Split an IAM ARN into account, type, path and name; `root` has type and name `root`."""
    arn = parse_arn(text)
    if arn.service != "iam" or arn.region:
        raise ValueError(f"not an IAM ARN: {text!r}")
    if arn.resource == "root":
        return IamResource(arn.account, "root", "/", "root")
    resource_type, slash, rest = arn.resource.partition("/")
    if not slash or not rest or rest.endswith("/"):
        raise ValueError(f"IAM ARN has no resource name: {text!r}")
    inner, _, name = rest.rpartition("/")
    return IamResource(arn.account, resource_type, f"/{inner}/" if inner else "/", name)


def assumed_role_arn(account: str, role_name: str, session_name: str) -> str:
    """`arn:aws:sts::123456789012:assumed-role/RoleName/SessionName` (no role path, as AWS does)."""
    return str(Arn("sts", "", account, f"assumed-role/{role_name}/{session_name}"))


# --- S3 ------------------------------------------------------------------------------------------------
def s3_bucket_arn(bucket: str) -> str:
    return str(Arn("s3", "", "", bucket))


def s3_object_arn(bucket: str, key: str) -> str:
    return str(Arn("s3", "", "", f"{bucket}/{key}"))


# --- Lambda and Logs -----------------------------------------------------------------------------------
def lambda_function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    """`arn:aws:lambda:us-east-1:123456789012:function:name[:qualifier]` (version or alias)."""
    resource = f"function:{name}" + (f":{qualifier}" if qualifier else "")
    return str(Arn("lambda", region, account, resource))


@dataclass(frozen=True)
class LambdaFunction:
    region: str
    account: str
    name: str
    qualifier: str | None


def parse_lambda_function_arn(text: str) -> LambdaFunction:
    arn = parse_arn(text)
    kind, _, rest = arn.resource.partition(":")
    if arn.service != "lambda" or kind != "function" or not rest:
        raise ValueError(f"not a Lambda function ARN: {text!r}")
    name, _, qualifier = rest.partition(":")
    if not name or ":" in qualifier:
        raise ValueError(f"not a Lambda function ARN: {text!r}")
    return LambdaFunction(arn.region, arn.account, name, qualifier or None)


def log_group_arn(region: str, account: str, name: str, *, wildcard: bool = False) -> str:
    """`arn:aws:logs:…:log-group:name`; DescribeLogGroups' `arn` field has the `:*` suffix."""
    return str(Arn("logs", region, account, f"log-group:{name}" + (":*" if wildcard else "")))
