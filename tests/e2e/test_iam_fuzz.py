"""Bad input to IAM and STS never yields a 500: random names, paths, ARNs and policy documents, through boto3
with client-side validation off, always get a well-formed 4xx AWS error (or succeed)."""

from __future__ import annotations

import json

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.api import specs
from runtime.services.iam.account import AccountProvider
from runtime.services.iam.policies import PoliciesProvider
from runtime.services.iam.roles import RolesProvider
from runtime.services.iam.simulate import SimulationProvider
from runtime.services.iam.users import UsersProvider
from runtime.services.sts.provider import StsProvider


def _implemented(*providers) -> list[str]:
    return sorted(spec.name for provider in providers for member in vars(provider).values()
                  if (spec := getattr(member, "__aws_operation__", None)) is not None)


OPERATIONS = {"iam": _implemented(UsersProvider, RolesProvider, PoliciesProvider, SimulationProvider,
                                    AccountProvider),
              "sts": _implemented(StsProvider)}
# XML 1.0 cannot carry control characters; see the report of issue 3 for the wire layer's handling of them.
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=70)

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text("abc:*/ ", max_size=12),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abcSV", max_size=10), inner,
                                                                                       max_size=3), max_leaves=12)
statement_parts = st.fixed_dictionaries({}, optional={
    "Effect": st.sampled_from(["Allow", "Deny", "allow", 7]), "Action": st.sampled_from(["*", "s3:*", "x", [], ["a:b"]]),
    "NotAction": st.just("s3:Get*"), "Resource": st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:bad", ["*"]]),
    "Principal": st.sampled_from(["*", {"AWS": "123"}, {"AWS": "arn:aws:iam::111122223333:user/u"},
                                  {"Service": "x"}, {"Nope": "y"}, {"AWS": "*x*"}]),
    "Condition": st.sampled_from([{}, {"StringEquals": {"aws:username": "a"}}, {"Bogus": {"k": "v"}},
                                  {"IpAddress": {"aws:SourceIp": "300.1.1.1/99"}}, {"StringLike": "flat"}]),
    "Sid": st.sampled_from(["ok1", "not ok", ""])})
documents = st.one_of(
    text,
    json_values.map(json.dumps),
    st.lists(statement_parts, min_size=0, max_size=3).map(
        lambda s: json.dumps({"Version": "2012-10-17", "Statement": s})),
    statement_parts.map(lambda s: json.dumps({"Statement": s})),
)
strings = st.one_of(text, st.sampled_from([
    "arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::111122223333:role/r", "arn:aws:iam:::user/",
    "arn:aws:iam::123:role//x", "arn:", "/", "//", "/a/", "v1", "v0", "vX", "AKIA" + "A" * 16, "ASIA", "*"]))


def _value(shape, draw, depth=0):
    kind = shape.type_name
    if kind == "string":
        if shape.name in ("policyDocumentType", "sessionPolicyDocumentType"):
            return draw(documents)
        return draw(strings)
    if kind in ("integer", "long"):
        return draw(st.integers(-5, 200000))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "timestamp":
        return "2020-01-01T00:00:00Z"
    if kind == "list" and depth < 3:
        items = [_value(shape.member, draw, depth + 1) for _ in range(draw(st.integers(0, 2)))]
        return [item for item in items if item is not None]
    if kind == "structure" and depth < 3:
        members = {name: _value(member, draw, depth + 1) for name, member in shape.members.items()
                   if name in shape.required_members or draw(st.booleans())}
        return {name: value for name, value in members.items() if value is not None}
    if kind == "map" and depth < 3:
        return {draw(strings): _value(shape.value, draw, depth + 1)}
    return None


@st.composite
def calls(draw):
    service = draw(st.sampled_from(sorted(OPERATIONS)))
    name = draw(st.sampled_from(OPERATIONS[service]))
    operation = specs.service_model(service).operation_model(name)
    params = {}
    if operation.input_shape is not None:
        params = {k: v for k, v in _value(operation.input_shape, draw).items() if v is not None}
    return service, name, params


@pytest.fixture(scope="module")
def iam_user_key(server):
    iam = server.client("iam")
    iam.create_user(UserName="fuzz-admin")
    iam.attach_user_policy(UserName="fuzz-admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    return iam.create_access_key(UserName="fuzz-admin")["AccessKey"]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(call=calls(), as_root=st.booleans())
def test_no_input_makes_iam_or_sts_fail_with_a_5xx(server, iam_user_key, call, as_root):
    service, name, params = call
    credentials = {} if as_root else {"aws_access_key_id": iam_user_key["AccessKeyId"],
                                      "aws_secret_access_key": iam_user_key["SecretAccessKey"]}
    client = server.client(service, config=Config(parameter_validation=False, retries={"max_attempts": 1}),
                           **credentials)
    method = getattr(client, {api: python for python, api in client.meta.method_to_api_mapping.items()}[name])
    try:
        method(**params)
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 500, (name, params, error.response["Error"])

