"""Lambda through boto3 against a real server with real sandboxes: control plane, invoke semantics,
isolation and limits, async retries and destinations, concurrency, execution-role credentials, resource
policies, function URLs, logs and the billing ledger.

One server for the module, started with a short async retry base (TERRARIUM_LAMBDA_RETRY_BASE) so that
the AWS retry schedule (1 and 2 minutes) runs in about a second.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
import time
import urllib.request
import uuid
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runtime.state import SqliteStore
from tests.server import start_server

pytestmark = pytest.mark.host

TRUST_LAMBDA = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
TRUST_EC2 = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

APP = '''
import json, os, sys, time
import boto3

COUNTER = 0


def echo(event, context):
    print("echo", json.dumps(event))
    return event


def leak(event, context):
    global COUNTER
    COUNTER += 1
    seen = sorted(os.listdir("/tmp"))
    open("/tmp/x", "w").write("left behind")
    return {"counter": COUNTER, "tmp": seen}


def whoami(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]


def sleep(event, context):
    time.sleep(event.get("seconds", 10))
    return "woke"


def allocate(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def fail(event, context):
    print("ATTEMPT", event.get("marker"))
    raise RuntimeError("always fails")


def record(event, context):
    print("DESTINATION", json.dumps(event))
    return event


def web(event, context):
    return {"statusCode": 201, "headers": {"x-got": event["rawPath"]}, "cookies": ["a=1"],
            "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                "query": event.get("queryStringParameters"), "raw": event["rawQueryString"],
                                "body": event.get("body")})}


def version(event, context):
    return "v1"


def context_view(event, context):
    cc = context.client_context
    return {"name": context.function_name, "arn": context.invoked_function_arn,
            "memory": str(context.memory_limit_in_mb), "version": context.function_version,
            "custom": cc.custom if cc else None, "env": os.environ.get("MY_VAR"),
            "endpoint": bool(os.environ.get("AWS_ENDPOINT_URL")),
            "key": os.environ.get("AWS_ACCESS_KEY_ID", "")[:4]}
'''


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def lam_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("lambda")
    server = start_server(base / "data", log_path=base / "server.log",
                          extra_env={"TERRARIUM_LAMBDA_RETRY_BASE": "0.3"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(lam_server):
    return lam_server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture(scope="module")
def role(lam_server):
    iam = lam_server.client("iam")
    arn = iam.create_role(RoleName="fn-exec", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    iam.put_role_policy(RoleName="fn-exec", PolicyName="sts", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity",
                                                "Resource": "*"}]}))
    return arn


@pytest.fixture(scope="module")
def code() -> bytes:
    return make_zip({"app.py": APP})


def create(lam, role, code, handler, name=None, wait=True, **extra):
    name = name or f"{handler.split('.')[-1]}-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime=extra.pop("Runtime", "python3.11"), Role=role, Handler=handler,
                        Code={"ZipFile": code}, **extra)
    if wait:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return name


def invoke(lam, name, event=None, **kw):
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}).encode(), **kw)
    reply["Body"] = reply["Payload"].read()
    return reply


REPORT = re.compile(r"REPORT RequestId: (?P<id>[0-9a-f-]+)\tDuration: (?P<d>\d+\.\d{2}) ms\tBilled Duration: "
                    r"(?P<b>\d+) ms\tMemory Size: (?P<m>\d+) MB\tMax Memory Used: (?P<u>\d+) MB\t"
                    r"(Init Duration: (?P<i>\d+\.\d{2}) ms\t)?")


def tail(reply) -> str:
    return base64.b64decode(reply["LogResult"]).decode()


def wait_for(predicate, timeout=30.0, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def log_messages(server, name) -> list[str]:
    logs = server.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return []
    return [e["message"] for e in events]


# ------------------------------------------------------------------------------------- control plane


def test_create_get_update_delete(lam, role, code, lam_server):
    name = f"crud-{uuid.uuid4().hex[:6]}"
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.echo",
                                  Code={"ZipFile": code}, Description="first", Tags={"team": "a"},
                                  Environment={"Variables": {"MY_VAR": "x"}})
    assert created["State"] == "Pending" and created["StateReasonCode"] == "Creating"
    assert created["CodeSha256"] == base64.b64encode(__import__("hashlib").sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code) and created["Timeout"] == 3 and created["MemorySize"] == 128
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{lam_server.account_id}:function:{name}"
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active" and got["Tags"] == {"team": "a"}
    with urllib.request.urlopen(got["Code"]["Location"]) as reply:
        assert reply.read() == code
    assert code_of(lambda: lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                               Handler="app.echo", Code={"ZipFile": code})) == \
        "ResourceConflictException"
    updated = lam.update_function_configuration(FunctionName=name, Timeout=10, MemorySize=256, Description="2nd")
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["Timeout"], config["MemorySize"], config["Description"]) == (10, 256, "2nd")
    assert config["Environment"] == {"Variables": {"MY_VAR": "x"}}
    new_code = make_zip({"app.py": APP.replace('print("echo"', 'print("echo2"')})
    lam.update_function_code(FunctionName=name, ZipFile=new_code)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    assert lam.get_function_configuration(FunctionName=name)["CodeSize"] == len(new_code)
    assert "echo2" in tail(invoke(lam, name, {"k": 1}, LogType="Tail"))
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name in names
    lam.delete_function(FunctionName=name)
    assert code_of(lambda: lam.get_function(FunctionName=name)) == "ResourceNotFoundException"
    assert code_of(lambda: invoke(lam, name)) == "ResourceNotFoundException"


def test_list_functions_paginates(lam, role, code):
    for i in range(3):
        create(lam, role, code, "app.echo", name=f"page-{i}-{uuid.uuid4().hex[:4]}", wait=False)
    first = lam.list_functions(MaxItems=2)
    assert len(first["Functions"]) == 2 and first["NextMarker"]
    pages = lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert len(names) == len(set(names)) >= 3


def test_bad_input_gets_aws_errors(lam, role, code, lam_server):
    def create_with(**kw):
        params = dict(FunctionName=f"bad-{uuid.uuid4().hex[:6]}", Runtime="python3.11", Role=role,
                      Handler="app.echo", Code={"ZipFile": code})
        params.update(kw)
        return lambda: lam.create_function(**params)

    with pytest.raises(ClientError) as info:
        create_with(Handler="missing.handler")()
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "missing" in info.value.response["Error"]["Message"]
    assert code_of(create_with(Code={"ZipFile": b"not a zip"})) == "InvalidParameterValueException"
    assert code_of(create_with(Runtime="nodejs20.x")) == "InvalidParameterValueException"
    assert code_of(create_with(Runtime="python9.9")) in ("ValidationException", "InvalidParameterValueException")
    assert code_of(create_with(Timeout=1000)) == "ValidationException"
    assert code_of(create_with(MemorySize=20000)) == "ValidationException"
    assert code_of(create_with(Environment={"Variables": {"AWS_REGION": "x"}})) == "InvalidParameterValueException"
    assert code_of(create_with(Environment={"Variables": {"BIG": "x" * 5000}})) == "InvalidParameterValueException"
    iam = lam_server.client("iam")
    ec2_role = iam.create_role(RoleName="not-for-lambda", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))["Role"]["Arn"]
    with pytest.raises(ClientError) as info:
        create_with(Role=ec2_role)()
    assert info.value.response["Error"] == {
        "Code": "InvalidParameterValueException",
        "Message": "The role defined for the function cannot be assumed by Lambda."}
    missing = f"arn:aws:iam::{lam_server.account_id}:role/nope"
    assert code_of(create_with(Role=missing)) == "InvalidParameterValueException"
    name = create(lam, role, code, "app.echo")
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName=name, Payload=b'"' + b"x" * (7 * 1024 * 1024) + b'"')
    assert info.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024 + 10) + b'"')
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert code_of(lambda: lam.invoke(FunctionName=name, Payload=b"{not json")) == "InvalidRequestContentException"


# ------------------------------------------------------------------------------------- invoke


def test_invoke_modes_headers_and_logs(lam, role, code, lam_server):
    name = create(lam, role, code, "app.echo")
    reply = invoke(lam, name, {"hello": "world"}, LogType="Tail",
                   ClientContext=base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode())
    assert reply["StatusCode"] == 200 and json.loads(reply["Body"]) == {"hello": "world"}
    assert reply["ExecutedVersion"] == "$LATEST" and "FunctionError" not in reply
    log = tail(reply)
    request_id = reply["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log and f"END RequestId: {request_id}" in log
    assert 'echo {"hello": "world"}' in log
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')["StatusCode"] == 202
    messages = wait_for(lambda: [m for m in log_messages(lam_server, name) if '"async": true' in m])
    assert messages
    streams = lam_server.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert all(re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$", s["logStreamName"]) for s in streams)


def test_unhandled_error_is_200_with_function_error(lam, role, code):
    name = create(lam, role, code, "app.fail")
    reply = invoke(lam, name, {"marker": "sync"})
    assert reply["StatusCode"] == 200 and reply["FunctionError"] == "Unhandled"
    body = json.loads(reply["Body"])
    assert body["errorType"] == "RuntimeError" and body["errorMessage"] == "always fails"


def test_report_figures(lam, role, code):
    name = create(lam, role, code, "app.echo")
    cold = REPORT.search(tail(invoke(lam, name, LogType="Tail")))
    warm = REPORT.search(tail(invoke(lam, name, LogType="Tail")))
    assert cold["i"] is not None and warm["i"] is None
    assert int(cold["b"]) == math.ceil(float(cold["d"]) + float(cold["i"]))
    assert int(warm["b"]) == math.ceil(float(warm["d"])) and warm["m"] == "128"
    assert 1 <= int(warm["u"]) <= 128


def test_tmp_and_globals_do_not_leak(lam, role, code):
    name = create(lam, role, code, "app.leak")
    first = json.loads(invoke(lam, name)["Body"])
    second = json.loads(invoke(lam, name)["Body"])
    assert first == second == {"counter": 1, "tmp": []}


def test_memory_limit_kills_and_reports(lam, role, code):
    # 128 MB buys ~0.07 vCPU (AWS's memory-proportional CPU), so faulting in 128 MB takes ~1 s of throttled
    # CPU time, more on a busy host: the timeout leaves room for the OOM kill to be the outcome.
    name = create(lam, role, code, "app.allocate", MemorySize=128, Timeout=30)
    small = invoke(lam, name, {"mb": 16}, LogType="Tail")
    assert "FunctionError" not in small
    used_small = int(REPORT.search(tail(small))["u"])
    big = invoke(lam, name, {"mb": 400}, LogType="Tail")
    assert big["FunctionError"] == "Unhandled"
    body = json.loads(big["Body"])
    assert body["errorType"] == "Runtime.OutOfMemory", body
    report = REPORT.search(tail(big))
    assert int(report["u"]) == 128 > used_small


def test_timeout_kills_with_aws_payload(lam, role, code):
    name = create(lam, role, code, "app.sleep", Timeout=1)
    invoke(lam, name, {"seconds": 0})  # cold start out of the way
    started = time.monotonic()
    reply = invoke(lam, name, {"seconds": 30}, LogType="Tail")
    elapsed = time.monotonic() - started
    request_id = reply["ResponseMetadata"]["RequestId"]
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(reply["Body"]) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    assert 1.0 <= elapsed < 1.5
    report = REPORT.search(tail(reply))
    assert report["d"] == "1000.00" and "Status: timeout" in tail(reply)


def test_execution_role_credentials_reach_terrarium(lam, role, code, lam_server):
    name = create(lam, role, code, "app.whoami")
    reply = invoke(lam, name)
    assert "FunctionError" not in reply, reply["Body"]
    assert json.loads(reply["Body"]) == f"arn:aws:sts::{lam_server.account_id}:assumed-role/fn-exec/{name}"


def test_reserved_concurrency_one_throttles_second_sync_call(lam, role, code):
    name = create(lam, role, code, "app.sleep", Timeout=10)
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)[
        "ReservedConcurrentExecutions"] == 1
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 1
    invoke(lam, name, {"seconds": 0})
    outcome = {}

    def slow():
        outcome["slow"] = invoke(lam, name, {"seconds": 2})["Body"]

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.7)
    with pytest.raises(ClientError) as info:
        invoke(lam, name, {"seconds": 0})
    thread.join()
    assert info.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert json.loads(outcome["slow"]) == "woke"
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_async_failure_retried_twice_then_on_failure_destination(lam, role, code, lam_server):
    failing = create(lam, role, code, "app.fail")
    sink = create(lam, role, code, "app.record")
    sink_arn = lam.get_function(FunctionName=sink)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName=failing, MaximumRetryAttempts=2,
                                         DestinationConfig={"OnFailure": {"Destination": sink_arn}})
    assert lam.get_function_event_invoke_config(FunctionName=failing)["DestinationConfig"]["OnFailure"] == {
        "Destination": sink_arn}
    marker = uuid.uuid4().hex
    lam.invoke(FunctionName=failing, InvocationType="Event", Payload=json.dumps({"marker": marker}).encode())
    records = wait_for(lambda: [m for m in log_messages(lam_server, sink) if m.startswith("DESTINATION")], 60)
    record = json.loads(records[0].split(" ", 1)[1])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"marker": marker}
    assert record["responseContext"]["functionError"] == "Unhandled"
    attempts = [m for m in log_messages(lam_server, failing) if m == f"ATTEMPT {marker}"]
    assert len(attempts) == 3


# ------------------------------------------------------------------------------------- versions, policy, URLs


def test_versions_and_aliases(lam, role, code):
    name = create(lam, role, code, "app.version")
    v1 = lam.publish_version(FunctionName=name)
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f":{name}:1")
    lam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": APP.replace('"v1"', '"v2"')}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert json.loads(invoke(lam, name)["Body"]) == "v2"
    old = invoke(lam, name, Qualifier="1")
    assert json.loads(old["Body"]) == "v1" and old["ExecutedVersion"] == "1"
    assert json.loads(invoke(lam, f"{name}:live")["Body"]) == "v1"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1"]
    assert code_of(lambda: invoke(lam, name, Qualifier="7")) == "ResourceNotFoundException"


def test_resource_policy_lets_another_principal_invoke(lam, role, code, lam_server):
    name = create(lam, role, code, "app.echo")
    iam = lam_server.client("iam")
    user = iam.create_user(UserName=f"caller-{uuid.uuid4().hex[:6]}")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    as_user = lam_server.client("lambda", aws_access_key_id=key["AccessKeyId"],
                                aws_secret_access_key=key["SecretAccessKey"])
    assert code_of(lambda: invoke(as_user, name)) == "AccessDeniedException"
    statement = json.loads(lam.add_permission(FunctionName=name, StatementId="u", Action="lambda:InvokeFunction",
                                              Principal=user["Arn"])["Statement"])
    assert statement["Principal"] == {"AWS": user["Arn"]} and statement["Effect"] == "Allow"
    assert invoke(as_user, name, {"ok": 1})["StatusCode"] == 200
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["u"]
    assert code_of(lambda: lam.add_permission(FunctionName=name, StatementId="u", Action="lambda:InvokeFunction",
                                              Principal="s3.amazonaws.com")) == "ResourceConflictException"
    lam.remove_permission(FunctionName=name, StatementId="u")
    assert code_of(lambda: lam.get_policy(FunctionName=name)) == "ResourceNotFoundException"
    assert code_of(lambda: invoke(as_user, name)) == "AccessDeniedException"


def test_function_url_payload_v2_and_response_mapping(lam, role, code):
    name = create(lam, role, code, "app.web")
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    url = config["FunctionUrl"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url + "x")
    assert info.value.code == 403
    lam.add_permission(FunctionName=name, StatementId="public", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    request = urllib.request.Request(url + "items/7?q=1&e=%2541%20b", data=b'{"a": 1}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        assert reply.status == 201 and reply.headers["x-got"] == "/items/7"
        assert reply.headers["Set-Cookie"] == "a=1"
        assert json.loads(reply.read()) == {"method": "POST", "query": {"q": "1", "e": "%41 b"},
                                            "raw": "q=1&e=%2541%20b", "body": '{"a": 1}'}
    assert lam.get_function_url_config(FunctionName=name)["AuthType"] == "NONE"


# ------------------------------------------------------------------------------------- billing


def test_billing_ledger_counts_invocations(lam, role, code, lam_server):
    name = create(lam, role, code, "app.echo", MemorySize=256)
    for _ in range(3):
        invoke(lam, name)
    month = time.strftime("%Y-%m", time.gmtime())

    def row():
        store = SqliteStore(lam_server.data_dir / "state.db")
        try:
            return store.get_meta(f"lambda.usage/{month}", {}).get(lam_server.account_id, {}).get(name)
        finally:
            store.close()
    usage = wait_for(lambda: (r := row()) and r["requests"] == 3 and r)
    assert usage["gb_seconds"] == pytest.approx(0.25 * usage["billed_ms"] / 1000)
    assert usage["cost_usd"] == pytest.approx(3 * 0.2e-6 + usage["gb_seconds"] * 0.0000166667)


def test_function_url_with_aws_iam_auth_requires_a_signature(lam, role, code, lam_server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    name = create(lam, role, code, "app.web")
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"] + "signed?k=%2541"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url)
    assert info.value.code == 403

    def signed_get(access_key: str, secret: str) -> urllib.request.Request:
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials(access_key, secret), "lambda", "us-east-1").add_auth(request)
        return urllib.request.Request(url, headers=dict(request.headers.items()))

    with urllib.request.urlopen(signed_get(lam_server.access_key, lam_server.secret_key)) as reply:
        assert reply.status == 201 and reply.headers["x-got"] == "/signed"
    iam = lam_server.client("iam")
    user = iam.create_user(UserName=f"url-{uuid.uuid4().hex[:6]}")["User"]["UserName"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(signed_get(key["AccessKeyId"], key["SecretAccessKey"]))
    assert info.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(signed_get(lam_server.access_key, "wrong" * 8))
    assert info.value.code == 403
    iam.put_user_policy(UserName=user, PolicyName="url", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl",
                                                "Resource": f"arn:aws:lambda:*:*:function:{name}"}]}))
    with urllib.request.urlopen(signed_get(key["AccessKeyId"], key["SecretAccessKey"])) as reply:
        assert reply.status == 201


def test_code_from_terrarium_s3_and_s3_event_notifications(lam, role, code, lam_server):
    s3 = lam_server.client("s3")
    bucket = f"code-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=code)
    name = f"s3code-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=role, Handler="app.record",
                        Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    assert json.loads(invoke(lam, name, {"from": "s3"})["Body"]) == {"from": "s3"}
    with pytest.raises(ClientError) as info:
        lam.create_function(FunctionName=f"{name}-x", Runtime="python3.11", Role=role, Handler="app.record",
                            Code={"S3Bucket": bucket, "S3Key": "missing.zip"})
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "NoSuchKey" in info.value.response["Error"]["Message"]

    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
                       SourceAccount=lam_server.account_id)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="uploads/red flower.jpg", Body=b"x" * 10)
    records = wait_for(lambda: [m for m in log_messages(lam_server, name) if "ObjectCreated" in m], 30)
    event = json.loads(records[0].split(" ", 1)[1])["Records"][0]
    assert event["eventSource"] == "aws:s3" and event["s3"]["object"]["key"] == "uploads/red+flower.jpg"


def test_function_url_cors(lam, role, code):
    name = create(lam, role, code, "app.web")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"], "MaxAge": 30})["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="public", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    preflight = urllib.request.Request(url, method="OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    with urllib.request.urlopen(preflight) as reply:
        assert reply.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert reply.headers["Access-Control-Allow-Methods"] == "POST" and reply.headers["Access-Control-Max-Age"] == "30"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://app.example"})) as reply:
        assert reply.status == 201 and reply.headers["Access-Control-Allow-Origin"] == "https://app.example"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://evil.example"})) as reply:
        assert "Access-Control-Allow-Origin" not in reply.headers


def test_handler_sees_context_client_context_env_and_role_keys(lam, role, code, lam_server):
    name = create(lam, role, code, "app.context_view", MemorySize=256, Environment={"Variables": {"MY_VAR": "hi"}})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    context = base64.b64encode(json.dumps({"custom": {"tenant": "t1"}}).encode()).decode()
    reply = invoke(lam, name, Qualifier="prod", ClientContext=context)
    assert reply["ExecutedVersion"] == "1"
    assert json.loads(reply["Body"]) == {
        "name": name, "arn": f"arn:aws:lambda:us-east-1:{lam_server.account_id}:function:{name}:prod",
        "memory": "256", "version": "1", "custom": {"tenant": "t1"}, "env": "hi", "endpoint": True, "key": "ASIA"}
    assert code_of(lambda: lam.invoke(FunctionName=name, ClientContext="%%%")) == "InvalidRequestContentException"
