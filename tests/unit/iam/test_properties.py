"""Properties of the decision function over generated policies and requests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.iam._helpers import ACCOUNT, ALLOW, DENY, USER, identity, resource_policy
from runtime.iam.policy import RequestContext, evaluate

ACTIONS = ["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "ec2:DescribeInstances", "iam:CreateUser"]
ACTION_PATTERNS = ACTIONS + ["*", "s3:*", "ec2:Describe*", "*:*Object", "iam:?reateUser"]
RESOURCES = ["arn:aws:s3:::a/1", "arn:aws:s3:::b/2", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", "*"]
RESOURCE_PATTERNS = RESOURCES + ["arn:aws:s3:::a/*", "arn:aws:s3:::*", "arn:aws:ec2:*:*:instance/*"]
CONDITIONS = [None, {"Bool": {"aws:SecureTransport": "true"}},
              {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
              {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"Null": {"aws:SourceIp": "true"}}]



def one_or_list(items):
    return st.one_of(st.sampled_from(items), st.lists(st.sampled_from(items), min_size=1, max_size=3))


@st.composite
def statements(draw, effect=None):
    body = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    body[draw(st.sampled_from(["Action", "Action", "Action", "NotAction"]))] = draw(one_or_list(ACTION_PATTERNS))
    body[draw(st.sampled_from(["Resource", "Resource", "Resource", "NotResource"]))] = draw(
        one_or_list(RESOURCE_PATTERNS))
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        body["Condition"] = condition
    return body


policies = st.lists(st.lists(statements(), min_size=1, max_size=4).map(lambda s: identity(*s)), max_size=3)
contexts = st.builds(
    lambda action, resource, keys: RequestContext(USER, ACCOUNT, action, (resource,), keys),
    st.sampled_from(ACTIONS), st.sampled_from(RESOURCES),
    st.fixed_dictionaries({}, optional={"aws:SecureTransport": st.booleans(),
                                        "aws:RequestedRegion": st.sampled_from(["us-east-1", "eu-west-1"]),
                                        "aws:SourceIp": st.sampled_from(["10.1.2.3", "192.0.2.1"])}))


@settings(max_examples=100, deadline=None)
@given(policies, statements(effect="Deny"), contexts)
def test_adding_a_deny_never_allows_more(existing, deny, ctx):
    before = evaluate(ctx, existing)
    after = evaluate(ctx, [*existing, identity(deny)])
    assert not (after is ALLOW and before is not ALLOW)
    assert not (before is DENY and after is not DENY)


@settings(max_examples=100, deadline=None)
@given(policies, contexts)
def test_allow_star_allows_everything_not_explicitly_denied(existing, ctx):
    decision = evaluate(ctx, [*existing, identity({"Effect": "Allow", "Action": "*", "Resource": "*"})])
    assert decision is (DENY if evaluate(ctx, existing) is DENY else ALLOW)


@settings(max_examples=100, deadline=None)
@given(policies, st.lists(statements(), min_size=1, max_size=3), contexts)
def test_a_boundary_only_ever_removes_permissions(existing, boundary, ctx):
    if evaluate(ctx, existing, permissions_boundary=identity(*boundary)) is ALLOW:
        assert evaluate(ctx, existing) is ALLOW


@settings(max_examples=100, deadline=None)
@given(policies, st.lists(statements(), min_size=1, max_size=3), contexts)
def test_a_resource_policy_for_the_caller_only_adds_or_denies(existing, statements_, ctx):
    with_principal = [{**s, "Principal": {"AWS": USER}} for s in statements_]
    combined = evaluate(ctx, existing, resource_policy=resource_policy(*with_principal))
    alone = evaluate(ctx, existing)
    if alone is ALLOW:
        assert combined in (ALLOW, DENY)
    if alone is DENY:
        assert combined is DENY


@settings(max_examples=100, deadline=None)
@given(policies, st.lists(statements(), min_size=1, max_size=3), contexts)
def test_session_policies_only_ever_remove_permissions(existing, session, ctx):
    if evaluate(ctx, existing, session_policies=[identity(*session)]) is ALLOW:
        assert evaluate(ctx, existing) is ALLOW
