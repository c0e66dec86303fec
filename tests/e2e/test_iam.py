"""The IAM API's own semantics through boto3 (and the aws CLI): entities, ids, ARNs, policy documents,
versions, attachments, access keys, instance profiles, simulation; the error codes and quotas AWS has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import unquote

import pytest
from botocore.config import Config

from tests.e2e.test_iam_enforcement import ADMIN, allow, deny, document, error_of, new_user, unique
from tests.server import REPO


def test_user_lifecycle_ids_and_arns(server):
    iam = server.client("iam")
    name = unique("carol")
    user = iam.create_user(UserName=name, Path="/engineering/", Tags=[{"Key": "team", "Value": "core"}])["User"]
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Arn"] == f"arn:aws:iam::{server.account_id}:user/engineering/{name}"
    assert user["Tags"] == [{"Key": "team", "Value": "core"}]
    got = iam.get_user(UserName=name)["User"]
    assert (got["UserId"], got["Path"]) == (user["UserId"], "/engineering/")
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/engineering/")["Users"]]
    assert name not in [u["UserName"] for u in iam.list_users(PathPrefix="/sales/")["Users"]]
    assert error_of(lambda: iam.create_user(UserName=name)) == ("EntityAlreadyExists", 409)
    assert error_of(lambda: iam.create_user(UserName=name.upper())) == ("EntityAlreadyExists", 409)
    iam.delete_user(UserName=name)
    assert error_of(lambda: iam.get_user(UserName=name)) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.delete_user(UserName=name)) == ("NoSuchEntity", 404)


def test_bad_names_and_paths(server):
    iam = server.client("iam")
    assert error_of(lambda: iam.create_user(UserName="has space")) == ("ValidationError", 400)
    assert error_of(lambda: iam.create_user(UserName="x" * 65)) == ("ValidationError", 400)
    assert error_of(lambda: iam.create_user(UserName=unique("u"), Path="no-slashes")) == ("ValidationError", 400)
    assert error_of(lambda: iam.create_role(RoleName="bad/name", AssumeRolePolicyDocument="{}")) == \
        ("ValidationError", 400)


def test_get_user_without_name_is_the_caller(server):
    user = new_user(server, attached=("arn:aws:iam::aws:policy/IAMReadOnlyAccess",))
    assert user.client("iam").get_user()["User"]["Arn"] == user.arn
    root = server.client("iam").get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{server.account_id}:root" and root["UserId"] == server.account_id


def test_iam_is_global(server):
    name = unique("global")
    server.client("iam", region_name="eu-west-1").create_user(UserName=name)
    assert server.client("iam", region_name="ap-south-1").get_user(UserName=name)["User"]["UserName"] == name


def test_access_keys_quota_status_and_last_used(server):
    iam = server.client("iam")
    name = unique("keys")
    iam.create_user(UserName=name)
    first = iam.create_access_key(UserName=name)["AccessKey"]
    second = iam.create_access_key(UserName=name)["AccessKey"]
    assert first["AccessKeyId"].startswith("AKIA") and len(first["AccessKeyId"]) == 20
    assert len(first["SecretAccessKey"]) == 40 and first["Status"] == "Active"
    assert error_of(lambda: iam.create_access_key(UserName=name)) == ("LimitExceeded", 409)
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    never = iam.get_access_key_last_used(AccessKeyId=second["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    ec2 = server.client("ec2", aws_access_key_id=first["AccessKeyId"], aws_secret_access_key=first["SecretAccessKey"])
    assert error_of(ec2.describe_regions)[0] == "UnauthorizedOperation"  # denied, but the key was used
    used = iam.get_access_key_last_used(AccessKeyId=first["AccessKeyId"])["AccessKeyLastUsed"]
    assert (used["ServiceName"], used["Region"]) == ("ec2", "us-east-1") and used["LastUsedDate"]
    iam.update_access_key(UserName=name, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}
    assert statuses[second["AccessKeyId"]] == "Inactive"
    assert error_of(lambda: iam.update_access_key(UserName=name, AccessKeyId="AKIAAAAAAAAAAAAAAAAA",
                                                  Status="Active")) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.delete_user(UserName=name)) == ("DeleteConflict", 409)
    for key in (first, second):
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=name)


def test_delete_conflicts(server):
    iam = server.client("iam")
    user, group, role = unique("u"), unique("g"), unique("r")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=document(allow("s3:*")))
    assert error_of(lambda: iam.delete_user(UserName=user)) == ("DeleteConflict", 409)
    iam.delete_user_policy(UserName=user, PolicyName="p")
    iam.attach_user_policy(UserName=user, PolicyArn=ADMIN)
    assert error_of(lambda: iam.delete_user(UserName=user)) == ("DeleteConflict", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=ADMIN)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    assert error_of(lambda: iam.delete_user(UserName=user)) == ("DeleteConflict", 409)
    assert error_of(lambda: iam.delete_group(GroupName=group)) == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)

    trust = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    profile = unique("profile")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert error_of(lambda: iam.delete_role(RoleName=role)) == ("DeleteConflict", 409)
    assert error_of(lambda: iam.delete_instance_profile(InstanceProfileName=profile)) == ("DeleteConflict", 409)
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN)
    assert error_of(lambda: iam.delete_role(RoleName=role)) == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName=role, PolicyArn=ADMIN)
    iam.delete_role(RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=profile)


def test_managed_policy_versions(server):
    iam = server.client("iam")
    created = iam.create_policy(PolicyName=unique("versions"), PolicyDocument=document(allow("s3:GetObject")),
                                Description="for tests")["Policy"]
    arn = created["Arn"]
    assert created["PolicyId"].startswith("ANPA") and created["DefaultVersionId"] == "v1"
    assert arn == f"arn:aws:iam::{server.account_id}:policy/{created['PolicyName']}"
    for n in range(2, 6):
        version = iam.create_policy_version(PolicyArn=arn, PolicyDocument=document(allow(f"s3:Op{n}")))
        assert version["PolicyVersion"]["VersionId"] == f"v{n}"
        assert version["PolicyVersion"]["IsDefaultVersion"] is False
    assert error_of(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=document(allow("s3:X")))) == \
        ("LimitExceeded", 409)
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == \
        ["v5", "v4", "v3", "v2", "v1"]
    assert error_of(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v1")) == ("DeleteConflict", 409)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    v3 = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert v3["IsDefaultVersion"] and v3["Document"]["Statement"][0]["Action"] == "s3:Op3"
    assert error_of(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v9")) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.delete_policy(PolicyArn=arn)) == ("DeleteConflict", 409)
    for version in ("v1", "v2", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    six = iam.create_policy_version(PolicyArn=arn, PolicyDocument=document(allow("s3:Six")), SetAsDefault=True)
    assert six["PolicyVersion"]["VersionId"] == "v6" and six["PolicyVersion"]["IsDefaultVersion"]
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    user = unique("holder")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert error_of(lambda: iam.delete_policy(PolicyArn=arn)) == ("DeleteConflict", 409)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    assert error_of(lambda: iam.get_policy(PolicyArn=arn)) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.create_policy(PolicyName=created["PolicyName"], PolicyDocument="{")) == \
        ("MalformedPolicyDocument", 400)


def test_policy_documents_are_url_encoded_on_the_wire(server):
    iam = server.client("iam")
    bodies: list[bytes] = []
    iam.meta.events.register("before-parse.iam.*", lambda response_dict, **_: bodies.append(response_dict["body"]))
    role = unique("wire")
    text = document(allow("s3:GetObject", "arn:aws:s3:::bucket/a b&c/*",
                          Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}))
    trust = document({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]
    iam.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=text)
    got = iam.get_role_policy(RoleName=role, PolicyName="inline")
    assert got["PolicyDocument"] == json.loads(text)
    assert created["AssumeRolePolicyDocument"] == json.loads(trust)
    raw = bodies[-1].decode()
    encoded = raw.split("<PolicyDocument>")[1].split("</PolicyDocument>")[0]
    assert "{" not in encoded and "%7B" in encoded and json.loads(unquote(encoded)) == json.loads(text)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["inline"]
    iam.delete_role_policy(RoleName=role, PolicyName="inline")
    assert error_of(lambda: iam.get_role_policy(RoleName=role, PolicyName="inline")) == ("NoSuchEntity", 404)


@pytest.mark.parametrize("bad", ["not json", "{}", json.dumps({"Version": "2012-10-17", "Statement": []}),
                                 json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe",
                                                                                     "Action": "*",
                                                                                     "Resource": "*"}]}),
                                 json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                                                     "Action": "nocolon",
                                                                                     "Resource": "*"}]})])
def test_malformed_policy_documents(server, bad):
    iam = server.client("iam")
    name = unique("malformed")
    iam.create_user(UserName=name)
    assert error_of(lambda: iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=bad)) == \
        ("MalformedPolicyDocument", 400)
    assert error_of(lambda: iam.create_policy(PolicyName=name, PolicyDocument=bad)) == \
        ("MalformedPolicyDocument", 400)
    assert error_of(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=bad)) == \
        ("MalformedPolicyDocument", 400)


def test_managed_policy_needs_current_version_and_trust_needs_principal(server):
    iam = server.client("iam")
    legacy = json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    assert error_of(lambda: iam.create_policy(PolicyName=unique("p"), PolicyDocument=legacy)) == \
        ("MalformedPolicyDocument", 400)
    no_principal = document({"Effect": "Allow", "Action": "sts:AssumeRole"})
    assert error_of(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=no_principal)) == \
        ("MalformedPolicyDocument", 400)
    bad_principal = document({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:group/nope"},
                              "Action": "sts:AssumeRole"})
    assert error_of(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=bad_principal))[0] == \
        "MalformedPolicyDocument"


def test_size_quotas(server):
    iam = server.client("iam")
    name = unique("big")
    iam.create_user(UserName=name)
    statements = [allow(f"s3:Action{n:04d}", f"arn:aws:s3:::bucket-{n:04d}/*") for n in range(200)]
    huge = document(*statements)
    assert error_of(lambda: iam.create_policy(PolicyName=name, PolicyDocument=huge)) == ("LimitExceeded", 409)
    half = document(*statements[:14])  # ~1100 of the 2048 characters a user may have inline
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=half)
    assert error_of(lambda: iam.put_user_policy(UserName=name, PolicyName="two", PolicyDocument=half)) == \
        ("LimitExceeded", 409)
    iam.put_user_policy(UserName=name, PolicyName="one", PolicyDocument=half)  # replacing is not adding


def test_attachment_quota_and_bad_arns(server):
    iam = server.client("iam")
    name = unique("attach")
    iam.create_user(UserName=name)
    arns = [iam.create_policy(PolicyName=unique("q"), PolicyDocument=document(allow("s3:GetObject")))["Policy"]["Arn"]
            for _ in range(11)]
    for arn in arns[:10]:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    iam.attach_user_policy(UserName=name, PolicyArn=arns[0])  # already attached: no-op
    assert error_of(lambda: iam.attach_user_policy(UserName=name, PolicyArn=arns[10])) == ("LimitExceeded", 409)
    assert len(iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]) == 10
    assert error_of(lambda: iam.attach_user_policy(UserName=unique("ghost"), PolicyArn=ADMIN)) == \
        ("NoSuchEntity", 404)
    assert error_of(lambda: iam.attach_group_policy(GroupName=unique("ghost"), PolicyArn=ADMIN)) == \
        ("NoSuchEntity", 404)
    missing = f"arn:aws:iam::{server.account_id}:policy/{unique('missing')}"
    assert error_of(lambda: iam.attach_role_policy(RoleName=unique("ghost"), PolicyArn=missing)) == \
        ("NoSuchEntity", 404)
    assert error_of(lambda: iam.detach_user_policy(UserName=name, PolicyArn=ADMIN)) == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")) == ("NoSuchEntity", 404)


def test_aws_managed_policies_exist(server):
    iam = server.client("iam")
    expected = ["AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess", "AmazonS3FullAccess",
                "AmazonS3ReadOnlyAccess", "AmazonEC2FullAccess", "AWSLambda_FullAccess",
                "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaRole", "IAMFullAccess"]
    for name in expected:
        policy = iam.get_policy(PolicyArn=f"arn:aws:iam::aws:policy/{name}")["Policy"]
        assert policy["PolicyId"].startswith("ANPA") and policy["Path"] in ("/", "/service-role/")
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"]["Version"] == "2012-10-17"
    basic = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                   VersionId="v1")["PolicyVersion"]["Document"]
    assert set(basic["Statement"][0]["Action"]) == {"logs:CreateLogGroup", "logs:CreateLogStream",
                                                   "logs:PutLogEvents"}
    aws_names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]}
    assert {"AdministratorAccess", "AWSLambdaBasicExecutionRole"} <= aws_names
    local = iam.list_policies(Scope="Local")["Policies"]
    assert all(p["Arn"].startswith(f"arn:aws:iam::{server.account_id}:") for p in local)
    page = iam.list_policies(Scope="AWS", MaxItems=3)
    assert len(page["Policies"]) == 3 and page["IsTruncated"]
    rest = iam.list_policies(Scope="AWS", Marker=page["Marker"], MaxItems=1000)["Policies"]
    assert len(page["Policies"]) + len(rest) == len(aws_names)


def test_roles_and_attached_role_policies(server):
    iam = server.client("iam")
    name = unique("lambda-exec")
    trust = document({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName=name, Path="/service/", AssumeRolePolicyDocument=trust,
                           Description="runs functions", MaxSessionDuration=7200)["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == f"arn:aws:iam::{server.account_id}:role/service/{name}"
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.attach_role_policy(RoleName=name, PolicyArn=basic)
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == \
        [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": basic}]
    assert iam.list_attached_role_policies(RoleName=name, PathPrefix="/other/")["AttachedPolicies"] == []
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("runs functions", 7200)
    assert got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    iam.update_role(RoleName=name, MaxSessionDuration=3600, Description="changed")
    new_trust = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=new_trust)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "changed" and got["AssumeRolePolicyDocument"] == json.loads(new_trust)
    unchecked = server.client("iam", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert error_of(lambda: unchecked.update_role(RoleName=name, MaxSessionDuration=60)) == ("ValidationError", 400)
    assert error_of(lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)) == \
        ("EntityAlreadyExists", 409)
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]]
    iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "k", "Value": "v"}]


def test_instance_profiles(server):
    iam = server.client("iam")
    trust = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    first, second = unique("web"), unique("db")
    for role in (first, second):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    name = unique("profile")
    profile = iam.create_instance_profile(InstanceProfileName=name, Path="/web/")["InstanceProfile"]
    assert profile["InstanceProfileId"].startswith("AIPA") and profile["Roles"] == []
    assert profile["Arn"] == f"arn:aws:iam::{server.account_id}:instance-profile/web/{name}"
    assert error_of(lambda: iam.create_instance_profile(InstanceProfileName=name)) == ("EntityAlreadyExists", 409)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=first)
    assert error_of(lambda: iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=second)) == \
        ("LimitExceeded", 409)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [first]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == json.loads(trust)
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName=first)["InstanceProfiles"]] \
        == [name]
    assert name in [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
    assert error_of(lambda: iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=second)) == \
        ("NoSuchEntity", 404)
    assert error_of(lambda: iam.get_instance_profile(InstanceProfileName=unique("none"))) == ("NoSuchEntity", 404)


def test_groups(server):
    iam = server.client("iam")
    group = unique("team")
    created = iam.create_group(GroupName=group, Path="/teams/")["Group"]
    assert created["GroupId"].startswith("AGPA")
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:group/teams/{group}"
    members = [unique("m") for _ in range(3)]
    for member in members:
        iam.create_user(UserName=member)
        iam.add_user_to_group(GroupName=group, UserName=member)
    page = iam.get_group(GroupName=group, MaxItems=2)
    assert page["Group"]["GroupName"] == group and page["IsTruncated"] and len(page["Users"]) == 2
    rest = iam.get_group(GroupName=group, Marker=page["Marker"])["Users"]
    assert [u["UserName"] for u in page["Users"] + rest] == members
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=members[0])["Groups"]] == [group]
    iam.put_group_policy(GroupName=group, PolicyName="inline", PolicyDocument=document(deny("*")))
    assert iam.get_group_policy(GroupName=group, PolicyName="inline")["PolicyDocument"]["Statement"][0]["Effect"] == \
        "Deny"
    assert error_of(lambda: iam.remove_user_from_group(GroupName=group, UserName=unique("ghost"))) == \
        ("NoSuchEntity", 404)


def test_simulate_principal_policy(server):
    user = new_user(server, inline={"mixed": document(allow("ec2:Describe*"), deny("ec2:DescribeRegions"))},
                    attached=("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",))
    results = server.client("iam").simulate_principal_policy(
        PolicySourceArn=user.arn, ActionNames=["ec2:DescribeInstances", "ec2:DescribeRegions", "s3:GetObject",
                                               "s3:PutObject"],
        ResourceArns=["*"])["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    assert decisions == {"ec2:DescribeInstances": "allowed", "ec2:DescribeRegions": "explicitDeny",
                         "s3:GetObject": "allowed", "s3:PutObject": "implicitDeny"}
    by_action = {r["EvalActionName"]: r for r in results}
    assert by_action["s3:GetObject"]["MatchedStatements"][0]["SourcePolicyId"] == \
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    assert by_action["ec2:DescribeRegions"]["MatchedStatements"][0]["SourcePolicyId"] == "mixed"
    conditional = server.client("iam").simulate_principal_policy(
        PolicySourceArn=user.arn, ActionNames=["s3:DeleteObject"],
        PolicyInputList=[document(allow("s3:DeleteObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))],
        ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"],
                         "ContextKeyType": "ip"}])["EvaluationResults"]
    assert conditional[0]["EvalDecision"] == "allowed"
    assert error_of(lambda: server.client("iam").simulate_principal_policy(
        PolicySourceArn="not-an-arn-at-all-really", ActionNames=["s3:GetObject"])) == ("InvalidInput", 400)
    assert error_of(lambda: server.client("iam").simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{server.account_id}:user/{unique('ghost')}",
        ActionNames=["s3:GetObject"])) == ("NoSuchEntity", 404)


def test_users_and_keys_survive_a_restart(tmp_path):
    from tests.server import start_server
    server = start_server(tmp_path / "data")
    try:
        user = new_user(server, attached=("arn:aws:iam::aws:policy/IAMReadOnlyAccess",))
        policy = server.client("iam").create_policy(PolicyName=unique("kept"),
                                                    PolicyDocument=document(allow("ec2:DescribeRegions")))["Policy"]
        server.client("iam").attach_user_policy(UserName=user.name, PolicyArn=policy["Arn"])
    finally:
        server.stop()
    again = start_server(tmp_path / "data")
    try:
        user.server = again
        assert user.client("iam").get_user()["User"]["UserName"] == user.name
        assert user.client("ec2").describe_regions()["Regions"]
        assert error_of(user.client("ec2").describe_availability_zones)[0] == "UnauthorizedOperation"
        attached = again.client("iam").list_attached_user_policies(UserName=user.name)["AttachedPolicies"]
        assert {p["PolicyArn"] for p in attached} == {"arn:aws:iam::aws:policy/IAMReadOnlyAccess", policy["Arn"]}
    finally:
        again.stop()


@pytest.fixture
def aws_home(server, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("AWS_PROFILE", None)
    subprocess.check_call([sys.executable, "-m", "runtime", "credentials", "--data-dir", str(server.data_dir),
                           "--listen", server.endpoint.removeprefix("http://"), "--aws-profile", "terrarium"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    return env


def aws_cli(env, *args) -> subprocess.CompletedProcess:
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    return subprocess.run([aws, "--profile", "terrarium", *args], env=env, capture_output=True, text=True, timeout=60)


def test_aws_cli(server, aws_home, tmp_path):
    name = unique("cli")
    created = aws_cli(aws_home, "iam", "create-user", "--user-name", name)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["User"]["UserName"] == name
    policy = tmp_path / "policy.json"
    policy.write_text(document(allow("ec2:DescribeRegions")))
    put = aws_cli(aws_home, "iam", "put-user-policy", "--user-name", name, "--policy-name", "p",
                  "--policy-document", f"file://{policy}")
    assert put.returncode == 0, put.stderr
    got = json.loads(aws_cli(aws_home, "iam", "get-user-policy", "--user-name", name, "--policy-name", "p").stdout)
    assert got["PolicyDocument"] == json.loads(policy.read_text())
    key = json.loads(aws_cli(aws_home, "iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    user_env = {**aws_home, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    base = [aws, "--endpoint-url", server.endpoint, "--region", "us-east-1"]
    allowed = subprocess.run([*base, "ec2", "describe-regions"], env=user_env, capture_output=True, text=True,
                             timeout=60)
    assert allowed.returncode == 0, allowed.stderr
    denied = subprocess.run([*base, "iam", "list-users"], env=user_env, capture_output=True, text=True, timeout=60)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_account_alias_summary_and_authorization_details(tmp_path):
    from tests.server import start_server
    server = start_server(tmp_path / "data")  # its own account: the counts below are exact
    try:
        iam = server.client("iam")
        assert iam.list_account_aliases()["AccountAliases"] == []
        assert error_of(lambda: iam.create_account_alias(AccountAlias="Bad_Alias")) == ("ValidationError", 400)
        iam.create_account_alias(AccountAlias="my-sandbox")
        assert iam.list_account_aliases()["AccountAliases"] == ["my-sandbox"]
        user = new_user(server, inline={"own": document(allow("s3:GetObject"))}, attached=(ADMIN,))
        iam.create_group(GroupName="devs")
        iam.add_user_to_group(GroupName="devs", UserName=user.name)
        trust = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                          "Action": "sts:AssumeRole"})
        iam.create_role(RoleName="web", AssumeRolePolicyDocument=trust)
        iam.create_instance_profile(InstanceProfileName="web")
        iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web")
        local = iam.create_policy(PolicyName="local", PolicyDocument=document(allow("ec2:Describe*")))["Policy"]
        iam.attach_role_policy(RoleName="web", PolicyArn=local["Arn"])
        summary = iam.get_account_summary()["SummaryMap"]
        assert (summary["Users"], summary["Groups"], summary["Roles"], summary["Policies"],
                summary["InstanceProfiles"]) == (1, 1, 1, 1, 1)
        assert summary["AccessKeysPerUserQuota"] == 2 and summary["VersionsPerPolicyQuota"] == 5
        details = iam.get_account_authorization_details()
        (user_detail,) = details["UserDetailList"]
        assert user_detail["GroupList"] == ["devs"]
        assert user_detail["UserPolicyList"][0]["PolicyDocument"] == json.loads(document(allow("s3:GetObject")))
        assert user_detail["AttachedManagedPolicies"] == [{"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN}]
        (role_detail,) = details["RoleDetailList"]
        assert role_detail["AssumeRolePolicyDocument"] == json.loads(trust)
        assert [p["InstanceProfileName"] for p in role_detail["InstanceProfileList"]] == ["web"]
        assert {p["Arn"] for p in details["Policies"]} == {ADMIN, local["Arn"]}
        only_roles = iam.get_account_authorization_details(Filter=["Role"])
        assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1
        iam.tag_policy(PolicyArn=local["Arn"], Tags=[{"Key": "k", "Value": "v"}])
        assert iam.list_policy_tags(PolicyArn=local["Arn"])["Tags"] == [{"Key": "k", "Value": "v"}]
        iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "tier", "Value": "front"}])
        assert iam.list_instance_profile_tags(InstanceProfileName="web")["Tags"] == [{"Key": "tier", "Value": "front"}]
        iam.delete_account_alias(AccountAlias="my-sandbox")
        assert iam.list_account_aliases()["AccountAliases"] == []
    finally:
        server.stop()


def test_tags_and_descriptions_follow_the_model_patterns(server):
    iam = server.client("iam")
    trust = document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    assert error_of(lambda: iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust,
                                            Description="bell\x07")) == ("ValidationError", 400)
    assert error_of(lambda: iam.create_user(UserName=unique("u"), Tags=[{"Key": "k", "Value": "no;semicolons"}])) == \
        ("ValidationError", 400)
    role = iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust, Description="Überprüft, tab\tok",
                           Tags=[{"Key": "Kostenstelle", "Value": "München 42"}])["Role"]
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["Description"] == "Überprüft, tab\tok"
    policy = iam.create_policy(PolicyName=unique("p"), PolicyDocument=document(allow("s3:GetObject")),
                               Description="只读")["Policy"]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["Description"] == "只读"
