"""Values the XML protocols cannot carry verbatim (control characters) still give parseable responses."""

from datetime import datetime, timezone

from botocore.parsers import create_parser

from runtime.api import specs
from runtime.errors import AwsError


def test_error_message_with_control_characters_parses():
    for protocol_name, service in (("query", "iam"), ("ec2", "ec2")):
        model = specs.service_model(service)
        response = specs.protocol_for(model).serialize_error(
            model, AwsError("ValidationError", "bad value '\x08\x00' here"), "req-1")
        parsed = create_parser(protocol_name).parse(
            {"status_code": response.status, "headers": response.headers, "body": response.body}, None)
        assert parsed["Error"]["Code"] == "ValidationError"
        assert "\ufffd\ufffd" in parsed["Error"]["Message"]


def test_output_strings_with_control_characters_parse():
    model = specs.service_model("iam")
    operation = model.operation_model("GetUser")
    user = {"User": {"Path": "/", "UserName": "a\x01b", "UserId": "AIDAXXXXXXXXXXXXXXXXX",
                     "Arn": "arn:aws:iam::123456789012:user/a",
                     "CreateDate": datetime(2026, 1, 1, tzinfo=timezone.utc)}}
    response = specs.protocol_for(model).serialize(operation, user, "req-1")
    parsed = create_parser("query").parse({"status_code": 200, "headers": response.headers, "body": response.body},
                                          operation.output_shape)
    assert parsed["User"]["UserName"] == "a\ufffdb"
