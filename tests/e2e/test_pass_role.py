"""Handing a role to a service needs iam:PassRole on it: RunInstances with an instance profile, CreateFunction."""

from __future__ import annotations

import contextlib
import json

import boto3
import pytest
from botocore.exceptions import ClientError

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
     "Action": "sts:AssumeRole"}]})


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_pass_role_is_required(server):
    iam = server.client("iam")
    role_arn = iam.create_role(RoleName="passable", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="passable-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="passable-profile", RoleName="passable")
    iam.create_user(UserName="launcher")
    iam.put_user_policy(UserName="launcher", PolicyName="ec2-lambda", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:*", "lambda:*"],
                                                "Resource": "*"}]}))
    key = iam.create_access_key(UserName="launcher")["AccessKey"]
    session = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=server.endpoint)
    lambda_ = session.client("lambda", endpoint_url=server.endpoint)
    images = server.client("ec2").describe_images(Owners=["136693071363"])["Images"]
    ami = images[0]["ImageId"] if images else "ami-00000000000000000"
    launch = dict(ImageId=ami, InstanceType="t3.nano", MinCount=1, MaxCount=1, DryRun=True,
                  IamInstanceProfile={"Name": "passable-profile"})
    try:
        assert code_of(lambda: ec2.run_instances(**launch)) == "UnauthorizedOperation"
        assert code_of(lambda: lambda_.create_function(FunctionName="f", Runtime="python3.11", Role=role_arn,
                                                       Handler="a.b", Code={"ZipFile": b"PK"})) == \
            "AccessDeniedException"
        iam.put_user_policy(UserName="launcher", PolicyName="pass", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole",
                                                    "Resource": role_arn}]}))
        if images:
            assert code_of(lambda: ec2.run_instances(**launch)) == "DryRunOperation"
        assert code_of(lambda: lambda_.create_function(FunctionName="f", Runtime="python3.11", Role=role_arn,
                                                       Handler="a.b", Code={"ZipFile": b"PK"})) == \
            "InvalidParameterValueException"  # authorised now; the zip itself is rejected
    finally:
        iam.delete_user_policy(UserName="launcher", PolicyName="ec2-lambda")
        with contextlib.suppress(ClientError):  # absent when an earlier assertion failed
            iam.delete_user_policy(UserName="launcher", PolicyName="pass")
        iam.delete_access_key(UserName="launcher", AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName="launcher")
        iam.remove_role_from_instance_profile(InstanceProfileName="passable-profile", RoleName="passable")
        iam.delete_instance_profile(InstanceProfileName="passable-profile")
        iam.delete_role(RoleName="passable")
