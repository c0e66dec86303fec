"""Id formats for every prefix Terrarium mints (reference/aws-spec.md §0.2), and ARN building/parsing."""

from __future__ import annotations

import re
import uuid

import pytest

from runtime.services._shared import arns, ids

EC2_EXPECTED = {
    "instance": "i", "image": "ami", "volume": "vol", "snapshot": "snap", "vpc": "vpc", "subnet": "subnet",
    "security-group": "sg", "security-group-rule": "sgr", "internet-gateway": "igw", "route-table": "rtb",
    "route-table-association": "rtbassoc", "network-acl": "acl", "network-acl-association": "aclassoc",
    "network-interface": "eni", "network-interface-attachment": "eni-attach", "elastic-ip": "eipalloc",
    "elastic-ip-association": "eipassoc", "natgateway": "nat", "key-pair": "key", "reservation": "r",
    "dhcp-options": "dopt", "prefix-list": "pl",
}
IAM_EXPECTED = {"user": "AIDA", "role": "AROA", "policy": "ANPA", "group": "AGPA", "instance-profile": "AIPA",
                "public-key": "APKA"}


def test_the_prefix_tables_are_exactly_the_reference_ones():
    assert ids.EC2_PREFIXES == EC2_EXPECTED
    assert ids.IAM_PREFIXES == IAM_EXPECTED


@pytest.mark.parametrize("kind,prefix", sorted(EC2_EXPECTED.items()))
def test_ec2_ids_are_prefix_dash_17_lowercase_hex(kind, prefix):
    made = {ids.new_id(kind) for _ in range(50)}
    assert len(made) == 50
    for value in made:
        assert re.fullmatch(re.escape(prefix) + r"-[0-9a-f]{17}", value), value
        assert ids.is_id(kind, value)


@pytest.mark.parametrize("kind,prefix", sorted(IAM_EXPECTED.items()))
def test_iam_unique_ids_are_21_upper_alnum(kind, prefix):
    made = {ids.new_id(kind) for _ in range(50)}
    assert len(made) == 50
    for value in made:
        assert re.fullmatch(prefix + r"[A-Z0-9]{17}", value) and len(value) == 21, value
        assert ids.is_id(kind, value)


def test_is_id_accepts_legacy_8_hex_and_rejects_malformed_ids():
    assert ids.is_id("instance", "i-1234abcd")
    assert ids.is_id("network-interface-attachment", "eni-attach-0123456789abcdef0")
    for bad in ("i-1234ABCD", "i-123", "vpc-0123456789abcdef0", "i0123456789abcdef0", "i-0123456789abcdef01", ""):
        assert not ids.is_id("instance", bad), bad
    assert not ids.is_id("network-interface", "eni-attach-0123456789abcdef0")
    assert not ids.is_id("user", "AROA" + "A" * 17)
    assert not ids.is_id("user", "AIDA" + "a" * 17)
    with pytest.raises(KeyError):
        ids.is_id("spaceship", "x")


def test_unknown_kinds_have_no_id():
    with pytest.raises(KeyError):
        ids.new_id("spaceship")


def test_access_keys_secrets_and_tokens():
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", ids.new_access_key())
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", ids.new_access_key(temporary=True))
    secret = ids.new_secret_key()
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", secret)
    assert len({ids.new_secret_key() for _ in range(100)}) == 100
    assert re.fullmatch(r"[A-Za-z0-9+/=]{300,}", ids.new_session_token())


def test_request_ids():
    for value in (ids.new_request_id(), ids.new_revision_id()):
        assert uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    assert re.fullmatch(r"[0-9A-F]{16}", ids.new_s3_request_id())
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", ids.new_s3_host_id())


ACCOUNT = "123456789012"


def test_ec2_arns_and_public_images_without_account():
    assert arns.ec2_arn("us-east-1", ACCOUNT, "instance", "i-1") == "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
    assert arns.image_arn("us-east-1", "ami-1") == "arn:aws:ec2:us-east-1::image/ami-1"
    assert arns.snapshot_arn("us-east-1", "snap-1") == "arn:aws:ec2:us-east-1::snapshot/snap-1"


def test_iam_arns_are_global_and_keep_paths():
    assert arns.iam_arn(ACCOUNT, "user", "alice") == "arn:aws:iam::123456789012:user/alice"
    assert arns.iam_arn(ACCOUNT, "role", "r", "/service-role/") == "arn:aws:iam::123456789012:role/service-role/r"
    assert arns.iam_root_arn(ACCOUNT) == "arn:aws:iam::123456789012:root"
    assert (arns.aws_managed_policy_arn("AWSLambdaBasicExecutionRole", "/service-role/")
            == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    with pytest.raises(ValueError):
        arns.iam_arn(ACCOUNT, "user", "alice", "no-slashes")


def test_iam_arns_parse_into_type_path_and_name():
    parsed = arns.parse_iam_arn("arn:aws:iam::123456789012:role/a/b/name")
    assert parsed == arns.IamResource(ACCOUNT, "role", "/a/b/", "name")
    assert arns.parse_iam_arn("arn:aws:iam::123456789012:user/alice") == arns.IamResource(ACCOUNT, "user", "/", "alice")
    assert arns.parse_iam_arn("arn:aws:iam::123456789012:root").resource_type == "root"
    for bad in ("arn:aws:s3:::b", "arn:aws:iam::1:user/", "arn:aws:iam::1:user", "arn:aws:iam:us-east-1:1:user/a"):
        with pytest.raises(ValueError):
            arns.parse_iam_arn(bad)


def test_sts_and_s3_arns():
    assert (arns.assumed_role_arn(ACCOUNT, "deployer", "s1")
            == "arn:aws:sts::123456789012:assumed-role/deployer/s1")
    assert arns.s3_bucket_arn("b") == "arn:aws:s3:::b"
    assert arns.s3_object_arn("b", "dir/k:1") == "arn:aws:s3:::b/dir/k:1"


def test_lambda_function_arns_with_and_without_qualifier():
    plain = arns.lambda_function_arn("us-east-1", ACCOUNT, "f")
    assert plain == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert arns.lambda_function_arn("us-east-1", ACCOUNT, "f", "prod").endswith("function:f:prod")
    assert arns.parse_lambda_function_arn(plain) == arns.LambdaFunction("us-east-1", ACCOUNT, "f", None)
    assert arns.parse_lambda_function_arn(plain + ":$LATEST").qualifier == "$LATEST"
    for bad in ("arn:aws:lambda:us-east-1:1:layer:l", "arn:aws:lambda:us-east-1:1:function:", plain + ":a:b"):
        with pytest.raises(ValueError):
            arns.parse_lambda_function_arn(bad)


def test_log_group_arns():
    assert arns.log_group_arn("us-east-1", ACCOUNT, "/aws/lambda/f") == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f")
    assert arns.log_group_arn("us-east-1", ACCOUNT, "g", wildcard=True).endswith("log-group:g:*")


@pytest.mark.parametrize("text", [
    "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
    "arn:aws:s3:::bucket/key/with:colons",
    "arn:aws:logs:us-east-1:123456789012:log-group:g:*",
    "arn:aws-cn:iam::123456789012:root",
])
def test_parse_arn_round_trips(text):
    assert str(arns.parse_arn(text)) == text


@pytest.mark.parametrize("text", ["", "arn:aws:ec2", "nope:aws:ec2:r:a:res", "arn::ec2:r:a:res", "arn:aws:ec2:r:a:"])
def test_parse_arn_rejects_garbage(text):
    with pytest.raises(ValueError):
        arns.parse_arn(text)
