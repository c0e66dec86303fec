"""A sync throttle through boto3: the ClientError carries TooManyRequestsException's modelled fields
(Retry-After header as `retryAfterSeconds`, `Type`, `message`, `Reason`), as botocore parses AWS's answer."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_lambda_logs import deploy

pytestmark = pytest.mark.host

APP = "import time\n\n\ndef handler(event, context):\n    time.sleep(event.get('seconds', 0))\n    return 'woke'\n"


def test_reserved_concurrency_throttle_wire_fields(server):
    lam, name = deploy(server, APP, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    slow = threading.Thread(target=lambda: lam.invoke(FunctionName=name, Payload=b'{"seconds": 2}')["Payload"].read())
    slow.start()
    time.sleep(0.7)
    try:
        with pytest.raises(ClientError) as info:
            lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        slow.join()
    reply = info.value.response
    assert reply["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert reply["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert reply["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert reply["retryAfterSeconds"] == "1"
    assert reply["Type"] == "User"
    assert reply["message"] == "Rate Exceeded."
    assert reply["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
