"""Function URL response mapping (payload format 2.0 responses)."""

import base64
import json

from runtime.services.lambda_.web import map_response


def test_plain_value_is_a_200_json_body():
    response = map_response(b'{"a": 1}')
    assert response.status == 200 and response.body == b'{"a": 1}'
    assert response.content_type == "application/json"


def test_response_object_maps_status_headers_cookies_and_base64_body():
    payload = {"statusCode": 418, "headers": {"content-type": "text/plain", "x-k": "v"}, "cookies": ["a=1", "b=2"],
               "body": base64.b64encode(b"teapot").decode(), "isBase64Encoded": True}
    response = map_response(json.dumps(payload).encode())
    assert response.status == 418 and response.body == b"teapot"
    assert response.headers["x-k"] == "v" and response.headers.getall("Set-Cookie") == ["a=1", "b=2"]


def test_cors_headers_for_allowed_origins_only():
    from runtime.services.lambda_.web import cors_headers
    cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-k"],
            "MaxAge": 60, "ExposeHeaders": ["x-got"], "AllowCredentials": True}
    assert cors_headers(cors, "https://evil.example", preflight=True) == {}
    assert cors_headers(cors, "https://app.example", preflight=True) == {
        "Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET,POST", "Access-Control-Allow-Headers": "x-k",
        "Access-Control-Max-Age": "60"}
    assert cors_headers({"AllowOrigins": ["*"], "ExposeHeaders": ["x-got"]}, "https://any", preflight=False) == {
        "Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "x-got"}
