"""The AWS managed policies are valid managed-policy documents with stable, well-formed ids."""

from __future__ import annotations

import pytest

from runtime.iam.policy import Decision, RequestContext, evaluate, parse_policy
from runtime.services._shared.ids import is_id
from runtime.services.iam import managed


@pytest.mark.parametrize("policy", managed.POLICIES, ids=lambda p: p.name)
def test_documents_parse_as_managed_policies(policy):
    parse_policy(policy.document, kind="identity", require_current_version=True)
    assert is_id("policy", policy.policy_id)
    assert policy.arn == f"arn:aws:iam::aws:policy{policy.path}{policy.name}"


def test_ids_are_unique_and_stable():
    ids = [p.policy_id for p in managed.POLICIES]
    assert len(set(ids)) == len(ids)
    assert managed.BY_ARN["arn:aws:iam::aws:policy/AdministratorAccess"].policy_id == "ANPA34SN6YCLNSZWWPS7E"


@pytest.mark.parametrize("name,action,expected", [
    ("AdministratorAccess", "iam:CreateUser", Decision.ALLOW),
    ("PowerUserAccess", "ec2:RunInstances", Decision.ALLOW),
    ("PowerUserAccess", "iam:CreateUser", Decision.IMPLICIT_DENY),
    ("PowerUserAccess", "iam:ListRoles", Decision.ALLOW),
    ("ReadOnlyAccess", "ec2:DescribeInstances", Decision.ALLOW),
    ("ReadOnlyAccess", "ec2:RunInstances", Decision.IMPLICIT_DENY),
    ("AmazonS3ReadOnlyAccess", "s3:GetObject", Decision.ALLOW),
    ("AmazonS3ReadOnlyAccess", "s3:PutObject", Decision.IMPLICIT_DENY),
    ("service-role/AWSLambdaBasicExecutionRole", "logs:PutLogEvents", Decision.ALLOW),
    ("service-role/AWSLambdaBasicExecutionRole", "s3:GetObject", Decision.IMPLICIT_DENY),
    ("service-role/AWSLambdaRole", "lambda:InvokeFunction", Decision.ALLOW),
])
def test_documents_mean_what_their_names_say(name, action, expected):
    policy = parse_policy(managed.BY_ARN[f"arn:aws:iam::aws:policy/{name}"].document, kind="identity")
    ctx = RequestContext("arn:aws:iam::111122223333:user/u", "111122223333", action, ("*",))
    assert evaluate(ctx, [policy]) is expected
