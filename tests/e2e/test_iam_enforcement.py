"""Every call is authorised: IAM users' keys against their policies, through boto3 against a real server.

Covers the issue 3 enforcement list: no policy denies everything (each service in its own words), attaching a
policy allows, explicit deny beats allow (also through a group), conditions on global keys, policy variables,
permissions boundaries, inactive and deleted keys.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


class User:
    """An IAM user with one access key, and boto3 clients signed with it."""

    def __init__(self, server, name: str, key: dict) -> None:
        self.server = server
        self.name = name
        self.key = key
        self.arn = f"arn:aws:iam::{server.account_id}:user/{name}"

    def client(self, service: str, **overrides):
        return self.server.client(service, aws_access_key_id=self.key["AccessKeyId"],
                                  aws_secret_access_key=self.key["SecretAccessKey"], **overrides)


def new_user(server, *, inline: dict[str, str] | None = None, attached: tuple[str, ...] = ()) -> User:
    iam = server.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    for policy_name, text in (inline or {}).items():
        iam.put_user_policy(UserName=name, PolicyName=policy_name, PolicyDocument=text)
    for arn in attached:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    return User(server, name, iam.create_access_key(UserName=name)["AccessKey"])


def test_user_without_policy_is_denied_in_each_services_words(server):
    user = new_user(server)
    iam_error = error_of(user.client("iam").list_users)
    assert iam_error == ("AccessDenied", 403)
    assert error_of(user.client("ec2").describe_regions) == ("UnauthorizedOperation", 403)
    assert error_of(lambda: user.client("sts").get_session_token(DurationSeconds=900)) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as info:
        user.client("iam").create_user(UserName=unique("x"))
    message = info.value.response["Error"]["Message"]
    assert message.startswith(f"User: {user.arn} is not authorized to perform: iam:CreateUser on resource: "
                              f"arn:aws:iam::{server.account_id}:user/")


def test_caller_identity_is_never_denied(server):
    user = new_user(server, inline={"nothing": document(deny("*"))})
    identity = user.client("sts").get_caller_identity()
    assert identity["Arn"] == user.arn and identity["UserId"].startswith("AIDA")


def test_attaching_a_policy_allows(server):
    user = new_user(server)
    iam = user.client("iam")
    assert error_of(iam.list_roles)[0] == "AccessDenied"
    server.client("iam").attach_user_policy(UserName=user.name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    assert "Roles" in iam.list_roles()
    assert error_of(lambda: iam.create_group(GroupName=unique("g")))[0] == "AccessDenied"


def test_describe_allowed_create_denied(server):
    user = new_user(server, inline={"describe": document(allow("ec2:Describe*"))})
    ec2 = user.client("ec2")
    assert ec2.describe_availability_zones()["AvailabilityZones"]
    assert error_of(lambda: ec2.create_key_pair(KeyName=unique("k"))) == ("UnauthorizedOperation", 403)
    assert error_of(lambda: ec2.create_key_pair(KeyName=unique("k"), DryRun=True)) == ("UnauthorizedOperation", 403)
    assert error_of(lambda: ec2.describe_regions(DryRun=True)) == ("DryRunOperation", 412)


def test_explicit_deny_beats_allow(server):
    user = new_user(server, inline={"deny-users": document(deny("iam:ListUsers"))}, attached=(ADMIN,))
    iam = user.client("iam")
    with pytest.raises(ClientError) as info:
        iam.list_users()
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    assert "with an explicit deny" in info.value.response["Error"]["Message"]
    assert "Roles" in iam.list_roles()


def test_group_policies_apply_and_group_deny_beats_user_allow(server):
    root = server.client("iam")
    readers, blockers = unique("readers"), unique("blockers")
    root.create_group(GroupName=readers)
    root.attach_group_policy(GroupName=readers, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    root.create_group(GroupName=blockers)
    root.put_group_policy(GroupName=blockers, PolicyName="no-zones",
                          PolicyDocument=document(deny("ec2:DescribeAvailabilityZones")))
    user = new_user(server, inline={"all-ec2": document(allow("ec2:*"))})
    ec2 = user.client("ec2")
    root.add_user_to_group(GroupName=readers, UserName=user.name)
    assert ec2.describe_availability_zones()["AvailabilityZones"]
    root.add_user_to_group(GroupName=blockers, UserName=user.name)
    assert error_of(ec2.describe_availability_zones)[0] == "UnauthorizedOperation"
    assert ec2.describe_regions()["Regions"]
    root.remove_user_from_group(GroupName=blockers, UserName=user.name)
    assert ec2.describe_availability_zones()["AvailabilityZones"]

    only_group = new_user(server)
    root.add_user_to_group(GroupName=readers, UserName=only_group.name)
    assert only_group.client("ec2").describe_regions()["Regions"]
    assert error_of(lambda: only_group.client("ec2").create_key_pair(KeyName=unique("k")))[0] == \
        "UnauthorizedOperation"


@pytest.mark.parametrize("cidr,allowed", [("127.0.0.1/32", True), ("10.0.0.0/8", False)])
def test_source_ip_condition(server, cidr, allowed):
    user = new_user(server, inline={"from": document(
        allow("ec2:DescribeRegions", Condition={"IpAddress": {"aws:SourceIp": cidr}}))})
    ec2 = user.client("ec2")
    if allowed:
        assert ec2.describe_regions()["Regions"]
    else:
        assert error_of(ec2.describe_regions) == ("UnauthorizedOperation", 403)


def test_requested_region_condition(server):
    user = new_user(server, inline={"region": document(
        allow("ec2:Describe*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}))})
    assert user.client("ec2").describe_regions()["Regions"]
    assert error_of(user.client("ec2", region_name="eu-west-1").describe_regions)[0] == "UnauthorizedOperation"


def test_secure_transport_and_current_time_conditions(server):
    user = new_user(server, inline={"conditions": document(
        deny("ec2:DescribeRegions", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        allow("ec2:DescribeAvailabilityZones", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
        allow("ec2:DescribeKeyPairs", Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
        allow("ec2:DescribeRegions"))})
    ec2 = user.client("ec2")
    assert error_of(ec2.describe_regions)[0] == "UnauthorizedOperation"  # plain HTTP is not secure transport
    assert ec2.describe_availability_zones()["AvailabilityZones"]
    assert error_of(ec2.describe_key_pairs)[0] == "UnauthorizedOperation"


def test_username_policy_variable(server):
    self_service = document(allow(["iam:GetUser", "iam:ListAccessKeys", "iam:CreateAccessKey"],
                                  f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    alice, bob = new_user(server, inline={"self": self_service}), new_user(server)
    iam = alice.client("iam")
    assert iam.get_user()["User"]["UserName"] == alice.name
    assert iam.get_user(UserName=alice.name)["User"]["Arn"] == alice.arn
    assert len(iam.list_access_keys()["AccessKeyMetadata"]) == 1
    assert error_of(lambda: iam.get_user(UserName=bob.name)) == ("AccessDenied", 403)
    assert error_of(lambda: iam.list_access_keys(UserName=bob.name)) == ("AccessDenied", 403)


def test_userid_and_principal_arn_conditions(server):
    user = new_user(server)
    root = server.client("iam")
    user_id = root.get_user(UserName=user.name)["User"]["UserId"]
    root.put_user_policy(UserName=user.name, PolicyName="ids", PolicyDocument=document(
        allow("ec2:DescribeRegions", Condition={"StringEquals": {"aws:userid": user_id}}),
        allow("ec2:DescribeAvailabilityZones", Condition={"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:user/x"}})))
    assert user.client("ec2").describe_regions()["Regions"]
    assert error_of(user.client("ec2").describe_availability_zones)[0] == "UnauthorizedOperation"


def test_permissions_boundary_limits_the_user(server):
    root = server.client("iam")
    user = new_user(server, attached=(ADMIN,))
    root.put_user_permissions_boundary(UserName=user.name,
                                       PermissionsBoundary="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    assert user.client("ec2").describe_regions()["Regions"]
    assert error_of(user.client("iam").list_users)[0] == "AccessDenied"
    root.delete_user_permissions_boundary(UserName=user.name)
    assert "Users" in user.client("iam").list_users()


def test_new_default_policy_version_takes_effect(server):
    root = server.client("iam")
    arn = root.create_policy(PolicyName=unique("p"), PolicyDocument=document(allow("ec2:DescribeRegions")))[
        "Policy"]["Arn"]
    user = new_user(server, attached=(arn,))
    ec2 = user.client("ec2")
    assert ec2.describe_regions()["Regions"]
    root.create_policy_version(PolicyArn=arn, PolicyDocument=document(allow("ec2:DescribeKeyPairs")),
                               SetAsDefault=True)
    assert error_of(ec2.describe_regions)[0] == "UnauthorizedOperation"
    root.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert ec2.describe_regions()["Regions"]


def test_inactive_key_is_refused_and_reactivated(server):
    user = new_user(server, attached=(ADMIN,))
    root = server.client("iam")
    sts = user.client("sts")
    assert sts.get_caller_identity()["Arn"] == user.arn
    root.update_access_key(UserName=user.name, AccessKeyId=user.key["AccessKeyId"], Status="Inactive")
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert error_of(user.client("ec2").describe_regions) == ("AuthFailure", 401)
    root.update_access_key(UserName=user.name, AccessKeyId=user.key["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Arn"] == user.arn
    root.delete_access_key(UserName=user.name, AccessKeyId=user.key["AccessKeyId"])
    assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)


def test_wrong_secret_is_a_bad_signature(server):
    user = new_user(server)
    client = server.client("sts", aws_access_key_id=user.key["AccessKeyId"], aws_secret_access_key="x" * 40)
    assert error_of(client.get_caller_identity) == ("SignatureDoesNotMatch", 403)


def test_user_can_manage_iam_with_admin_policy(server):
    admin = new_user(server, attached=(ADMIN,))
    iam = admin.client("iam")
    name = unique("made-by-admin")
    iam.create_user(UserName=name)
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    iam.delete_user(UserName=name)


def test_logs_denial_is_access_denied_exception(server):
    user = new_user(server, inline={"only-describe": document(allow("logs:DescribeLogGroups"))})
    logs = user.client("logs")
    assert "logGroups" in logs.describe_log_groups()
    assert error_of(lambda: logs.create_log_group(logGroupName=unique("/denied/"))) == ("AccessDeniedException", 400)


def test_resources_carry_the_entitys_real_path(server):
    root = server.client("iam")
    engineer = unique("engineer")
    root.create_user(UserName=engineer, Path="/engineering/")
    manager = new_user(server, inline={"engineering": document(
        allow(["iam:GetUser", "iam:ListAccessKeys"], f"arn:aws:iam::{server.account_id}:user/engineering/*"))})
    iam = manager.client("iam")
    assert iam.get_user(UserName=engineer)["User"]["Path"] == "/engineering/"
    assert iam.list_access_keys(UserName=engineer)["AccessKeyMetadata"] == []
    assert error_of(lambda: iam.get_user(UserName=manager.name))[0] == "AccessDenied"


def test_lambda_denial_is_access_denied_exception(server):
    user = new_user(server, inline={"list-only": document(allow("lambda:ListFunctions"))})
    client = user.client("lambda")
    assert "Functions" in client.list_functions()
    assert error_of(lambda: client.get_function(FunctionName=unique("fn"))) == ("AccessDeniedException", 403)


def test_tag_based_conditions_on_create(server):
    user = new_user(server, inline={"tagged-only": document(
        allow(["iam:CreateUser", "iam:TagUser"], Condition={"StringEquals": {"aws:RequestTag/team": "blue"},
                                                           "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}))})
    iam = user.client("iam")
    assert error_of(lambda: iam.create_user(UserName=unique("untagged")))[0] == "AccessDenied"
    assert error_of(lambda: iam.create_user(UserName=unique("red"), Tags=[{"Key": "team", "Value": "red"}]))[0] == \
        "AccessDenied"
    assert error_of(lambda: iam.create_user(UserName=unique("extra"), Tags=[
        {"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "1"}]))[0] == "AccessDenied"
    created = iam.create_user(UserName=unique("blue"), Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
