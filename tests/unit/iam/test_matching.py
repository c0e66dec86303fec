"""Action, Resource and policy-variable matching, table-driven (IAM User Guide: Action, Resource, Variables)."""

from __future__ import annotations

import pytest

from tests.unit.iam._helpers import ALLOW, ACCOUNT, IMPLICIT, decide, identity, request, stmt
from runtime.iam import matching
from runtime.iam.policy import evaluate


@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("*", "ec2:RunInstances", True),
    ("ec2:*", "ec2:RunInstances", True),
    ("ec2:*", "s3:GetObject", False),
    ("ec2:Describe*", "ec2:DescribeInstances", True),
    ("ec2:Describe*", "ec2:RunInstances", False),
    ("EC2:describeinstances", "ec2:DescribeInstances", True),  # case-insensitive
    ("ec2:describe*", "EC2:DESCRIBEVPCS", True),
    ("iam:*AccessKey*", "iam:CreateAccessKey", True),
    ("iam:*AccessKey*", "iam:ListAccessKeys", True),
    ("s3:Get?bject", "s3:GetObject", True),
    ("s3:Get?bject", "s3:GetObjectAcl", False),
    ("s3:GetObject", "s3:GetObjectAcl", False),  # whole-string match
    ("*:Get*", "s3:GetObject", True),
])
def test_action(pattern, action, expected):
    assert matching.matches(pattern, action, "action") is expected


@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("*", "arn:aws:s3:::b", True),
    ("*", "*", True),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/key", False),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c.jpg", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1/2/test/3/o.jpg", True),  # documented example
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket//test/object.jpg", True),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1-test/object.jpg", False),
    ("arn:aws:s3:::example?bucket/*", "arn:aws:s3:::example1bucket/k", True),
    ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k", False),  # case-sensitive
    ("arn:aws:iam::111122223333:user/Bob", "arn:aws:iam::111122223333:user/bob", False),
    ("arn:aws:iam::111122223333:user/accounting/*", "arn:aws:iam::111122223333:user/accounting/ann", True),
    ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", True),
    ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:111122223333:volume/vol-1", False),
    ("arn:aws:ec2:us-*-1:*:instance/*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", True),
    ("arn:aws:ec2:u*1:*:*", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", True),
    ("arn:aws:ec2:*:*:image/*", "arn:aws:ec2:us-east-1::image/ami-1", True),  # empty account segment
    ("arn:aws:ec2:us-east-1::image/*", "arn:aws:ec2:us-east-1::image/ami-1", True),
    ("arn:aws:lambda:*:*:function:my-fn", "arn:aws:lambda:us-east-1:1:function:my-fn:prod", False),
    ("arn:aws:lambda:*:*:function:my-fn*", "arn:aws:lambda:us-east-1:1:function:my-fn:prod", True),
    ("arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:1:function:f", True),
    ("arn:aws:s3:*", "arn:aws:s3:::bucket/key", True),  # a segment-final * runs past colons
    ("arn:aws:s3:::*", "arn:aws:s3:::bucket/key", True),
    ("arn:aws:s?:::b", "arn:aws:s3:::b", True),
    ("arn:aws:ec2:us-east-1:111122223333:instance/*", "*", False),  # "*" requests need Resource "*"
])
def test_resource(pattern, resource, expected):
    assert matching.matches(pattern, resource, "resource") is expected


def test_resource_star_inside_a_segment_does_not_cross_colons():
    assert matching.matches("arn:aws:ec2:us*east-1:1:x", "arn:aws:ec2:us:east-1:1:x", "resource") is False


USER_HOME = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}


@pytest.mark.parametrize(("version", "resource", "expected"), [
    ("2012-10-17", "arn:aws:s3:::home/alice/notes.txt", ALLOW),
    ("2012-10-17", "arn:aws:s3:::home/bob/notes.txt", IMPLICIT),
    ("2008-10-17", "arn:aws:s3:::home/alice/notes.txt", IMPLICIT),  # variables are literal text in 2008
    ("2008-10-17", "arn:aws:s3:::home/${aws:username}/notes.txt", ALLOW),
    (None, "arn:aws:s3:::home/alice/notes.txt", IMPLICIT),  # missing Version means 2008
])
def test_username_variable_by_version(version, resource, expected):
    assert decide([identity(USER_HOME, version=version)], "s3:GetObject", resource) is expected


@pytest.mark.parametrize(("pattern", "resource", "keys", "expected"), [
    ("arn:aws:s3:::b/${aws:userid}/*", "arn:aws:s3:::b/AIDAEXAMPLE/x", {"aws:userid": "AIDAEXAMPLE"}, ALLOW),
    ("arn:aws:s3:::b/${aws:PrincipalArn}", f"arn:aws:s3:::b/arn:aws:iam::{ACCOUNT}:user/alice", {}, ALLOW),
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", {}, ALLOW),  # ${*} is a literal asterisk
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/anything", {}, IMPLICIT),
    ("arn:aws:s3:::b/${?}", "arn:aws:s3:::b/?", {}, ALLOW),
    ("arn:aws:s3:::b/${?}", "arn:aws:s3:::b/x", {}, IMPLICIT),
    ("arn:aws:s3:::b/${$}x", "arn:aws:s3:::b/$x", {}, ALLOW),
    ("arn:aws:s3:::b/${aws:PrincipalTag/team}/*", "arn:aws:s3:::b/red/x", {"aws:PrincipalTag/team": "red"}, ALLOW),
    ("arn:aws:s3:::b/${aws:PrincipalTag/team}/*", "arn:aws:s3:::b/red/x", {}, IMPLICIT),  # unresolvable
    ("arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*", "arn:aws:s3:::b/shared/x", {}, ALLOW),  # default
    ("arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*", "arn:aws:s3:::b/red/x",
     {"aws:PrincipalTag/team": "red"}, ALLOW),
    ("arn:aws:s3:::b/${svc:Multi}/*", "arn:aws:s3:::b/a/x", {"svc:Multi": ["a", "b"]}, IMPLICIT),  # multi-valued
    ("arn:aws:s3:::b/${AWS:USERNAME}/*", "arn:aws:s3:::b/alice/x", {}, ALLOW),  # key names any case
])
def test_variables_in_resource(pattern, resource, keys, expected):
    policy = identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern})
    assert evaluate(request("s3:GetObject", resource, keys=keys), [policy]) is expected


def test_variable_value_is_literal_not_a_wildcard():
    policy = identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${svc:Name}"})
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/zzz", keys={"svc:Name": "*"}), [policy]) is IMPLICIT
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::b/*", keys={"svc:Name": "*"}), [policy]) is ALLOW


@pytest.mark.parametrize(("condition", "keys", "expected"), [
    ({"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}, {"s3:prefix": "home/alice/docs"}, ALLOW),
    ({"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}, {"s3:prefix": "home/bob/docs"}, IMPLICIT),
    ({"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}, {"aws:ResourceTag/owner": "alice"}, ALLOW),
    ({"ArnLike": {"svc:Arn": "arn:aws:iam::*:user/${aws:username}"}},
     {"svc:Arn": f"arn:aws:iam::{ACCOUNT}:user/alice"}, ALLOW),
    # an unresolvable variable makes the condition false, also for negated operators
    ({"StringNotEquals": {"svc:k": "${aws:PrincipalTag/none}"}}, {"svc:k": "x"}, IMPLICIT),
    # Numeric operators take no variables: the text is compared as a (non-)number
    ({"NumericEquals": {"svc:n": "${svc:m}"}}, {"svc:n": "1", "svc:m": "1"}, IMPLICIT),
])
def test_variables_in_conditions(condition, keys, expected):
    policy = identity(stmt(Condition=condition))
    assert evaluate(request("svc:Do", keys=keys), [policy]) is expected
