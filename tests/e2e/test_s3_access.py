"""Who may touch S3 through Terrarium: IAM identity policies, bucket policies, anonymous callers, Block
Public Access."""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import anonymous_client, bucket_name, public_read_policy, raw, website_get


def code_of(error: ClientError) -> str:
    return error.response["Error"]["Code"]


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture()
def buckets(s3):
    made = []

    def make(prefix="b"):
        name = bucket_name(prefix)
        s3.create_bucket(Bucket=name)
        made.append(name)
        return name
    yield make
    for name in made:
        s3.delete_bucket_policy(Bucket=name)
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


def user_client(server, policy: dict):
    iam = server.client("iam")
    name = bucket_name("user")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=server.region,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1}))


def test_user_allowed_only_get_on_photos_prefix(server, s3, buckets):
    bucket = buckets()
    for key in ("photos/cat.jpg", "private/plan.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    user = user_client(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/photos/*"}]})
    assert user.get_object(Bucket=bucket, Key="photos/cat.jpg")["Body"].read() == b"photos/cat.jpg"
    for call in (lambda: user.get_object(Bucket=bucket, Key="private/plan.txt"),
                 lambda: user.put_object(Bucket=bucket, Key="photos/new.jpg", Body=b"x"),
                 lambda: user.delete_object(Bucket=bucket, Key="photos/cat.jpg"),
                 lambda: user.list_objects_v2(Bucket=bucket),
                 lambda: user.list_buckets()):
        with pytest.raises(ClientError) as caught:
            call()
        assert code_of(caught.value) == "AccessDenied"
        assert caught.value.response["Error"]["Message"] == "Access Denied"
    assert s3.get_object(Bucket=bucket, Key="photos/cat.jpg")["Body"].read() == b"photos/cat.jpg"


def test_list_allowed_by_s3_prefix_condition(server, s3, buckets):
    bucket = buckets()
    user = user_client(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": "home/alice/*"}}}]})
    assert user.list_objects_v2(Bucket=bucket, Prefix="home/alice/")["KeyCount"] == 0
    with pytest.raises(ClientError) as caught:
        user.list_objects_v2(Bucket=bucket, Prefix="home/bob/")
    assert code_of(caught.value) == "AccessDenied"


def test_bucket_policy_grants_a_user_and_denies_a_source_ip(server, s3, buckets):
    bucket = buckets()
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    user = user_client(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    user_arn = server.client("iam").list_users()["Users"][-1]["Arn"]
    with pytest.raises(ClientError):
        user.get_object(Bucket=bucket, Key="report.csv")
    grant = {"Sid": "ReadForUser", "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]}))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Sid"] == "ReadForUser"
    assert user.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b"
    deny_loopback = {"Sid": "NoLoopback", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                     "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17",
                                                           "Statement": [grant, deny_loopback]}))
    for client in (user, s3):  # an explicit deny in a bucket policy binds the account root too
        with pytest.raises(ClientError) as caught:
            client.get_object(Bucket=bucket, Key="report.csv")
        assert code_of(caught.value) == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)  # the owner can always remove the policy
    assert s3.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b"


def test_anonymous_read_of_public_bucket_only(server, s3, buckets):
    public, private = buckets("public"), buckets("private")
    for bucket in (public, private):
        s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>hi</h1>", ContentType="text/html")
    s3.put_bucket_policy(Bucket=public, Policy=public_read_policy(public))
    anonymous = anonymous_client(server)
    assert anonymous.get_object(Bucket=public, Key="index.html")["Body"].read() == b"<h1>hi</h1>"
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=private, Key="index.html")
    assert code_of(caught.value) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        anonymous.put_object(Bucket=public, Key="defaced.html", Body=b"x")
    assert code_of(caught.value) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        anonymous.list_objects_v2(Bucket=public)
    assert code_of(caught.value) == "AccessDenied"
    status, headers, body = raw("GET", f"{server.endpoint}/{public}/index.html")
    assert (status, body, headers["Content-Type"]) == (200, b"<h1>hi</h1>", "text/html")
    port = server.endpoint.rsplit(":", 1)[1]
    curl = subprocess.run(["curl", "-s", "-o", "-", "-w", "%{http_code}", "-H", f"Host: {public}.localhost:{port}",
                           f"http://127.0.0.1:{port}/index.html"], capture_output=True, check=True, timeout=30)
    assert curl.stdout == b"<h1>hi</h1>200", "virtual-hosted, anonymous"
    curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                           f"Host: {private}.s3.terrarium.test", f"http://127.0.0.1:{port}/index.html"],
                          capture_output=True, check=True, timeout=30)
    assert curl.stdout == b"403"


def test_block_public_access(server, s3, buckets):
    bucket = buckets("pab")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    anonymous = anonymous_client(server)
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True, "BlockPublicPolicy": True})
    with pytest.raises(ClientError) as caught:
        anonymous.get_object(Bucket=bucket, Key="k")
    assert code_of(caught.value) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert code_of(caught.value) == "AccessDenied"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_static_website_hosting(server, s3, buckets):
    site, private = buckets("site"), buckets("closed")
    for bucket in (site, private):
        s3.put_object(Bucket=bucket, Key="index.html", Body=b"home", ContentType="text/html")
        s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs home", ContentType="text/html")
        s3.put_object(Bucket=bucket, Key="404.html", Body=b"lost?", ContentType="text/html")
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"}})
    s3.put_bucket_policy(Bucket=site, Policy=public_read_policy(site))
    assert website_get(server, site, "/")[:2] == (200, b"home")
    status, body, headers = website_get(server, site, "/docs/")
    assert (status, body, headers["content-type"]) == (200, b"docs home", "text/html")
    status, _, headers = website_get(server, site, "/docs")
    assert status == 302 and headers["location"] == "/docs/"
    assert website_get(server, site, "/missing.html")[:2] == (404, b"lost?")
    status, body, _ = website_get(server, private, "/")
    assert status == 403 and b"AccessDenied" in body
    status, body, _ = website_get(server, bucket_name("nosuch"), "/")
    assert status == 404 and b"NoSuchBucket" in body


def test_objects_with_a_website_redirect_location(server, s3, buckets):
    site = buckets("moved")
    s3.put_bucket_website(Bucket=site, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.put_bucket_policy(Bucket=site, Policy=public_read_policy(site))
    s3.put_object(Bucket=site, Key="old.html", Body=b"", WebsiteRedirectLocation="/new.html")
    s3.put_object(Bucket=site, Key="away.html", Body=b"", WebsiteRedirectLocation="https://example.com/x")
    s3.put_object(Bucket=site, Key="new.html", Body=b"new", ContentType="text/html")
    assert s3.head_object(Bucket=site, Key="old.html")["WebsiteRedirectLocation"] == "/new.html"
    assert s3.get_object(Bucket=site, Key="away.html")["WebsiteRedirectLocation"] == "https://example.com/x"
    assert "WebsiteRedirectLocation" not in s3.head_object(Bucket=site, Key="new.html")
    for path, location in (("/old.html", "/new.html"), ("/away.html", "https://example.com/x")):
        status, _, headers = website_get(server, site, path)
        assert (status, headers["location"]) == (301, location)
    assert website_get(server, site, "/new.html")[:2] == (200, b"new")
    s3.put_object(Bucket=site, Key="old.html", Body=b"back")  # rewritten without one: no redirect
    assert "WebsiteRedirectLocation" not in s3.head_object(Bucket=site, Key="old.html")
    assert website_get(server, site, "/old.html")[:2] == (200, b"back")
    s3.delete_objects(Bucket=site, Delete={"Objects": [{"Key": "away.html"}]})
    assert website_get(server, site, "/away.html")[0] == 404  # a deleted object redirects no more
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=site, Key="bad.html", Body=b"", WebsiteRedirectLocation="ftp://elsewhere")
    assert code_of(caught.value) == "InvalidRedirectLocation"


def test_website_routing_rules(server, s3, buckets):
    site = buckets("routed")
    s3.put_bucket_policy(Bucket=site, Policy=public_read_policy(site))
    s3.put_object(Bucket=site, Key="index.html", Body=b"home", ContentType="text/html")
    s3.put_object(Bucket=site, Key="docs/old/page.html", Body=b"stale", ContentType="text/html")
    s3.put_bucket_website(Bucket=site, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "docs/old/"}, "Redirect": {"ReplaceKeyPrefixWith": "docs/new/"}},
            {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
             "Redirect": {"HostName": "fallback.example.com", "Protocol": "https", "HttpRedirectCode": "307",
                          "ReplaceKeyWith": "missing.html"}}]})
    status, _, headers = website_get(server, site, "/docs/old/page.html")  # before the object is read
    assert status == 301 and headers["location"].endswith("/docs/new/page.html"), headers
    assert headers["location"].startswith("http://") and f"{site}.s3-website" in headers["location"]
    status, _, headers = website_get(server, site, "/nowhere.html")
    assert (status, headers["location"]) == (307, "https://fallback.example.com/missing.html")
    assert website_get(server, site, "/")[:2] == (200, b"home")  # no rule applies
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_website(Bucket=site, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [{"Redirect": {"HttpRedirectCode": "200"}}]})
    assert code_of(caught.value) == "InvalidArgument"


def test_a_bucket_policy_reaching_past_its_bucket_is_refused(s3, buckets):
    bucket = buckets("scoped")

    def policy(action, resource) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}]})
    for action, resource, message in (
            ("s3:GetObject", "arn:aws:s3:::some-other-bucket/*", "Policy has invalid resource"),
            ("s3:GetObject", [f"arn:aws:s3:::{bucket}/*", "arn:aws:sqs:us-east-1:123456789012:q"],
             "Policy has invalid resource"),
            ("ec2:RunInstances", f"arn:aws:s3:::{bucket}/*", "Policy has invalid action")):
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy(action, resource))
        assert (code_of(caught.value), caught.value.response["Error"]["Message"]) == ("MalformedPolicy", message)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=bucket)
    assert code_of(caught.value) == "NoSuchBucketPolicy"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(["s3:Get*"], [f"arn:aws:s3:::{bucket[:4]}*/*"]))


def test_copy_needs_read_access_to_the_source(server, s3, buckets):
    secret, mine = buckets("secret"), buckets("mine")
    s3.put_object(Bucket=secret, Key="plans.txt", Body=b"classified")
    user = user_client(server, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{mine}/*"}]})
    with pytest.raises(ClientError) as caught:
        user.copy_object(Bucket=mine, Key="stolen.txt", CopySource={"Bucket": secret, "Key": "plans.txt"})
    assert code_of(caught.value) == "AccessDenied"
    user.put_object(Bucket=mine, Key="own.txt", Body=b"ok")
    user.copy_object(Bucket=mine, Key="copy.txt", CopySource={"Bucket": mine, "Key": "own.txt"})
    assert user.get_object(Bucket=mine, Key="copy.txt")["Body"].read() == b"ok"
