"""Evaluation order within one account (IAM User Guide: policy evaluation logic, boundaries, session
policies, NotPrincipal, resource-based policies). Each case states the documented expected decision."""

from __future__ import annotations

import pytest

from tests.unit.iam._helpers import (ACCOUNT, ALLOW, DENY, IMPLICIT, ROLE, ROOT, SESSION, USER, decide, identity,
                                     request, resource_policy, stmt)
from runtime.iam.policy import RequestContext, evaluate, explain

BUCKET = "arn:aws:s3:::reports"
OBJECT = "arn:aws:s3:::reports/q1.csv"
OTHER_USER = f"arn:aws:iam::{ACCOUNT}:user/mallory"


def session(principal: str = SESSION, role: str = ROLE, **extra) -> dict:
    return {"principal": principal, "keys": {"aws:PrincipalArn": role}, **extra}


# ------------------------------------------------------------------ identity policies alone

IDENTITY_CASES = [
    ("no policy: implicit deny", [], "s3:GetObject", OBJECT, IMPLICIT),
    ("allow matches", [[stmt(action="s3:GetObject", resource=OBJECT)]], "s3:GetObject", OBJECT, ALLOW),
    ("allow other action", [[stmt(action="s3:PutObject")]], "s3:GetObject", OBJECT, IMPLICIT),
    ("allow other resource", [[stmt(action="s3:*", resource=BUCKET)]], "s3:GetObject", OBJECT, IMPLICIT),
    ("request action any case", [[stmt(action="s3:GetObject")]], "S3:getobject", OBJECT, ALLOW),
    ("deny beats allow, same policy", [[stmt(), stmt("Deny", action="s3:GetObject")]], "s3:GetObject", OBJECT,
     DENY),
    ("deny in a group policy beats allow in user policy", [[stmt()], [stmt("Deny", action="s3:*")]],
     "s3:GetObject", OBJECT, DENY),
    ("deny elsewhere leaves this allow", [[stmt()], [stmt("Deny", action="s3:PutObject")]], "s3:GetObject",
     OBJECT, ALLOW),
    ("deny with unmet condition does not apply",
     [[stmt(), stmt("Deny", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})]], "s3:GetObject",
     OBJECT, ALLOW),
    ("ec2:Describe* allows describe", [[stmt(action="ec2:Describe*")]], "ec2:DescribeInstances", "*", ALLOW),
    ("ec2:Describe* does not allow create", [[stmt(action="ec2:Describe*")]], "ec2:RunInstances", "*", IMPLICIT),
    ("Allow NotAction: everything but IAM", [[stmt(action=None, NotAction="iam:*")]], "s3:GetObject", OBJECT,
     ALLOW),
    ("Allow NotAction: IAM stays implicit", [[stmt(action=None, NotAction="iam:*")]], "iam:CreateUser", "*",
     IMPLICIT),
    ("Deny NotAction: deny all but IAM", [[stmt(), stmt("Deny", action=None, NotAction="iam:*")]],
     "ec2:RunInstances", "*", DENY),
    ("Deny NotAction: listed action passes", [[stmt(), stmt("Deny", action=None, NotAction="iam:*")]],
     "iam:ListUsers", "*", ALLOW),
    ("Allow NotResource: outside the list", [[stmt(action="s3:*", resource=None,
                                                   NotResource="arn:aws:s3:::secret*")]],
     "s3:GetObject", OBJECT, ALLOW),
    ("Allow NotResource: inside the list", [[stmt(action="s3:*", resource=None,
                                                  NotResource="arn:aws:s3:::secret*")]],
     "s3:GetObject", "arn:aws:s3:::secret/x", IMPLICIT),
    ("Deny NotResource: deny everything but one bucket",
     [[stmt(), stmt("Deny", action="s3:*", resource=None, NotResource=[BUCKET, BUCKET + "/*"])]],
     "s3:GetObject", "arn:aws:s3:::other/x", DENY),
    ("Deny NotResource: the bucket passes",
     [[stmt(), stmt("Deny", action="s3:*", resource=None, NotResource=[BUCKET, BUCKET + "/*"])]],
     "s3:GetObject", OBJECT, ALLOW),
    ("NotAction + NotResource together", [[stmt(action=None, resource=None, NotAction="s3:Delete*",
                                                NotResource=BUCKET)]], "s3:DeleteObject", OBJECT, IMPLICIT),
    ("Allow * * allows anything", [[stmt()]], "lambda:InvokeFunction",
     "arn:aws:lambda:us-east-1:111122223333:function:f", ALLOW),
    ("resource-less action needs Resource *",
     [[stmt(action="ec2:DescribeInstances", resource="arn:aws:ec2:*:*:instance/*")]], "ec2:DescribeInstances",
     "*", IMPLICIT),
]


def _clean(statement: dict) -> dict:
    return {k: v for k, v in statement.items() if v is not None}


@pytest.mark.parametrize(("name", "policies", "action", "resource", "expected"), IDENTITY_CASES,
                         ids=[case[0] for case in IDENTITY_CASES])
def test_identity_policies(name, policies, action, resource, expected):
    parsed = [identity(*[_clean(s) for s in statements]) for statements in policies]
    assert decide(parsed, action, resource) is expected


# ------------------------------------------------------------------ documented global-key guards

GUARDS = [
    ("deny without TLS", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, DENY),
    ("TLS passes", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, ALLOW),
    ("deny outside corporate range", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
     {"aws:SourceIp": "198.51.100.1"}, DENY),
    ("inside corporate range", {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}},
     {"aws:SourceIp": "2001:db8::7"}, ALLOW),
    ("no source IP (service call): NotIpAddress denies", {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
     {}, DENY),
    ("deny other regions", {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
     {"aws:RequestedRegion": "ap-south-1"}, DENY),
    ("allowed region", {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
     {"aws:RequestedRegion": "eu-west-1"}, ALLOW),
    ("deny after expiry", {"DateGreaterThan": {"aws:CurrentTime": "2026-06-30T00:00:00Z"}},
     {"aws:CurrentTime": "2026-11-28T10:00:00Z"}, DENY),
    ("deny unless principal is the admin role", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}},
     {}, DENY),
]


@pytest.mark.parametrize(("name", "condition", "keys", "expected"), GUARDS, ids=[g[0] for g in GUARDS])
def test_deny_guards(name, condition, keys, expected):
    policies = [identity(stmt()), identity(stmt("Deny", Condition=condition))]
    assert decide(policies, "s3:GetObject", OBJECT, keys=keys) is expected


# ------------------------------------------------------------------ root

def test_root_is_always_allowed():
    deny_all = identity(stmt("Deny"))
    ctx = RequestContext(ROOT, ACCOUNT, "iam:DeleteUser", ("*",), {}, is_root=True)
    assert evaluate(ctx, [deny_all], permissions_boundary=identity(stmt("Deny"))) is ALLOW


# ------------------------------------------------------------------ resource-based policies (same account)

def bucket(effect: str, principal, action="s3:GetObject", resource=OBJECT, **extra) -> dict:
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


RESOURCE_CASES = [
    # (name, identity statements, resource statements, caller, boundary statements, session statements, expected)
    ("bucket policy names the user: allowed without identity policy", [], [bucket("Allow", {"AWS": USER})], {},
     None, None, ALLOW),
    ("bucket policy names another user", [], [bucket("Allow", {"AWS": OTHER_USER})], {}, None, None, IMPLICIT),
    ("public bucket policy", [], [bucket("Allow", "*")], {}, None, None, ALLOW),
    ("AWS * is everyone", [], [bucket("Allow", {"AWS": "*"})], {}, None, None, ALLOW),
    ("account principal delegates: identity policy still needed", [], [bucket("Allow", {"AWS": ACCOUNT})], {},
     None, None, IMPLICIT),
    ("account principal + identity allow", [stmt(action="s3:GetObject")], [bucket("Allow", {"AWS": ROOT})], {},
     None, None, ALLOW),
    ("identity allow, no mention in bucket policy", [stmt(action="s3:GetObject")],
     [bucket("Allow", {"AWS": OTHER_USER})], {}, None, None, ALLOW),
    ("bucket policy deny beats identity allow", [stmt()], [bucket("Deny", {"AWS": USER})], {}, None, None, DENY),
    ("bucket deny for the account covers its users", [stmt()], [bucket("Deny", {"AWS": ACCOUNT})], {}, None, None,
     DENY),
    ("bucket deny for another user", [stmt()], [bucket("Deny", {"AWS": OTHER_USER})], {}, None, None, ALLOW),
    ("identity deny beats bucket allow", [stmt("Deny", action="s3:GetObject")], [bucket("Allow", "*")], {},
     None, None, DENY),
    ("bucket allow with unmet condition", [], [bucket("Allow", "*", Condition={
        "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})], {"keys": {"aws:SourceIp": "10.0.0.1"}}, None, None,
     IMPLICIT),
    ("bucket allow with met condition", [], [bucket("Allow", "*", Condition={
        "IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})], {"keys": {"aws:SourceIp": "192.0.2.9"}}, None, None,
     ALLOW),
    ("role ARN in bucket policy covers its sessions", [], [bucket("Allow", {"AWS": ROLE})], session(), None,
     None, ALLOW),
    ("session ARN in bucket policy", [], [bucket("Allow", {"AWS": SESSION})], session(), None, None, ALLOW),
    ("other session of the role is not the named session", [], [bucket("Allow", {"AWS": SESSION})],
     session(principal=SESSION.replace("/s1", "/s2")), None, None, IMPLICIT),
    # permissions boundaries
    ("boundary: identity allow outside boundary", [stmt(action="s3:*")], [], {}, [stmt(action="ec2:*")], None,
     IMPLICIT),
    ("boundary: inside both", [stmt(action="s3:*")], [], {}, [stmt(action="s3:Get*")], None, ALLOW),
    ("boundary grants nothing by itself", [], [], {}, [stmt()], None, IMPLICIT),
    ("boundary explicit deny", [stmt()], [], {}, [stmt(), stmt("Deny", action="s3:GetObject")], None, DENY),
    ("boundary does not limit a bucket grant to the user ARN", [], [bucket("Allow", {"AWS": USER})], {},
     [stmt(action="ec2:*")], None, ALLOW),
    ("boundary limits a bucket grant to the role ARN", [], [bucket("Allow", {"AWS": ROLE})], session(),
     [stmt(action="ec2:*")], None, IMPLICIT),
    ("boundary does not limit a bucket grant to the session ARN", [], [bucket("Allow", {"AWS": SESSION})],
     session(), [stmt(action="ec2:*")], None, ALLOW),
    ("role ARN grant inside the boundary", [], [bucket("Allow", {"AWS": ROLE})], session(),
     [stmt(action="s3:*")], None, ALLOW),
    # session policies
    ("session policy narrows the role", [stmt(action="s3:*")], [], session(), None, [stmt(action="s3:Get*")],
     ALLOW),
    ("session policy excludes the action", [stmt(action="s3:*")], [], session(), None,
     [stmt(action="s3:List*")], IMPLICIT),
    ("session policy cannot grant beyond the role", [stmt(action="ec2:*")], [], session(), None,
     [stmt(action="s3:*")], IMPLICIT),
    ("session policy deny", [stmt()], [], session(), None, [stmt(), stmt("Deny", action="s3:GetObject")], DENY),
    ("session policy limits a grant to the role ARN", [], [bucket("Allow", {"AWS": ROLE})], session(), None,
     [stmt(action="ec2:*")], IMPLICIT),
    ("session policy does not limit a grant to the session ARN", [], [bucket("Allow", {"AWS": SESSION})],
     session(), None, [stmt(action="ec2:*")], ALLOW),
    # NotPrincipal
    ("Deny NotPrincipal: user and account listed are exempt", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [USER, ROOT]})], {}, None, None, ALLOW),
    ("Deny NotPrincipal: user without its account is still denied", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [USER]})], {}, None, None, DENY),
    ("Deny NotPrincipal: other users denied", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [OTHER_USER, ROOT]})], {}, None, None, DENY),
    ("Deny NotPrincipal: session needs session, role and account listed", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [SESSION, ROLE, ROOT]})], session(), None, None, ALLOW),
    ("Deny NotPrincipal: role and account without session", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [ROLE, ROOT]})], session(), None, None, DENY),
    ("Deny NotPrincipal always denies a principal with a boundary", [stmt()],
     [bucket("Deny", None, NotPrincipal={"AWS": [USER, ROOT]})], {}, [stmt()], None, DENY),
    ("Allow NotPrincipal grants to the unlisted", [],
     [bucket("Allow", None, NotPrincipal={"AWS": [OTHER_USER]})], {}, None, None, ALLOW),
]


@pytest.mark.parametrize(("name", "ident", "res", "caller", "boundary", "sessions", "expected"), RESOURCE_CASES,
                         ids=[case[0] for case in RESOURCE_CASES])
def test_with_resource_boundary_session(name, ident, res, caller, boundary, sessions, expected):
    res = [{k: v for k, v in s.items() if v is not None} for s in res]
    kwargs = dict(caller)
    if res:
        kwargs["resource_policy"] = resource_policy(*res)
    if boundary is not None:
        kwargs["permissions_boundary"] = identity(*boundary)
    if sessions is not None:
        kwargs["session_policies"] = [identity(*sessions)]
    policies = [identity(*ident)] if ident else []
    assert decide(policies, "s3:GetObject", OBJECT, **kwargs) is expected


def test_empty_session_policy_list_does_not_restrict():
    assert decide([identity(stmt())], "s3:GetObject", OBJECT, session_policies=[]) is ALLOW


# ------------------------------------------------------------------ service principals (Lambda resource policy)

LAMBDA = "arn:aws:lambda:us-east-1:111122223333:function:thumbs"
S3_INVOKE = {"Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
             "Action": "lambda:InvokeFunction", "Resource": LAMBDA,
             "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"},
                           "StringEquals": {"AWS:SourceAccount": ACCOUNT}}}


@pytest.mark.parametrize(("principal", "keys", "expected"), [
    ("s3.amazonaws.com", {"aws:SourceArn": "arn:aws:s3:::uploads", "aws:SourceAccount": ACCOUNT}, ALLOW),
    ("s3.amazonaws.com", {"aws:SourceArn": "arn:aws:s3:::other", "aws:SourceAccount": ACCOUNT}, IMPLICIT),
    ("s3.amazonaws.com", {"aws:SourceArn": "arn:aws:s3:::uploads"}, IMPLICIT),
    ("sns.amazonaws.com", {"aws:SourceArn": "arn:aws:s3:::uploads", "aws:SourceAccount": ACCOUNT}, IMPLICIT),
    (USER, {}, IMPLICIT),
])
def test_service_principal(principal, keys, expected):
    ctx = RequestContext(principal, ACCOUNT, "lambda:InvokeFunction", (LAMBDA,), keys)
    assert evaluate(ctx, [], resource_policy=resource_policy(S3_INVOKE)) is expected


# ------------------------------------------------------------------ several resources in one call

def test_every_resource_must_be_allowed():
    policy = identity(stmt(action="ec2:RunInstances", resource="arn:aws:ec2:*:*:instance/*"))
    resources = ("arn:aws:ec2:us-east-1:111122223333:instance/*", "arn:aws:ec2:us-east-1::image/ami-1")
    ctx = RequestContext(USER, ACCOUNT, "ec2:RunInstances", resources, {})
    assert evaluate(ctx, [policy]) is IMPLICIT
    widened = identity(stmt(action="ec2:RunInstances", resource=["arn:aws:ec2:*:*:instance/*",
                                                                 "arn:aws:ec2:*::image/*"]))
    assert evaluate(ctx, [widened]) is ALLOW


def test_explicit_deny_on_any_resource_wins():
    policies = [identity(stmt(), stmt("Deny", resource="arn:aws:ec2:*::image/*"))]
    resources = ("arn:aws:ec2:us-east-1:111122223333:instance/*", "arn:aws:ec2:us-east-1::image/ami-1")
    assert evaluate(RequestContext(USER, ACCOUNT, "ec2:RunInstances", resources, {}), policies) is DENY


def test_no_resources_means_star():
    policy = identity(stmt(action="ec2:DescribeVpcs"))
    assert evaluate(RequestContext(USER, ACCOUNT, "ec2:DescribeVpcs", (), {}), [policy]) is ALLOW


def test_request_helper_defaults():
    ctx = request("s3:GetObject")
    assert ctx.keys["aws:username"] == "alice" and ctx.resources == ("*",)


# ------------------------------------------------------------------ what the AccessDenied text names

@pytest.mark.parametrize(("policies", "extra", "decision", "reason"), [
    ([], {}, IMPLICIT, "because no identity-based policy allows the s3:GetObject action"),
    ([stmt("Deny")], {}, DENY, "with an explicit deny in an identity-based policy"),
    ([stmt()], {"resource_policy": [bucket("Deny", "*")]}, DENY, "with an explicit deny in a resource-based policy"),
    ([stmt()], {"permissions_boundary": [stmt(action="ec2:*")]}, IMPLICIT,
     "because no permissions boundary allows the s3:GetObject action"),
    ([stmt()], {"permissions_boundary": [stmt("Deny")]}, DENY, "with an explicit deny in a permissions boundary"),
    ([stmt()], {"session_policies": [stmt(action="ec2:*")]}, IMPLICIT,
     "because no session policy allows the s3:GetObject action"),
    ([stmt()], {"session_policies": [stmt("Deny")]}, DENY, "with an explicit deny in a session policy"),
    ([stmt()], {}, ALLOW, ""),
])
def test_explain_names_the_deciding_policy_type(policies, extra, decision, reason):
    kwargs = {}
    if "resource_policy" in extra:
        kwargs["resource_policy"] = resource_policy(*extra["resource_policy"])
    if "permissions_boundary" in extra:
        kwargs["permissions_boundary"] = identity(*extra["permissions_boundary"])
    if "session_policies" in extra:
        kwargs["session_policies"] = [identity(*extra["session_policies"])]
    verdict = explain(request("s3:GetObject", OBJECT), [identity(*policies)] if policies else [], **kwargs)
    assert (verdict.decision, verdict.reason("s3:GetObject")) == (decision, reason)


def test_explain_message_names_the_denied_resource():
    policy = identity(stmt(action="ec2:RunInstances", resource="arn:aws:ec2:*:*:instance/*"))
    image = "arn:aws:ec2:us-east-1::image/ami-1"
    ctx = RequestContext(USER, ACCOUNT, "ec2:RunInstances", ("arn:aws:ec2:us-east-1:111122223333:instance/*", image),
                         {})
    verdict = explain(ctx, [policy])
    assert not verdict.allowed
    assert verdict.message(USER, "ec2:RunInstances") == (
        f"User: {USER} is not authorized to perform: ec2:RunInstances on resource: {image} "
        "because no identity-based policy allows the ec2:RunInstances action")


# ------------------------------------------------------------------ examples from the IAM User Guide

MFA_GUARD = stmt("Deny", action=None, NotAction=["iam:ChangePassword", "sts:GetSessionToken"],
                 Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
ABAC = stmt(action=["ec2:StartInstances", "ec2:StopInstances"], resource="arn:aws:ec2:*:*:instance/*",
            Condition={"StringEquals": {"aws:ResourceTag/Project": "${aws:PrincipalTag/Project}"}})
TAG_ON_CREATE = stmt(action="ec2:CreateTags", Condition={
    "ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]},
    "StringEqualsIfExists": {"aws:RequestTag/environment": ["preprod", "production"]}})
INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"

GUIDE_EXAMPLES = [
    ("MFA guard: long-term keys carry no MFA key -> denied", [stmt(), MFA_GUARD], "ec2:RunInstances", "*", {}, DENY),
    ("MFA guard: MFA present", [stmt(), MFA_GUARD], "ec2:RunInstances", "*", {"aws:MultiFactorAuthPresent": True},
     ALLOW),
    ("MFA guard: MFA explicitly false", [stmt(), MFA_GUARD], "s3:GetObject", OBJECT,
     {"aws:MultiFactorAuthPresent": False}, DENY),
    ("MFA guard: changing one's password stays possible", [stmt(), MFA_GUARD], "iam:ChangePassword", "*", {},
     ALLOW),
    ("MFA age under an hour", [stmt(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})],
     "s3:GetObject", OBJECT, {"aws:MultiFactorAuthAge": 120}, ALLOW),
    ("MFA age too old", [stmt(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})],
     "s3:GetObject", OBJECT, {"aws:MultiFactorAuthAge": 7200}, IMPLICIT),
    ("MFA age absent", [stmt(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})],
     "s3:GetObject", OBJECT, {}, IMPLICIT),
    ("ABAC: tags match", [ABAC], "ec2:StartInstances", INSTANCE,
     {"aws:ResourceTag/Project": "blue", "aws:PrincipalTag/Project": "blue"}, ALLOW),
    ("ABAC: tags differ", [ABAC], "ec2:StopInstances", INSTANCE,
     {"aws:ResourceTag/Project": "red", "aws:PrincipalTag/Project": "blue"}, IMPLICIT),
    ("ABAC: principal untagged", [ABAC], "ec2:StartInstances", INSTANCE, {"aws:ResourceTag/Project": "blue"},
     IMPLICIT),
    ("tag keys all allowed", [TAG_ON_CREATE], "ec2:CreateTags", "*",
     {"aws:TagKeys": ["environment"], "aws:RequestTag/environment": "preprod"}, ALLOW),
    ("a tag key outside the list", [TAG_ON_CREATE], "ec2:CreateTags", "*",
     {"aws:TagKeys": ["environment", "owner"], "aws:RequestTag/environment": "preprod"}, IMPLICIT),
    ("tag value outside the list", [TAG_ON_CREATE], "ec2:CreateTags", "*",
     {"aws:TagKeys": ["environment"], "aws:RequestTag/environment": "dev"}, IMPLICIT),
    ("no tags at all: ForAllValues is vacuously true", [TAG_ON_CREATE], "ec2:CreateTags", "*", {}, ALLOW),
    ("region allow-list", [stmt(Condition={"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}})],
     "ec2:DescribeInstances", "*", {"aws:RequestedRegion": "eu-west-1"}, ALLOW),
    ("region allow-list, other region", [stmt(Condition={"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}})],
     "ec2:DescribeInstances", "*", {"aws:RequestedRegion": "us-east-1"}, IMPLICIT),
    ("only the admin role may delete",
     [stmt(), stmt("Deny", action="s3:DeleteObject", Condition={
         "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}})],
     "s3:DeleteObject", OBJECT, {}, DENY),
    ("the admin role deletes",
     [stmt(), stmt("Deny", action="s3:DeleteObject", Condition={
         "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}})],
     "s3:DeleteObject", OBJECT, {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/admin"}, ALLOW),
    ("home folder listing", [stmt(action="s3:ListBucket", resource=BUCKET,
                                  Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}})],
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/alice/photos/"}, ALLOW),
    ("someone else's home folder", [stmt(action="s3:ListBucket", resource=BUCKET, Condition={
        "StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}})],
     "s3:ListBucket", BUCKET, {"s3:prefix": "home/bob/"}, IMPLICIT),
]


@pytest.mark.parametrize(("name", "statements", "action", "resource", "keys", "expected"), GUIDE_EXAMPLES,
                         ids=[example[0] for example in GUIDE_EXAMPLES])
def test_user_guide_examples(name, statements, action, resource, keys, expected):
    policy = identity(*[_clean(s) for s in statements])
    assert decide([policy], action, resource, keys=keys) is expected
