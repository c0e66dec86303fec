"""Bad Lambda and CloudWatch Logs input never yields a 5xx or a traceback: random JSON documents, built from
the members the operations know and from noise, signed and sent to each operation, get a well-formed error (or,
where the document happens to be valid, a success), and the function still works afterwards.

The examples are derandomized, so every run (CI's included) tries the same ones; widen them by hand
(a larger max_examples, derandomize off) when looking for new failures."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_fuzz import send
from tests.e2e.test_lambda import TRUST_LAMBDA, make_zip

pytestmark = pytest.mark.host

APP = '''
def handler(event, context):
    return event
'''
NAME = "fuzzed"

ROUTES = {  # operation: (method, path); {f} is the function's name
    "CreateFunction": ("POST", "/2015-03-31/functions"),
    "UpdateFunctionConfiguration": ("PUT", "/2015-03-31/functions/{f}/configuration"),
    "UpdateFunctionCode": ("PUT", "/2015-03-31/functions/{f}/code"),
    "AddPermission": ("POST", "/2015-03-31/functions/{f}/policy"),
    "CreateAlias": ("POST", "/2015-03-31/functions/{f}/aliases"),
    "PublishVersion": ("POST", "/2015-03-31/functions/{f}/versions"),
    "PutFunctionConcurrency": ("PUT", "/2017-10-31/functions/{f}/concurrency"),
    "PutFunctionEventInvokeConfig": ("PUT", "/2019-09-25/functions/{f}/event-invoke-config"),
    "CreateFunctionUrlConfig": ("POST", "/2021-10-31/functions/{f}/url"),
    "Invoke": ("POST", "/2015-03-31/functions/{f}/invocations"),
}
MEMBERS = ["FunctionName", "Runtime", "Role", "Handler", "Code", "ZipFile", "Timeout", "MemorySize", "Environment",
           "Variables", "EphemeralStorage", "Size", "VpcConfig", "SubnetIds", "SecurityGroupIds", "Tags",
           "Description", "Publish", "StatementId", "Action", "Principal", "SourceArn", "SourceAccount", "Name",
           "FunctionVersion", "RoutingConfig", "AdditionalVersionWeights", "ReservedConcurrentExecutions",
           "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig", "OnFailure", "Destination",
           "AuthType", "Cors", "AllowOrigins", "InvokeMode", "Layers", "PackageType", "RevisionId",
           "logGroupName", "logStreamName", "logGroupNamePrefix", "logEvents", "timestamp", "message",
           "retentionInDays", "startTime", "endTime", "nextToken", "limit", "filterPattern", "startFromHead",
           "logStreamNames", "orderBy", "descending", "interleaved", "tags"]
LOGS_OPERATIONS = ["CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy",
                   "DescribeLogGroups", "CreateLogStream", "DeleteLogStream", "DescribeLogStreams", "PutLogEvents",
                   "GetLogEvents", "FilterLogEvents"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["python3.11", "app.handler", "lambda:InvokeFunction",
                                                           "s3.amazonaws.com", "NONE", "AWS_IAM", "$LATEST",
                                                           "arn:aws:lambda:us-east-1:000000000000:function:x"]))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(MEMBERS), st.text(max_size=8)), inner,
                                            max_size=6)),
    max_leaves=20)
bodies = st.one_of(documents.map(lambda d: json.dumps(d).encode()), st.binary(max_size=100))


def assert_lambda_error(response) -> None:
    assert response.status < 500 or response.status == 501, (response.status, response.data)
    assert b"Traceback" not in response.data
    if response.status >= 300:
        error = json.loads(response.data)
        assert response.headers.get("x-amzn-ErrorType") and isinstance(error, dict), response.data


@pytest.fixture(scope="module")
def function(server):
    lam = server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))
    role = server.client("iam").create_role(RoleName="fuzzed-fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))
    lam.create_function(FunctionName=NAME, Runtime="python3.11", Role=role["Role"]["Arn"], Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": APP})})
    lam.get_waiter("function_active_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 0.2})
    yield lam
    for listed in lam.list_functions()["Functions"]:
        lam.delete_function(FunctionName=listed["FunctionName"])
    server.client("iam").delete_role(RoleName="fuzzed-fn")


@pytest.mark.parametrize("operation", sorted(ROUTES))
def test_random_documents_get_lambda_errors(server, function, operation):
    method, template = ROUTES[operation]
    path = template.format(f=NAME)

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body):
        assert_lambda_error(send(server, "lambda", method, path, body, "application/json"))

    check()
    function.delete_function_concurrency(FunctionName=NAME)  # a valid document may have reserved 0
    function.get_waiter("function_updated_v2").wait(FunctionName=NAME, WaiterConfig={"Delay": 0.2})
    reply = function.invoke(FunctionName=NAME, Payload=b'{"still": "alive"}')
    assert reply["StatusCode"] == 200


def test_random_invoke_headers_and_qualifiers_get_lambda_errors(server, function):
    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(header=st.sampled_from(["X-Amz-Invocation-Type", "X-Amz-Log-Type", "X-Amz-Client-Context"]),
           value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
           qualifier=st.one_of(st.none(), st.text(max_size=20)))
    def check(header, value, qualifier):
        path = f"/2015-03-31/functions/{NAME}/invocations"
        if qualifier is not None:
            path += f"?Qualifier={quote(qualifier, safe='')}"
        assert_lambda_error(send(server, "lambda", "POST", path, b"{}", "application/json", headers={header: value}))

    check()


def test_random_listing_parameters_get_lambda_errors(server, function):
    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(["MaxItems", "Marker", "FunctionVersion", "MasterRegion"]),
           value=st.one_of(st.text(max_size=20), st.sampled_from(["-1", "0", "10001", "ALL", "1e3"])),
           route=st.sampled_from(["/2015-03-31/functions/", f"/2015-03-31/functions/{NAME}/versions",
                                  f"/2015-03-31/functions/{NAME}/aliases", "/2021-10-31/functions/x/urls"]))
    def check(name, value, route):
        response = send(server, "lambda", "GET", f"{route}?{name}={quote(value, safe='')}", b"", "application/json")
        assert_lambda_error(response)

    check()


@pytest.mark.parametrize("operation", LOGS_OPERATIONS)
def test_random_documents_get_logs_errors(server, operation):
    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body):
        response = send(server, "logs", "POST", "/", body, "application/x-amz-json-1.1",
                        headers={"X-Amz-Target": f"Logs_20140328.{operation}"})
        assert_lambda_error(response)

    check()
