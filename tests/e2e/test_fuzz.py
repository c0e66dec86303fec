"""Bad input never yields a 500 or a traceback: whatever arrives, the reply is a well-formed AWS error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

POOL = urllib3.PoolManager(retries=False, timeout=10)

TARGETS = {
    "sts": ("POST", "/", "application/x-www-form-urlencoded; charset=utf-8", "Action=GetCallerIdentity&Version=2011-06-15"),
    "ec2": ("POST", "/", "application/x-www-form-urlencoded; charset=utf-8",
            "Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=us-east-1a"),
    "iam": ("POST", "/", "application/x-www-form-urlencoded; charset=utf-8", "Action=ListUsers&Version=2010-05-08"),
    "lambda": ("POST", "/2015-03-31/functions", "application/json", '{"FunctionName": "f", "Runtime": "python3.11"}'),
    "logs": ("POST", "/", "application/x-amz-json-1.1", '{"logGroupName": "g"}'),
}

bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.sampled_from(list(TARGETS.values())).flatmap(
        lambda t: st.integers(0, len(t[3])).map(lambda n, t=t: t[3][:n].encode())),
    st.just(b"\xff\xfe\xfa invalid utf-8 \xc3\x28"),
    st.just(b"Action=GetCallerIdentity&Version=2011-06-15&%%%=="),
    st.just(b'{"FunctionName": {"nested": [1, 2, {}]}, "MemorySize": "lots"}'),
    st.just(b"<xml><unclosed>"),
)
content_types = st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain",
                                 "application/x-amz-json-1.1", "", "multipart/form-data; boundary=x"])


def assert_aws_error(response: urllib3.BaseHTTPResponse) -> None:
    assert response.status != 500 or b"InternalFailure" in response.data, response.data
    assert response.status < 500 or response.status == 501, (response.status, response.data)
    if response.status < 300:
        return
    body = response.data
    if response.headers.get("x-amzn-ErrorType"):
        assert json.loads(body)
        return
    root = ET.fromstring(body)
    codes = [e.text for e in root.iter() if e.tag.endswith("Code")]
    assert codes and codes[0], body
    assert b"Traceback" not in body


def send(server, service, method, path, body: bytes, content_type: str, headers=None, sign=True):
    request = AWSRequest(method, server.endpoint + path, data=body,
                         headers={"Content-Type": content_type, **(headers or {})})
    if service == "logs" and "X-Amz-Target" not in request.headers:
        request.headers["X-Amz-Target"] = "Logs_20140328.DescribeLogGroups"
    if sign:
        SigV4Auth(Credentials(server.access_key, server.secret_key), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return POOL.request(method, prepared.url, body=prepared.body, headers=dict(prepared.headers))


@pytest.mark.parametrize("service", sorted(TARGETS))
def test_garbage_bodies_get_aws_errors(server, service):
    method, path, _, _ = TARGETS[service]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, content_type=content_types, signed=st.booleans())
    def check(body, content_type, signed):
        assert_aws_error(send(server, service, method, path, body, content_type, sign=signed))

    check()


def test_malformed_authorization_header(server):
    response = POOL.request("POST", server.endpoint + "/", body=b"Action=GetCallerIdentity&Version=2011-06-15",
                            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=garbage",
                                     "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400 and b"IncompleteSignature" in response.data


def test_huge_header_still_answered(server):
    response = send(server, "sts", *TARGETS["sts"][:2], TARGETS["sts"][3].encode(), TARGETS["sts"][2],
                    headers={"X-Padding": "p" * 32_000})
    assert response.status == 200 and b"GetCallerIdentityResult" in response.data


def test_unknown_service_scope(server):
    response = send(server, "dynamodb", "POST", "/", b"{}", "application/x-amz-json-1.0")
    assert response.status == 501
    assert_aws_error(response)


def test_unknown_lambda_route(server):
    response = send(server, "lambda", "GET", "/2015-03-31/nowhere/at/all", b"", "application/json")
    assert response.status == 404 and response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
