"""Role trust policies (who may assume a role) and the SimulatePrincipalPolicy view of decisions."""

from __future__ import annotations

import json

import pytest

from tests.unit.iam._helpers import ACCOUNT, ALLOW, DENY, IMPLICIT, ROLE, SESSION, USER, identity, request, stmt
from runtime.iam.policy import (context_from_entries, evaluate_assume_role, parse_policy, principal_allowed_by_trust,
                                simulate)

OTHER_ACCOUNT_USER = "arn:aws:iam::444455556666:user/eve"


def trust(*statements: dict) -> object:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), kind="trust")


def assume(principal, action="sts:AssumeRole", **extra) -> dict:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


@pytest.mark.parametrize(("statements", "caller", "action", "keys", "expected"), [
    ([assume({"Service": "ec2.amazonaws.com"})], {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole", None, True),
    ([assume({"Service": "ec2.amazonaws.com"})], "ec2.amazonaws.com", "sts:AssumeRole", None, True),
    ([assume({"Service": "ec2.amazonaws.com"})], {"Service": "lambda.amazonaws.com"}, "sts:AssumeRole", None,
     False),
    ([assume({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]})], {"Service": "lambda.amazonaws.com"},
     "sts:AssumeRole", None, True),
    ([assume({"Service": "ec2.amazonaws.com"})], USER, "sts:AssumeRole", None, False),
    ([assume({"AWS": ACCOUNT})], USER, "sts:AssumeRole", None, True),  # account trust: any principal of it
    ([assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})], SESSION, "sts:AssumeRole", None, True),
    ([assume({"AWS": ACCOUNT})], OTHER_ACCOUNT_USER, "sts:AssumeRole", None, False),
    ([assume({"AWS": USER})], USER, "sts:AssumeRole", None, True),
    ([assume({"AWS": USER})], f"arn:aws:iam::{ACCOUNT}:user/bob", "sts:AssumeRole", None, False),
    ([assume({"AWS": ROLE})], SESSION, "sts:AssumeRole", {"aws:PrincipalArn": ROLE}, True),  # role chaining
    ([assume({"AWS": ROLE})], SESSION, "sts:AssumeRole", None, False),
    ([assume({"AWS": "*"})], OTHER_ACCOUNT_USER, "sts:AssumeRole", None, True),
    ([assume({"AWS": USER})], {"AWS": USER}, "sts:AssumeRole", None, True),
    ([assume({"AWS": ACCOUNT})], {"AWS": ACCOUNT}, "sts:AssumeRole", None, True),  # the root user by account id
    ([assume({"AWS": USER})], "arn:broken", "sts:AssumeRole", None, False),
    ([assume({"Federated": "cognito-identity.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity")],
     {"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity", None, True),
    ([assume({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}, action="sts:AssumeRoleWithSAML")],
     {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}, "sts:AssumeRoleWithSAML", None, True),
    ([assume({"Service": "cognito-identity.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity")],
     {"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity", None, False),
    ([assume({"Service": "EC2.amazonaws.com"})], "ec2.amazonaws.com", "sts:AssumeRole", None, True),
    ([assume("*")], {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole", None, True),
    ([assume({"AWS": "*"})], {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole", None, False),
    ([assume({"AWS": USER}, action="sts:AssumeRoleWithWebIdentity")], USER, "sts:AssumeRole", None, False),
    ([assume({"AWS": USER}, action="STS:assumerole")], USER, "sts:AssumeRole", None, True),
    ([assume({"AWS": USER}, action=["sts:AssumeRole", "sts:TagSession"])], USER, "sts:TagSession", None, True),
    ([assume({"AWS": ACCOUNT}), {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}],
     USER, "sts:AssumeRole", None, False),
    ([assume({"AWS": ACCOUNT}, Condition={"StringEquals": {"sts:ExternalId": "42"}})], USER, "sts:AssumeRole",
     {"sts:ExternalId": "42"}, True),
    ([assume({"AWS": ACCOUNT}, Condition={"StringEquals": {"sts:ExternalId": "42"}})], USER, "sts:AssumeRole",
     {"sts:ExternalId": "41"}, False),
    ([assume({"AWS": ACCOUNT}, Condition={"StringEquals": {"sts:ExternalId": "42"}})], USER, "sts:AssumeRole",
     None, False),
    ([assume({"AWS": ACCOUNT}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})], USER,
     "sts:AssumeRole", {"aws:MultiFactorAuthPresent": True}, True),
])
def test_trust(statements, caller, action, keys, expected):
    assert principal_allowed_by_trust(trust(*statements), caller, action, keys) is expected


def test_simulate_reports_decisions_statements_and_missing_keys():
    read = identity({"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}).with_source(
        "ReadOnly", "user")
    guard = identity({"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"},
                     {"Sid": "Tls", "Effect": "Deny", "Action": "*", "Resource": "*",
                      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}).with_source("Guard", "group")
    results = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["s3:GetObject", "s3:DeleteObject",
                                                                        "s3:PutObject"],
                       resources=["arn:aws:s3:::b/k"], identity_policies=[read, guard])
    by_action = {r.action: r for r in results}
    assert [r.eval_decision for r in results] == ["allowed", "explicitDeny", "implicitDeny"]
    assert [(m.source_policy_id, m.source_policy_type, m.sid) for m in by_action["s3:GetObject"].matched_statements] \
        == [("ReadOnly", "user", "Read")]
    assert [m.sid for m in by_action["s3:DeleteObject"].matched_statements] == ["NoDelete"]
    assert by_action["s3:PutObject"].matched_statements == ()
    assert by_action["s3:PutObject"].missing_context_values == ("aws:SecureTransport",)


def test_simulate_every_action_against_every_resource():
    policy = identity(stmt(action="s3:GetObject", resource="arn:aws:s3:::a/*"))
    results = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["s3:GetObject"],
                       resources=["arn:aws:s3:::a/1", "arn:aws:s3:::b/1"], identity_policies=[policy])
    assert [(r.resource, r.decision) for r in results] == [("arn:aws:s3:::a/1", ALLOW), ("arn:aws:s3:::b/1", IMPLICIT)]


def test_simulate_with_boundary_and_root():
    results = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["iam:CreateUser"],
                       identity_policies=[identity(stmt())], permissions_boundary=identity(stmt(action="s3:*")))
    assert results[0].decision is IMPLICIT
    root = simulate(principal_arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT, actions=["iam:CreateUser"],
                    identity_policies=[identity(stmt("Deny"))], is_root=True)
    assert root[0].decision is ALLOW
    denied = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["iam:CreateUser"],
                      identity_policies=[identity(stmt("Deny"))])
    assert denied[0].decision is DENY


def test_simulate_positions_and_boundary_detail():
    text = ('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow", "Action": "s3:*", '
            '"Resource": "*"},\n    {\n      "Sid": "NoDelete",\n      "Effect": "Deny",\n'
            '      "Action": "s3:Delete*",\n      "Resource": "*"\n    }\n  ]\n}')
    policy = parse_policy(text, kind="identity").with_source("p", "user")
    boundary = identity(stmt(action="s3:Get*"))
    get, delete = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["s3:GetObject", "s3:DeleteObject"],
                           identity_policies=[policy], permissions_boundary=boundary)
    assert get.matched_statements[0].span == (4, 5, 4, 58)
    assert delete.matched_statements[0].span == (5, 5, 10, 5)
    assert (get.allowed_by_permissions_boundary, delete.allowed_by_permissions_boundary) == (True, False)
    assert (get.decision, delete.decision) == (ALLOW, DENY)


def test_context_entries():
    keys = context_from_entries([
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"], "ContextKeyType": "ip"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["a", "b"], "ContextKeyType": "stringList"},
        {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
    ])
    assert keys == {"aws:SourceIp": "10.0.0.1", "aws:TagKeys": ["a", "b"], "aws:SecureTransport": "true"}
    policy = identity(stmt(Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]},
                                      "Bool": {"aws:SecureTransport": "true"},
                                      "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    result, = simulate(principal_arn=USER, account_id=ACCOUNT, actions=["ec2:CreateTags"],
                       identity_policies=[policy], keys=keys)
    assert result.decision is ALLOW and result.missing_context_values == ()


TARGET = f"arn:aws:iam::{ACCOUNT}:role/target"
CAN_ASSUME = stmt(action="sts:AssumeRole", resource=TARGET)


@pytest.mark.parametrize(("name", "trusted", "policies", "boundary", "caller", "expected"), [
    ("user named in trust: no identity permission needed", {"AWS": USER}, [], None, {}, ALLOW),
    ("account named in trust: identity permission needed", {"AWS": ACCOUNT}, [], None, {}, IMPLICIT),
    ("account named + identity allows", {"AWS": ACCOUNT}, [CAN_ASSUME], None, {}, ALLOW),
    ("not trusted even with identity permission", {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"}, [CAN_ASSUME],
     None, {}, IMPLICIT),
    ("identity deny wins over trust", {"AWS": USER}, [stmt("Deny", action="sts:AssumeRole")], None, {}, DENY),
    ("named user still limited by its boundary", {"AWS": USER}, [], [stmt(action="s3:*")], {}, IMPLICIT),
    ("named user inside its boundary", {"AWS": USER}, [], [stmt(action="sts:*")], {}, ALLOW),
    ("role chaining: trust names the caller's role", {"AWS": ROLE}, [], None,
     {"principal": SESSION, "keys": {"aws:PrincipalArn": ROLE}}, ALLOW),
    ("root may not assume roles", {"AWS": ACCOUNT}, [CAN_ASSUME], None, {"is_root": True}, IMPLICIT),
])
def test_evaluate_assume_role(name, trusted, policies, boundary, caller, expected):
    ctx = request("sts:AssumeRole", TARGET, **caller)
    decision = evaluate_assume_role(ctx, trust(assume(trusted)), [identity(*policies)] if policies else [],
                                    permissions_boundary=identity(*boundary) if boundary else None)
    assert decision is expected

