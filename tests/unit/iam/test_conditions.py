"""Every condition operator and qualifier, table-driven, through parse + evaluate.

Each row: operator, policy values for the key, the request's value (MISSING = key absent), expected truth of
the condition. Semantics per the IAM User Guide's condition operator and multi-value pages.
"""

from __future__ import annotations

import base64

import pytest

from tests.unit.iam._helpers import ALLOW, identity, request, stmt
from runtime.iam.policy import evaluate

MISSING = object()
KEY = "svc:Key"

CASES = [
    # --- String
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),  # values OR
    ("StringEquals", "abc", MISSING, False),
    ("StringEquals", "a*", "abc", False),  # no wildcards in Equals
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", "abc", "abc", False),
    ("StringNotEquals", ["x", "y"], "x", False),  # values NOR
    ("StringNotEquals", ["x", "y"], "z", True),
    ("StringNotEquals", "abc", MISSING, True),  # negated + absent -> true
    ("StringEqualsIgnoreCase", "AbC", "aBc", True),
    ("StringEqualsIgnoreCase", "abc", "abd", False),
    ("StringNotEqualsIgnoreCase", "AbC", "abc", False),
    ("StringNotEqualsIgnoreCase", "AbC", "abd", True),
    ("StringNotEqualsIgnoreCase", "AbC", MISSING, True),
    ("StringLike", "home/*", "home/alice/x", True),
    ("StringLike", "home/?", "home/a", True),
    ("StringLike", "home/?", "home/ab", False),
    ("StringLike", "Home/*", "home/a", False),  # case-sensitive
    ("StringLike", "*", "", True),
    ("StringLike", "a*c", "a:b/c", True),  # * crosses any separator in strings
    ("StringLike", "home/*", MISSING, False),
    ("StringNotLike", "home/*", "tmp/x", True),
    ("StringNotLike", ["home/*", "tmp/*"], "tmp/x", False),
    ("StringNotLike", "home/*", MISSING, True),
    # --- Numeric
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "10.0", True),
    ("NumericEquals", "10", 10, True),
    ("NumericEquals", "10", "11", False),
    ("NumericEquals", "10", "ten", False),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericNotEquals", "10", MISSING, True),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "11", False),
    ("NumericGreaterThan", "10", "11", True),
    ("NumericGreaterThan", "10", "10", False),
    ("NumericGreaterThanEquals", "10", "10", True),
    ("NumericGreaterThanEquals", "10", "-3", False),
    ("NumericGreaterThan", "1.5", "1.75", True),
    ("NumericLessThan", "10", MISSING, False),
    # --- Date (ISO 8601 and epoch seconds on either side)
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", True),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "2019-06-01T12:00:00Z", False),
    ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
    ("DateLessThan", "2020-01-01", "2020-01-01T00:00:01Z", False),
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # epoch in the request
    ("DateEquals", "1577836800", "2020-01-01T00:00:00Z", True),  # epoch in the policy
    ("DateEquals", "2020-01-01T01:00:00+01:00", "2020-01-01T00:00:00Z", True),  # offsets
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z", True),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z", False),
    ("DateNotEquals", "2020-01-01T00:00:00Z", MISSING, True),
    ("DateLessThanEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "2020-01-01T00:00:00Z", "2019-01-01T00:00:00Z", False),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "not a date", False),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", MISSING, False),
    # --- Bool
    ("Bool", "true", True, True),
    ("Bool", "true", "true", True),
    ("Bool", "true", False, False),
    ("Bool", True, True, True),  # JSON boolean in the policy
    ("Bool", "false", "FALSE", True),
    ("Bool", "true", MISSING, False),
    # --- Binary
    ("BinaryEquals", base64.b64encode(b"\x00\x01").decode(), base64.b64encode(b"\x00\x01").decode(), True),
    ("BinaryEquals", base64.b64encode(b"\x00\x01").decode(), base64.b64encode(b"\x00\x02").decode(), False),
    ("BinaryEquals", "QUJD", "not base64!", False),
    # --- IP addresses (v4 and v6)
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address is a /32
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8:1::5", True),
    ("IpAddress", "2001:db8::/32", "2001:db9::1", False),
    ("IpAddress", "10.0.0.0/8", "2001:db8::1", False),  # family mismatch never matches
    ("IpAddress", "10.0.0.0/8", MISSING, False),
    ("NotIpAddress", "10.0.0.0/8", "192.0.2.1", True),
    ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", False),
    ("NotIpAddress", ["10.0.0.0/8", "192.0.2.0/24"], "192.0.2.1", False),
    ("NotIpAddress", "10.0.0.0/8", MISSING, True),
    # --- ARN (component-wise; Equals and Like both take wildcards)
    ("ArnEquals", "arn:aws:sns:us-east-1:111122223333:topic", "arn:aws:sns:us-east-1:111122223333:topic", True),
    ("ArnEquals", "arn:aws:sns:*:111122223333:topic", "arn:aws:sns:eu-west-1:111122223333:topic", True),
    ("ArnLike", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", True),
    ("ArnLike", "arn:aws:lambda:*:*:function:*", "arn:aws:lambda:us-east-1:1:function:f:prod", True),
    ("ArnLike", "arn:aws:*:us-east-1:*:*", "arn:aws:sqs:us-east-1:1:q", True),
    ("ArnLike", "arn:aws:iam::*", "arn:aws:iam::111122223333:role/x", False),  # 4 components only
    ("ArnLike", "arn:aws:iam::1*:role/x", "arn:aws:iam::111122223333:role/x", True),
    ("ArnLike", "arn:aws:iam::1?:role/x", "arn:aws:iam::111122223333:role/x", False),
    ("ArnLike", "arn:aws:s3:::bucket/*", "not-an-arn", False),
    ("ArnLike", "arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/x", False),  # case-sensitive
    ("ArnNotEquals", "arn:aws:iam::111122223333:role/admin", "arn:aws:iam::111122223333:role/dev", True),
    ("ArnNotEquals", "arn:aws:iam::111122223333:role/admin", "arn:aws:iam::111122223333:role/admin", False),
    ("ArnNotLike", "arn:aws:iam::*:role/admin*", "arn:aws:iam::111122223333:role/admin-1", False),
    ("ArnNotLike", "arn:aws:iam::*:role/admin*", MISSING, True),
    # --- Null
    ("Null", "true", MISSING, True),
    ("Null", "true", "x", False),
    ("Null", "false", "x", True),
    ("Null", "false", MISSING, False),
    ("Null", "true", [], True),  # an empty multi-valued key is absent
    # --- ...IfExists
    ("StringEqualsIfExists", "abc", MISSING, True),
    ("StringEqualsIfExists", "abc", "abd", False),
    ("StringEqualsIfExists", "abc", "abc", True),
    ("NumericLessThanIfExists", "5", MISSING, True),
    ("NumericLessThanIfExists", "5", "6", False),
    ("BoolIfExists", "true", MISSING, True),
    ("BoolIfExists", "true", "false", False),
    ("IpAddressIfExists", "10.0.0.0/8", MISSING, True),
    ("ArnLikeIfExists", "arn:aws:s3:::b", MISSING, True),
    ("DateLessThanIfExists", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z", False),
    ("StringNotEqualsIfExists", "abc", "abc", False),
    # --- ForAnyValue / ForAllValues on multi-valued keys
    ("ForAnyValue:StringEquals", ["a", "b"], ["x", "b"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["x", "y"], False),
    ("ForAnyValue:StringEquals", ["a"], MISSING, False),
    ("ForAnyValue:StringEquals", ["a"], [], False),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
    ("ForAllValues:StringEquals", ["a"], MISSING, True),  # vacuous truth
    ("ForAllValues:StringEquals", ["a"], [], True),
    ("ForAllValues:StringLike", "Created*", ["CreatedBy", "CreatedAt"], True),
    ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True),  # b is not a
    ("ForAnyValue:StringNotEquals", ["a"], ["a"], False),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "d"], True),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "a"], False),
    ("ForAllValues:StringNotEquals", ["a"], MISSING, True),
    ("ForAnyValue:StringNotEquals", ["a"], MISSING, False),
    ("ForAnyValue:StringEqualsIfExists", ["a"], MISSING, True),
    ("ForAnyValue:NumericGreaterThan", "5", ["1", "9"], True),
    ("ForAllValues:NumericGreaterThan", "5", ["1", "9"], False),
    ("ForAnyValue:IpAddress", "10.0.0.0/8", ["192.0.2.1", "10.9.9.9"], True),
    ("ForAllValues:ArnLike", "arn:aws:iam::*:role/*", ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"], True),
    ("ForAnyValue:StringEqualsIgnoreCase", "ADMIN", ["dev", "Admin"], True),
    # --- plain operator on a multi-valued key: any value (negated: none)
    ("StringEquals", "b", ["a", "b"], True),
    ("StringNotEquals", "b", ["a", "b"], False),
    ("StringNotEquals", "c", ["a", "b"], True),
]


def _truth(operator: str, values, context) -> bool:
    policy = identity(stmt(Condition={operator: {KEY: values}}))
    keys = {} if context is MISSING else {KEY: context}
    return evaluate(request("svc:Do", keys=keys), [policy]) is ALLOW


@pytest.mark.parametrize(("operator", "values", "context", "expected"), CASES)
def test_operator(operator, values, context, expected):
    assert _truth(operator, values, context) is expected


def test_condition_key_names_are_case_insensitive():
    policy = identity(stmt(Condition={"IpAddress": {"AWS:SOURCEIP": "10.0.0.0/8"}}))
    assert evaluate(request("svc:Do", keys={"aws:SourceIp": "10.1.1.1"}), [policy]) is ALLOW


@pytest.mark.parametrize(("block", "keys", "expected"), [
    # operators AND
    ({"StringEquals": {"a:k": "1"}, "Bool": {"a:b": "true"}}, {"a:k": "1", "a:b": True}, True),
    ({"StringEquals": {"a:k": "1"}, "Bool": {"a:b": "true"}}, {"a:k": "1", "a:b": False}, False),
    # keys under one operator AND
    ({"StringEquals": {"a:k": "1", "a:j": "2"}}, {"a:k": "1", "a:j": "2"}, True),
    ({"StringEquals": {"a:k": "1", "a:j": "2"}}, {"a:k": "1", "a:j": "3"}, False),
    # the documented S3 example: department tag one of two values AND principal ARN like
    ({"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr"]},
      "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/*"}},
     {"aws:PrincipalTag/department": "hr"}, True),
    ({}, {}, True),  # an empty block is no condition
])
def test_condition_block_logic(block, keys, expected):
    policy = identity(stmt(Condition=block))
    assert (evaluate(request("svc:Do", keys=keys), [policy]) is ALLOW) is expected


def test_current_time_window():
    window = {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
              "DateLessThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}}
    policy = identity(stmt(Condition=window))
    inside = request("svc:Do", keys={"aws:CurrentTime": "2026-11-28T10:00:00Z"})
    outside = request("svc:Do", keys={"aws:CurrentTime": "2027-01-02T00:00:00Z"})
    assert evaluate(inside, [policy]) is ALLOW
    assert evaluate(outside, [policy]) is not ALLOW
