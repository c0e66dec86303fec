"""A JSON body whose value has the wrong JSON type for its member (an array or object where the model has a
number, string, boolean, timestamp or blob) is a client error naming the member, never a crash."""

from __future__ import annotations

import json

import pytest
from multidict import CIMultiDict

from runtime.api import specs
from runtime.api.errors import WireError
from runtime.api.http import HttpRequest

CASES = [  # (service, operation, method, path, member, wrong value)
    ("lambda", "CreateFunction", "POST", "/2015-03-31/functions", "Timeout", []),
    ("lambda", "CreateFunction", "POST", "/2015-03-31/functions", "Publish", {}),
    ("lambda", "CreateFunction", "POST", "/2015-03-31/functions", "Handler", ["app.handler"]),
    ("lambda", "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/f/concurrency",
     "ReservedConcurrentExecutions", {"n": 1}),
    ("logs", "GetLogEvents", "POST", "/", "startTime", [1]),
    ("lambda", "UpdateFunctionCode", "PUT", "/2015-03-31/functions/f/code", "ZipFile", ["UEsDBA=="]),
]


@pytest.mark.parametrize(("service", "name", "method", "path", "member", "value"), CASES,
                         ids=[f"{c[1]}.{c[4]}" for c in CASES])
def test_wrong_json_type_is_a_wire_error(service, name, method, path, member, value):
    model = specs.service_model(service)
    body = json.dumps({member: value}).encode()
    http = HttpRequest(method, path, "", CIMultiDict({"Content-Type": "application/json"}), body)
    with pytest.raises(WireError) as caught:
        specs.protocol_for(model).parse(model.operation_model(name), http)
    assert caught.value.member == member
