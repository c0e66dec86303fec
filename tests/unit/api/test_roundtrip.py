"""Every operation of the ec2, iam, sts, lambda and logs models, both directions:

* requests: botocore's own client serializer writes generated input; our protocol must read back exactly it;
* responses: our protocol writes generated output; botocore's own client parser must read back exactly it.
"""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from multidict import CIMultiDict

from runtime.api import specs
from runtime.api.http import HttpRequest
from tests.unit.api.shape_strategies import strip_empty, top_level

SERVICES = ("ec2", "iam", "sts", "lambda", "logs")
EXAMPLES = settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def _operations():
    for service in SERVICES:
        model = specs.service_model(service)
        for name in model.operation_names:
            yield pytest.param(service, name, id=f"{service}.{name}")


def to_http(service: str, operation, params: dict) -> HttpRequest:
    serializer = create_serializer(specs.service_model(service).protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request_dict, endpoint_url="http://127.0.0.1:4566")
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return HttpRequest(prepared.method, url.path or "/", url.query, CIMultiDict(prepared.headers), body)


@pytest.mark.parametrize("service,name", list(_operations()))
def test_request_round_trip(service, name):
    operation = specs.service_model(service).operation_model(name)
    if operation.input_shape is None:
        return
    protocol = specs.protocol_for(operation.service_model)

    @EXAMPLES
    @given(top_level(operation.input_shape))
    def check(params):
        http = to_http(service, operation, params)
        assert protocol.operation_for(operation.service_model, http).name == name
        assert strip_empty(protocol.parse(operation, http)) == strip_empty(params)

    check()


@pytest.mark.parametrize("service,name", list(_operations()))
def test_response_round_trip(service, name):
    operation = specs.service_model(service).operation_model(name)
    if operation.output_shape is None or operation.has_event_stream_output:
        return
    model = operation.service_model
    protocol = specs.protocol_for(model)
    parser = create_parser(model.protocol)

    @EXAMPLES
    @given(top_level(operation.output_shape, xml=model.protocol in ("ec2", "query", "rest-xml")))
    def check(result):
        response = protocol.serialize(operation, result, "req-1")
        body = response.body
        streaming = operation.has_streaming_output
        if streaming:  # botocore hands the parser the raw stream, as the HTTP layer does
            body = StreamingBody(io.BytesIO(body), len(body))
        parsed = parser.parse({"status_code": response.status, "headers": CIMultiDict(response.headers),
                               "body": body, "context": {}}, operation.output_shape)
        parsed.pop("ResponseMetadata", None)
        expected = dict(result)
        if streaming:
            payload = operation.output_shape.serialization["payload"]
            parsed[payload] = parsed[payload].read()
            expected.setdefault(payload, b"")
        assert strip_empty(parsed) == strip_empty(expected)

    check()
