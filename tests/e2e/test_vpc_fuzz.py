"""Random input to every VPC operation never yields a 5xx: each answer is a result or a well-formed AWS error.

Inputs are generated from botocore's own input shapes (client-side validation off), with id-looking strings,
CIDR-looking strings and boundary integers mixed in, against a server of its own.
"""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.api.dispatch import Dispatcher
from runtime.services import vpc
from tests.server import start_server

SKIP = {"CreateDefaultVpc"}  # would replace the default VPC the other examples rely on; tested in test_vpc.py


def vpc_operations() -> list[str]:
    dispatcher = Dispatcher()
    for provider in vpc.providers(None, "us-east-1", ("us-east-1a",)):
        dispatcher.register("ec2", provider)
    return [op for op in dispatcher.operations("ec2") if op not in SKIP]


STRINGS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["vpc-0123456789abcdef0", "subnet-0123456789abcdef0", "sg-0123456789abcdef0", "igw-1",
                     "10.0.0.0/16", "0.0.0.0/0", "10.0.0.0/33", "::/0", "-1", "tcp", "icmp", "allow", "deny",
                     "default", "172.31.0.0/20", "198.51.100.10", "", "*"]))
INTS = st.sampled_from([-2, -1, 0, 1, 22, 65535, 65536, 32766, 32767, 2 ** 31])


def value_for(shape, depth: int = 0):
    if shape.type_name == "structure":
        if depth > 3:
            return st.just({})
        members = {name: value_for(member, depth + 1) for name, member in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if shape.type_name == "list":
        return st.lists(value_for(shape.member, depth + 1), max_size=2)
    if shape.type_name in ("integer", "long"):
        return INTS
    if shape.type_name == "boolean":
        return st.booleans()
    if shape.type_name == "timestamp":
        return st.just("2026-01-01T00:00:00Z")
    if shape.type_name == "blob":
        return st.binary(max_size=10)
    if shape.enum:
        return st.sampled_from(shape.enum)
    return STRINGS


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("vpc-fuzz") / "data")
    yield running.client("ec2", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    running.stop()


@pytest.mark.parametrize("operation", vpc_operations())
def test_random_input_is_answered_without_server_error(fuzz_client, operation):
    model = fuzz_client.meta.service_model.operation_model(operation)
    method = getattr(fuzz_client, fuzz_client.meta.method_to_api_mapping and
                     {v: k for k, v in fuzz_client.meta.method_to_api_mapping.items()}[operation])

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(value_for(model.input_shape))
    def run(params):
        params.pop("DryRun", None)
        try:
            method(**params)
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status < 500, (operation, params, exc.response["Error"])
    run()
