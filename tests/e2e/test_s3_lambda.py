"""An upload triggers a Lambda function (S3 event notification, async invoke) that writes a derived object.

Needs real sandboxes (root), like the Lambda suite."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import pytest

from tests.e2e.s3_helpers import bucket_name

pytestmark = pytest.mark.host

HANDLER = '''
import boto3, urllib.parse

def handler(event, context):
    record = event["Records"][0]
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    derived = "derived/" + key.split("/", 1)[1]
    s3.put_object(Bucket=bucket, Key=derived, Body=body.upper(),
                  Metadata={"event": record["eventName"], "size": str(record["s3"]["object"]["size"])})
    return derived
'''


def test_upload_triggers_function_that_writes_derived_object(server):
    s3, lam, iam = server.client("s3"), server.client("lambda"), server.client("iam")
    bucket = bucket_name("trigger")
    s3.create_bucket(Bucket=bucket)
    name = f"derive-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                                "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", HANDLER)
    arn = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.handler",
                              Code={"ZipFile": code.getvalue()}, Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 240})
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
                       SourceAccount=server.account_id)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "derive", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                                          "Filter": {"Key": {"FilterRules": [{"Name": "prefix",
                                                                              "Value": "uploads/"}]}}}]})
    s3.put_object(Bucket=bucket, Key="uploads/note one.txt", Body=b"hello from s3")
    deadline = time.monotonic() + 120
    while True:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="derived/").get("Contents", [])
        if listed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [o["Key"] for o in listed] == ["derived/note one.txt"]
    derived = s3.get_object(Bucket=bucket, Key="derived/note one.txt")
    assert derived["Body"].read() == b"HELLO FROM S3"
    assert derived["Metadata"] == {"event": "ObjectCreated:Put", "size": "13"}
    time.sleep(2)  # the derived object is outside the prefix filter: no second invocation, no loop
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 2
