"""Bucket CORS applied: browser preflights (`OPTIONS`) and the `Access-Control-*` headers of actual requests,
sent as plain HTTP (a browser signs nothing on a preflight), with the shapes AWS answers."""

from __future__ import annotations

import subprocess

import pytest
from botocore.exceptions import ClientError

from tests.e2e.s3_helpers import bucket_name, error_code, raw, signed, temporary_bucket

APP = "https://app.example.com"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")
RULES = {"CORSRules": [
    {"AllowedOrigins": [APP, "https://*.example.org"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["x-amz-*", "Content-Type"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]}]}


@pytest.fixture(scope="module")
def s3(server):
    return server.client("s3")


@pytest.fixture()
def bucket(s3):
    with temporary_bucket(s3, "cors") as name:
        yield name


def preflight(server, path: str, origin: str | None, method: str | None, headers: str | None = None):
    sent = {}
    if origin is not None:
        sent["Origin"] = origin
    if method is not None:
        sent["Access-Control-Request-Method"] = method
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return raw("OPTIONS", server.endpoint + path, headers=sent)


def cors_headers(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-") or k.lower() == "vary"}


def element(body: bytes, name: str) -> str:
    text = body.decode()
    return text.split(f"<{name}>", 1)[1].split(f"</{name}>", 1)[0]


def test_preflight_without_origin_is_a_bad_request(server, bucket):
    status, _, body = preflight(server, f"/{bucket}/k", None, "GET")
    assert status == 400
    assert error_code(body) == "BadRequest"
    assert element(body, "Message") == "Insufficient information. Origin request header needed."


def test_preflight_to_a_missing_bucket_or_one_without_cors_is_forbidden(server, s3, bucket):
    status, _, body = preflight(server, f"/{bucket_name('none')}/k", APP, "GET")
    assert (status, error_code(body)) == (403, "AccessForbidden")
    assert element(body, "Message") == "CORSResponse: Bucket not found"
    status, _, body = preflight(server, f"/{bucket}/k", APP, "PUT")
    assert (status, error_code(body)) == (403, "AccessForbidden")
    assert element(body, "Message") == "CORSResponse: CORS is not enabled for this bucket."
    assert (element(body, "Method"), element(body, "ResourceType")) == ("PUT", "BUCKET")


def test_preflight_answers_with_the_first_matching_rule(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    status, headers, body = preflight(server, f"/{bucket}/photos/cat.jpg", APP, "PUT",
                                      "Content-Type, X-Amz-Meta-Owner")
    assert (status, body) == (200, b"")
    assert cors_headers(headers) == {
        "Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT", "Access-Control-Allow-Headers": "content-type, x-amz-meta-owner",
        "Access-Control-Expose-Headers": "ETag, x-amz-request-id", "Access-Control-Max-Age": "3000", "Vary": VARY}
    status, headers, _ = preflight(server, f"/{bucket}/k", "https://shop.example.org", "GET")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://shop.example.org"
    status, headers, _ = preflight(server, f"/{bucket}/k", "https://elsewhere.test", "GET")
    assert status == 200
    assert cors_headers(headers) == {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, HEAD",
                                     "Vary": VARY}


def test_preflight_refuses_what_no_rule_allows(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    for origin, method, headers in [("https://elsewhere.test", "PUT", None),     # origin only allowed to GET
                                    (APP, "DELETE", None),                       # method in no rule
                                    (APP, "PUT", "Authorization-Extra"),         # header not allowed
                                    ("https://example.org", "PUT", None)]:       # wildcard needs a subdomain
        status, _, body = preflight(server, f"/{bucket}/k", origin, method, headers)
        assert (status, error_code(body)) == (403, "AccessForbidden"), (origin, method, headers)
        assert element(body, "Message") == NOT_ALLOWED
        assert (element(body, "Method"), element(body, "ResourceType")) == (method, "OBJECT")
    status, _, body = preflight(server, f"/{bucket}", "https://elsewhere.test", "PUT")
    assert (status, element(body, "ResourceType")) == (403, "BUCKET")


def test_preflight_follows_configuration_changes(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert preflight(server, f"/{bucket}/k", APP, "GET")[0] == 200
    s3.delete_bucket_cors(Bucket=bucket)
    status, _, body = preflight(server, f"/{bucket}/k", APP, "GET")
    assert status == 403 and element(body, "Message") == "CORSResponse: CORS is not enabled for this bucket."


def test_actual_requests_carry_the_matching_rules_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    status, headers, _ = signed(server, "PUT", f"/{bucket}/doc.txt", body=b"hello", headers={"Origin": APP})
    assert status == 200
    assert cors_headers(headers) == {
        "Access-Control-Allow-Origin": APP, "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, PUT", "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
        "Access-Control-Max-Age": "3000", "Vary": VARY}
    status, headers, body = signed(server, "GET", f"/{bucket}/doc.txt", headers={"Origin": "https://other.test"})
    assert (status, body) == (200, b"hello")
    assert headers["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in headers
    status, headers, _ = signed(server, "GET", f"/{bucket}/doc.txt")
    assert status == 200 and cors_headers(headers) == {}              # no Origin: not a cross-origin request
    status, headers, _ = signed(server, "DELETE", f"/{bucket}/doc.txt", headers={"Origin": APP})
    assert status == 204 and cors_headers(headers) == {}              # DELETE is in no rule
    status, headers, body = signed(server, "GET", f"/{bucket}/missing", headers={"Origin": APP})
    assert (status, error_code(body)) == (404, "NoSuchKey")
    assert headers["Access-Control-Allow-Origin"] == APP              # errors are readable by the page too


def test_streamed_download_carries_cors_headers(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    data = b"z" * (1024 * 1024)  # above the size the gateway buffers: the body is streamed
    s3.put_object(Bucket=bucket, Key="big.bin", Body=data)
    status, headers, body = signed(server, "GET", f"/{bucket}/big.bin", headers={"Origin": APP})
    assert (status, len(body)) == (200, len(data))
    assert headers["Access-Control-Allow-Origin"] == APP and headers["Vary"] == VARY


def test_preflight_with_curl(server, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    out = subprocess.run(["curl", "-s", "-i", "-X", "OPTIONS", "-H", f"Origin: {APP}",
                          "-H", "Access-Control-Request-Method: GET", f"{server.endpoint}/{bucket}/index.html"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.startswith("HTTP/1.1 200")
    assert f"Access-Control-Allow-Origin: {APP}" in out


def test_put_bucket_cors_rejects_unsupported_methods(s3, bucket):
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PATCH"]}]})
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
    assert caught.value.response["Error"]["Message"] == ("Found unsupported HTTP method in CORS config. "
                                                         "Unsupported method is PATCH")
