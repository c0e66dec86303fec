"""Grammar validation: what IAM answers with MalformedPolicyDocument, and what it accepts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.iam.policy import SIZE_QUOTAS, MalformedPolicy, parse_policy, policy_size

SYNTAX = "Syntax errors in policy."
OK = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
TRUST = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
BUCKET = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def _doc(*statements, **top) -> str:
    body = {"Version": "2012-10-17", "Statement": list(statements)}
    body.update(top)
    return json.dumps(body)


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("identity", "{not json", SYNTAX),
    ("identity", "[]", SYNTAX),
    ("identity", "[" * 100000 + "]" * 100000, SYNTAX),  # nesting deep enough to exhaust the parser's stack
    ("identity", "", SYNTAX),
    ("identity", b'{"Statement": []}', SYNTAX),  # only text is a policy document
    ("identity", json.dumps({"Version": "2012-10-17"}), SYNTAX),  # no Statement
    ("identity", _doc(), SYNTAX),  # empty Statement list
    ("identity", _doc(OK, Version="2012-10-18"), SYNTAX),
    ("identity", _doc(OK, Version=20121017), SYNTAX),
    ("identity", _doc(OK, Extra=1), SYNTAX),  # unknown top-level element
    ("identity", _doc({**OK, "Effect": "Permit"}), SYNTAX),
    ("identity", _doc({**OK, "Effect": "allow"}), SYNTAX),  # Effect is case-sensitive
    ("identity", _doc({k: v for k, v in OK.items() if k != "Effect"}), SYNTAX),
    ("identity", _doc({**OK, "Actions": "s3:*"}), SYNTAX),  # unknown statement element
    ("identity", _doc({**OK, "NotAction": "s3:Put*"}), SYNTAX),  # Action and NotAction
    ("identity", _doc({**OK, "NotResource": "*"}), SYNTAX),
    ("identity", _doc({**OK, "Action": ["s3:GetObject", 3]}), SYNTAX),
    ("identity", _doc({**OK, "Sid": 1}), SYNTAX),
    ("identity", _doc({**OK, "Condition": {"StringEqualz": {"a:b": "c"}}}), SYNTAX),  # unknown operator
    ("identity", _doc({**OK, "Condition": {"NullIfExists": {"a:b": "true"}}}), SYNTAX),
    ("identity", _doc({**OK, "Condition": {"ForSomeValues:StringEquals": {"a:b": "c"}}}), SYNTAX),
    ("identity", _doc({**OK, "Condition": {"StringEquals": "a:b"}}), SYNTAX),
    ("identity", _doc({**OK, "Condition": {"StringEquals": {"a:b": {"x": 1}}}}), SYNTAX),
    ("identity", _doc({**OK, "Condition": {"StringEquals": {"a:b": []}}}), SYNTAX),
    ("identity", _doc({k: v for k, v in OK.items() if k != "Action"}), "Policy statement must contain actions."),
    ("identity", _doc({**OK, "Action": []}), "Policy statement must contain actions."),
    ("identity", _doc({k: v for k, v in OK.items() if k != "Resource"}),
     "Policy statement must contain resources."),
    ("identity", _doc({**OK, "Resource": []}), "Policy statement must contain resources."),
    ("identity", _doc({**OK, "Principal": "*"}), "Policy document should not specify a principal."),
    ("identity", _doc({**OK, "Action": "GetObject"}),
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."),
    ("identity", _doc({**OK, "Action": "s3:Get:Object"}), "Actions/Condition can contain only one colon."),
    ("identity", _doc({**OK, "Action": "s 3:GetObject"}), "Vendor s 3 is not valid"),
    ("identity", _doc({**OK, "Resource": "vpc-123"}), 'Resource vpc-123 must be in ARN format or "*".'),
    ("identity", _doc({**OK, "Resource": "arn:aws:s3"}), 'Resource arn:aws:s3 must be in ARN format or "*".'),
    ("identity", _doc({**OK, "Sid": "a"}, {**OK, "Sid": "a"}),
     "Statement IDs (SID) in a single policy must be unique."),
    ("identity", _doc({**OK, "Sid": "has-dash"}),
     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
     "[0-9A-Za-z]*"),
    ("trust", _doc({**TRUST, "Resource": "*"}), "Has prohibited field Resource."),
    ("trust", _doc({**TRUST, "Action": "s3:GetObject"}), "AssumeRole policy may only specify STS AssumeRole actions."),
    ("trust", _doc({**TRUST, "Action": "*"}), "AssumeRole policy may only specify STS AssumeRole actions."),
    ("trust", _doc({**TRUST, "Action": ["sts:AssumeRole", "sts:*"]}),
     "AssumeRole policy may only specify STS AssumeRole actions."),
    ("trust", _doc({k: v for k, v in TRUST.items() if k != "Principal"}), "Missing required field Principal."),
    ("trust", _doc({**TRUST, "Principal": {"AWS": "arn:aws:iam::111122223333:user/*"}}),
     'Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:user/*"'),
    ("trust", _doc({**TRUST, "Principal": {"AWS": "bob"}}), 'Invalid principal in policy: "AWS":"bob"'),
    ("trust", _doc({**TRUST, "Principal": {"AWS": "arn:aws:iam::111122223333:group/devs"}}),
     'Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:group/devs"'),  # groups are not principals
    ("trust", _doc({**TRUST, "Principal": {"AWS": "12345"}}), 'Invalid principal in policy: "AWS":"12345"'),
    ("trust", _doc({**TRUST, "Principal": {"Robot": "x"}}), 'Invalid principal in policy: "Robot"'),
    ("trust", _doc({**TRUST, "Principal": "everyone"}), 'Invalid principal in policy: "everyone"'),
    ("resource", _doc({k: v for k, v in BUCKET.items() if k != "Principal"}), "Missing required field Principal."),
    ("resource", _doc({k: v for k, v in BUCKET.items() if k != "Resource"}),
     "Policy statement must contain resources."),
    ("resource", _doc({**BUCKET, "Principal": "*", "NotPrincipal": {"AWS": "111122223333"}}), SYNTAX),
])
def test_rejected(kind, text, message):
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(text, kind=kind)
    assert str(caught.value) == message


@pytest.mark.parametrize(("kind", "text"), [
    ("identity", _doc(OK)),
    ("identity", json.dumps({"Version": "2012-10-17", "Statement": OK})),  # a single statement object
    ("identity", json.dumps({"Statement": [OK]})),  # no Version: accepted, 2008 semantics
    ("identity", _doc(OK, Version="2008-10-17")),
    ("identity", _doc({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:*"})),
    ("identity", _doc({**OK, "Sid": "Stmt1"}, {**OK, "Sid": ""}, {**OK, "Sid": ""})),  # empty Sids may repeat
    ("identity", _doc({**OK, "Condition": {"ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["a*"]}}})),
    ("identity", _doc({**OK, "Condition": {"Bool": {"aws:SecureTransport": False}, "NumericLessThan":
                                            {"s3:max-keys": 10}}})),
    ("identity", _doc({**OK, "Condition": {"Whatever": {}}})),  # empty operator blocks are ignored
    ("identity", _doc({**OK, "Resource": "arn:aws:s3:::home/${aws:username}/*"})),
    ("identity", _doc(OK, Id="my-policy")),
    ("trust", _doc(TRUST)),
    ("trust", _doc({**TRUST, "Action": ["sts:AssumeRole", "sts:TagSession", "STS:SetSourceIdentity"]})),
    ("trust", _doc({**TRUST, "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/r",
                                                   "arn:aws:sts::111122223333:assumed-role/r/s", "*"]}})),
    ("trust", _doc({**TRUST, "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                    "Action": "sts:AssumeRoleWithWebIdentity"})),
    ("resource", _doc(BUCKET, Id="bucket-policy")),
    ("resource", _doc({**BUCKET, "Sid": "lambda-allow-s3"})),  # resource policies allow any Sid text
    ("resource", _doc({**BUCKET, "Principal": {"Service": "s3.amazonaws.com"}})),
    ("resource", _doc({**BUCKET, "Principal": {"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}})),
])
def test_accepted(kind, text):
    policy = parse_policy(text, kind=kind)
    assert policy.statements


def test_parsed_shape():
    policy = parse_policy(_doc({**OK, "Sid": "A", "Action": ["s3:GetObject", "s3:PutObject"]}), kind="identity")
    statement = policy.statements[0]
    assert (policy.version, statement.sid, statement.allow, statement.actions) == (
        "2012-10-17", "A", True, ("s3:GetObject", "s3:PutObject"))
    assert policy.variables_enabled


def test_account_id_principal_is_normalised_to_root_arn():
    policy = parse_policy(_doc({**TRUST, "Principal": {"AWS": "111122223333"}}), kind="trust")
    assert policy.statements[0].principals.entries == {("AWS", "arn:aws:iam::111122223333:root")}


def test_size_excludes_whitespace():
    text = _doc(OK)
    pretty = json.dumps(json.loads(text), indent=4)
    assert policy_size(text) == policy_size(pretty) == len("".join(text.split()))
    assert SIZE_QUOTAS["managed"] == 6144 and SIZE_QUOTAS["trust"] == 2048


@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_managed_policies_need_the_current_version(version):
    body = {"Statement": [OK]} | ({"Version": version} if version else {})
    parse_policy(json.dumps(body), kind="identity")  # inline: accepted
    with pytest.raises(MalformedPolicy, match="^Policy document must be version 2012-10-17 or greater.$"):
        parse_policy(json.dumps(body), kind="identity", require_current_version=True)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                     st.sampled_from(["Allow", "Deny", "*", "s3:*", "arn:aws:s3:::b", "2012-10-17", "StringLike"]))
_KEYS = st.one_of(st.text(max_size=6), st.sampled_from(sorted({"Version", "Statement", "Effect", "Action",
                                                               "Resource", "Principal", "Condition", "AWS", "Sid",
                                                               "NotAction", "StringEquals", "aws:SourceIp"})))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from(["identity", "resource", "trust"]))
def test_any_document_parses_or_is_malformed(value, kind):
    try:
        policy = parse_policy(json.dumps(value), kind=kind)
    except MalformedPolicy as error:
        assert str(error)  # a message for the MalformedPolicyDocument answer, never another exception
    else:
        assert policy.statements

