"""A Lambda throttle on the wire: botocore's rest-json parser finds every member of TooManyRequestsException
(`Retry-After` header, `Type`, `message`, `Reason`), as boto3 puts them on a ClientError's response."""

from botocore.awsrequest import HeadersDict
from botocore.parsers import create_parser

from runtime.api import specs
from runtime.services.lambda_.errors import not_found, throttled


def _parse(error):
    model = specs.service_model("lambda")
    response = specs.protocol_for(model).serialize_error(model, error, "req-1")
    raw = {"status_code": response.status, "headers": HeadersDict(response.headers), "body": response.body}
    parser = create_parser("rest-json")
    parsed = parser.parse(raw, None)
    shape = model.shape_for_error_code(parsed["Error"]["Code"])
    if shape is not None:  # what botocore's client adds for a modelled error
        parsed.update(parser.parse(raw, shape))
    return response, parsed


def test_reserved_concurrency_throttle_carries_every_modelled_field():
    response, parsed = _parse(throttled("ReservedFunctionConcurrentInvocationLimitExceeded"))
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert parsed["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert parsed["retryAfterSeconds"] == "1"
    assert parsed["Type"] == "User"
    assert parsed["message"] == "Rate Exceeded."
    assert parsed["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_account_throttle_reason():
    _, parsed = _parse(throttled("ConcurrentInvocationLimitExceeded"))
    assert parsed["Reason"] == "ConcurrentInvocationLimitExceeded"


def test_other_errors_keep_their_modelled_message_key():
    response, parsed = _parse(not_found("Function not found: arn:aws:lambda:us-east-1:123456789012:function:x"))
    assert b'"Message"' in response.body and "Retry-After" not in response.headers
    assert parsed["Message"] == parsed["Error"]["Message"]
    assert parsed["Type"] == "User"
