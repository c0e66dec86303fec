"""The AWS managed policies users expect to find (`arn:aws:iam::aws:policy/...`), with documents close to the
real ones. They are code, not records: every account sees them, nobody can change or delete them, and their ids
are derived from their names so they are stable across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    description: str
    document: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"

    @property
    def policy_id(self) -> str:
        digest = base64.b32encode(hashlib.sha256(self.name.encode()).digest()).decode()
        return "ANPA" + digest[:17]


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


def _allow(actions, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


_READ_SERVICES = ("ec2", "iam", "lambda", "logs", "s3", "sts", "cloudwatch", "autoscaling", "elasticloadbalancing",
                  "dynamodb", "sqs", "sns", "kms", "cloudformation", "ssm", "tag")
_PASS_TO_LAMBDA = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
_SERVICE_LINKED = {"StringEquals": {"iam:AWSServiceName": ["autoscaling.amazonaws.com", "ec2scheduled.amazonaws.com",
                                                           "elasticloadbalancing.amazonaws.com",
                                                           "spot.amazonaws.com", "spotfleet.amazonaws.com",
                                                           "transitgateway.amazonaws.com"]}}

POLICIES: tuple[ManagedPolicy, ...] = (
    ManagedPolicy("AdministratorAccess", "/", "Provides full access to AWS services and resources.",
                  _doc(_allow("*"))),
    ManagedPolicy("ReadOnlyAccess", "/", "Provides read-only access to AWS services and resources.",
                  _doc(_allow(sorted(f"{s}:{verb}*" for s in _READ_SERVICES for verb in ("Describe", "Get", "List"))
                              + ["s3:HeadBucket", "sts:GetCallerIdentity"]))),
    ManagedPolicy("PowerUserAccess", "/", "Provides full access to AWS services and resources, but does not allow "
                  "management of Users and groups.",
                  _doc({"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
                       _allow(["iam:CreateServiceLinkedRole", "iam:DeleteServiceLinkedRole", "iam:ListRoles",
                               "organizations:DescribeOrganization", "account:ListRegions",
                               "account:GetAccountInformation"]))),
    ManagedPolicy("IAMFullAccess", "/", "Provides full access to IAM via the AWS Management Console.",
                  _doc(_allow(["iam:*", "organizations:DescribeAccount", "organizations:DescribeOrganization",
                               "organizations:DescribeOrganizationalUnit", "organizations:DescribePolicy",
                               "organizations:ListChildren", "organizations:ListParents",
                               "organizations:ListPoliciesForTarget", "organizations:ListRoots",
                               "organizations:ListPolicies", "organizations:ListTargetsForPolicy"]))),
    ManagedPolicy("IAMReadOnlyAccess", "/", "Provides read only access to IAM via the AWS Management Console.",
                  _doc(_allow(["iam:GenerateCredentialReport", "iam:GenerateServiceLastAccessedDetails",
                               "iam:Get*", "iam:List*", "iam:SimulateCustomPolicy",
                               "iam:SimulatePrincipalPolicy"]))),
    ManagedPolicy("AmazonS3FullAccess", "/", "Provides full access to all buckets via the AWS Management Console.",
                  _doc(_allow(["s3:*", "s3-object-lambda:*"]))),
    ManagedPolicy("AmazonS3ReadOnlyAccess", "/", "Provides read only access to all buckets via the AWS Management "
                  "Console.",
                  _doc(_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*",
                               "s3-object-lambda:List*"]))),
    ManagedPolicy("AmazonEC2FullAccess", "/", "Provides full access to Amazon EC2 via the AWS Management Console.",
                  _doc(_allow("ec2:*"), _allow("elasticloadbalancing:*"), _allow("cloudwatch:*"),
                       _allow("autoscaling:*"),
                       _allow("iam:CreateServiceLinkedRole", Condition=_SERVICE_LINKED))),
    ManagedPolicy("AmazonEC2ReadOnlyAccess", "/", "Provides read only access to Amazon EC2 via the AWS Management "
                  "Console.",
                  _doc(_allow("ec2:Describe*"), _allow("elasticloadbalancing:Describe*"),
                       _allow(["cloudwatch:ListMetrics", "cloudwatch:GetMetricStatistics", "cloudwatch:Describe*"]),
                       _allow("autoscaling:Describe*"))),
    ManagedPolicy("AmazonVPCFullAccess", "/", "Provides full access to Amazon VPC via the AWS Management Console.",
                  _doc(_allow(["ec2:*Vpc*", "ec2:*Subnet*", "ec2:*Gateway*", "ec2:*Route*", "ec2:*Address*",
                               "ec2:*SecurityGroup*", "ec2:*NetworkAcl*", "ec2:*DhcpOptions*",
                               "ec2:*NetworkInterface*", "ec2:DescribeAvailabilityZones", "ec2:DescribeInstances",
                               "ec2:DescribeTags", "ec2:CreateTags", "ec2:DeleteTags"]))),
    ManagedPolicy("AmazonVPCReadOnlyAccess", "/", "Provides read only access to Amazon VPC via the AWS Management "
                  "Console.",
                  _doc(_allow(["ec2:DescribeAddresses", "ec2:DescribeDhcpOptions", "ec2:DescribeInternetGateways",
                               "ec2:DescribeNatGateways", "ec2:DescribeNetworkAcls", "ec2:DescribeNetworkInterfaces",
                               "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
                               "ec2:DescribeSecurityGroupRules", "ec2:DescribeSubnets", "ec2:DescribeTags",
                               "ec2:DescribeVpcs", "ec2:DescribeAvailabilityZones"]))),
    ManagedPolicy("AWSLambda_FullAccess", "/", "Grants full access to AWS Lambda service, AWS Lambda console "
                  "features, and other related AWS services.",
                  _doc(_allow(["cloudformation:DescribeStacks", "cloudformation:ListStackResources",
                               "cloudwatch:ListMetrics", "cloudwatch:GetMetricData", "ec2:DescribeSecurityGroups",
                               "ec2:DescribeSubnets", "ec2:DescribeVpcs", "kms:ListAliases", "iam:GetPolicy",
                               "iam:GetPolicyVersion", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                               "iam:ListRolePolicies", "iam:ListRoles", "lambda:*", "logs:DescribeLogGroups",
                               "states:DescribeStateMachine", "states:ListStateMachines", "tag:GetResources",
                               "xray:GetTraceSummaries", "xray:BatchGetTraces"]),
                       _allow("iam:PassRole", Condition=_PASS_TO_LAMBDA),
                       _allow(["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents",
                               "logs:StartLiveTail", "logs:StopLiveTail"],
                              "arn:aws:logs:*:*:log-group:/aws/lambda/*"))),
    ManagedPolicy("AWSLambda_ReadOnlyAccess", "/", "Grants read-only access to AWS Lambda service, AWS Lambda "
                  "console features, and other related AWS services.",
                  _doc(_allow(["lambda:Get*", "lambda:List*", "iam:GetPolicy", "iam:GetPolicyVersion",
                               "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                               "iam:ListRolePolicies", "iam:ListRoles", "logs:DescribeLogGroups",
                               "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]),
                       _allow(["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
                              "arn:aws:logs:*:*:log-group:/aws/lambda/*"))),
    ManagedPolicy("AWSLambdaExecute", "/", "Provides Put, Get access to S3 and full access to CloudWatch Logs.",
                  _doc(_allow("logs:*", "arn:aws:logs:*:*:*"),
                       _allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::*"))),
    ManagedPolicy("AWSLambdaBasicExecutionRole", "/service-role/", "Provides write permissions to CloudWatch Logs.",
                  _doc(_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]))),
    ManagedPolicy("AWSLambdaVPCAccessExecutionRole", "/service-role/", "Provides minimum permissions for a Lambda "
                  "function to execute while accessing a resource within a VPC - create, describe, delete network "
                  "interfaces and write permissions to CloudWatch Logs.",
                  _doc(_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                               "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                               "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
                               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]))),
    ManagedPolicy("AWSLambdaRole", "/service-role/", "Default policy for AWS Lambda service role.",
                  _doc(_allow("lambda:InvokeFunction"))),
    ManagedPolicy("CloudWatchLogsFullAccess", "/", "Provides full access to CloudWatch Logs",
                  _doc(_allow(["logs:*", "cloudwatch:GenerateQuery"]))),
    ManagedPolicy("CloudWatchLogsReadOnlyAccess", "/", "Provides read only access to CloudWatch Logs",
                  _doc(_allow(["logs:Describe*", "logs:Get*", "logs:List*", "logs:StartQuery", "logs:StopQuery",
                               "logs:TestMetricFilter", "logs:FilterLogEvents", "logs:StartLiveTail",
                               "logs:StopLiveTail", "cloudwatch:GenerateQuery"]))),
    ManagedPolicy("AmazonSSMManagedInstanceCore", "/", "The policy for Amazon EC2 Role to enable AWS Systems "
                  "Manager service core functionality.",
                  _doc(_allow(["ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance",
                               "ssm:GetDocument", "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter",
                               "ssm:GetParameters", "ssm:ListAssociations", "ssm:ListInstanceAssociations",
                               "ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
                               "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus",
                               "ssm:UpdateInstanceInformation"]),
                       _allow(["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                               "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"]),
                       _allow(["ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage",
                               "ec2messages:FailMessage", "ec2messages:GetEndpoint", "ec2messages:GetMessages",
                               "ec2messages:SendReply"]))),
)

BY_ARN: dict[str, ManagedPolicy] = {policy.arn: policy for policy in POLICIES}

