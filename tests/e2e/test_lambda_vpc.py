"""Lambda VpcConfig for real: a VPC function's sandboxes reach an instance in a private subnet through the
function's Hyperplane ENI, exactly as the security groups allow (the instance's group admits the function's
group on port 80 only), while a function without VpcConfig has no way there at all. The ENI is a real
requester-managed interface in DescribeNetworkInterfaces, and it goes away with the configuration."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runtime.host.net import naming
from tests.e2e.test_lambda import TRUST_LAMBDA, code_of, make_zip, wait_for
from tests.e2e.test_operator_cli import terrarium
from tests.server import start_server

pytestmark = pytest.mark.host

USER_DATA = """#!/bin/sh
echo hello-from-the-vpc > /tmp/index.html
cd /tmp && nohup python3 -m http.server 80 >/dev/null 2>&1 &
cd /tmp && nohup python3 -m http.server 8081 >/dev/null 2>&1 &
"""

APP = '''
import urllib.request
import boto3


def fetch(event, context):
    try:
        with urllib.request.urlopen(event["url"], timeout=event.get("timeout", 2)) as reply:
            return {"body": reply.read().decode()}
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def whoami(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]


def nap(event, context):
    import time
    time.sleep(event["seconds"])
    return "rested"
'''


@pytest.fixture(scope="module")
def lab(server):
    """A VPC with one private subnet (no internet gateway), an instance serving :80 and :8081 whose group admits
    only the function's group, and only on 80."""
    ec2, iam = server.client("ec2"), server.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    fn_sg = ec2.create_security_group(GroupName="fn", Description="the function", VpcId=vpc)["GroupId"]
    web_sg = ec2.create_security_group(GroupName="web", Description="the web app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": fn_sg}]}])
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-12-*"]}])["Images"]
    image = max(images, key=lambda i: i["CreationDate"])["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1, MaxCount=1, SubnetId=subnet,
                                 SecurityGroupIds=[web_sg], UserData=USER_DATA)["Instances"][0]
    role = iam.create_role(RoleName="vpc-fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    iam.put_role_policy(RoleName="vpc-fn", PolicyName="sts", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity",
                                                "Resource": "*"}]}))
    iam.attach_role_policy(RoleName="vpc-fn",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")
    bare = iam.create_role(RoleName="vpc-fn-bare", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
    lab = {"vpc": vpc, "subnet": subnet, "fn_sg": fn_sg, "web_sg": web_sg, "role": role, "bare_role": bare,
           "instance": instance["InstanceId"], "ip": instance["PrivateIpAddress"]}
    yield lab
    ec2.terminate_instances(InstanceIds=[lab["instance"]])


@pytest.fixture(scope="module")
def lam(server):
    return server.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=60))


def create(lam, lab, handler, **extra) -> str:
    name = f"vpc-{handler}-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=lab["role"], Handler=f"app.{handler}",
                        Code={"ZipFile": make_zip({"app.py": APP})}, Timeout=10, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    return name


def call(lam, name, event) -> dict | str:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in reply, reply["Payload"].read()
    return json.loads(reply["Payload"].read())


def lambda_enis(ec2, vpc_id: str) -> list[dict]:
    return ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                    {"Name": "interface-type", "Values": ["lambda"]}])[
        "NetworkInterfaces"]


def namespaces() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


def test_vpc_function_reaches_the_vpc_only_as_its_security_groups_allow(server, lam, lab):
    ec2 = server.client("ec2")
    vpc_config = {"SubnetIds": [lab["subnet"]], "SecurityGroupIds": [lab["fn_sg"]]}
    name = create(lam, lab, "fetch", VpcConfig=vpc_config)
    outsider = create(lam, lab, "fetch")
    try:
        config = lam.get_function_configuration(FunctionName=name)["VpcConfig"]
        assert config["VpcId"] == lab["vpc"] and config["SubnetIds"] == [lab["subnet"]]
        assert config["SecurityGroupIds"] == [lab["fn_sg"]]
        [eni] = lambda_enis(ec2, lab["vpc"])
        assert eni["SubnetId"] == lab["subnet"] and eni["RequesterManaged"] is True and eni["Status"] == "in-use"
        assert [g["GroupId"] for g in eni["Groups"]] == [lab["fn_sg"]]
        assert eni["Description"].startswith(f"AWS Lambda VPC ENI-{name}-")
        assert eni["Attachment"]["InstanceOwnerId"] == "amazon-aws"
        assert naming.lambda_netns(eni["NetworkInterfaceId"]) in namespaces()
        assert code_of(lambda: ec2.delete_network_interface(
            NetworkInterfaceId=eni["NetworkInterfaceId"])) == "InvalidNetworkInterface.InUse"

        allowed = f"http://{lab['ip']}/index.html"
        reply = wait_for(lambda: (r := call(lam, name, {"url": allowed})).get("body") and r, timeout=90, every=1)
        assert reply["body"].strip() == "hello-from-the-vpc"
        blocked = call(lam, name, {"url": f"http://{lab['ip']}:8081/index.html", "timeout": 1})
        assert "timed out" in blocked["error"]
        unreachable = call(lam, outsider, {"url": allowed, "timeout": 1})
        assert "error" in unreachable and "Network is unreachable" in unreachable["error"]

        lam.update_function_configuration(FunctionName=name, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        assert lambda_enis(ec2, lab["vpc"]) == []
        assert "error" in call(lam, name, {"url": allowed, "timeout": 1})
        wait_for(lambda: naming.lambda_netns(eni["NetworkInterfaceId"]) not in namespaces(), timeout=10)
    finally:
        lam.delete_function(FunctionName=name)
        lam.delete_function(FunctionName=outsider)


def test_vpc_function_still_reaches_terrarium_with_its_role(server, lam, lab):
    name = create(lam, lab, "whoami", VpcConfig={"SubnetIds": [lab["subnet"]], "SecurityGroupIds": [lab["fn_sg"]]})
    try:
        assert call(lam, name, {}).endswith(f":assumed-role/vpc-fn/{name}")
        [eni] = lambda_enis(server.client("ec2"), lab["vpc"])
    finally:
        lam.delete_function(FunctionName=name)
    assert lambda_enis(server.client("ec2"), lab["vpc"]) == []
    wait_for(lambda: naming.lambda_netns(eni["NetworkInterfaceId"]) not in namespaces(), timeout=10)


def test_bad_vpc_config_gets_aws_errors(server, lam, lab):
    default_group = next(g["GroupId"] for g in server.client("ec2").describe_security_groups()["SecurityGroups"]
                         if g["GroupName"] == "default" and g["VpcId"] != lab["vpc"])

    def create_with(vpc_config, role=lab["role"]):
        with pytest.raises(ClientError) as info:
            lam.create_function(FunctionName=f"bad-{uuid.uuid4().hex[:6]}", Runtime="python3.11", Role=role,
                                Handler="app.fetch", Code={"ZipFile": make_zip({"app.py": APP})},
                                VpcConfig=vpc_config)
        return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]

    code, message = create_with({"SubnetIds": [lab["subnet"]]})
    assert code == "InvalidParameterValueException" and "must coexist" in message
    code, message = create_with({"SubnetIds": ["subnet-0123456789abcdef0"], "SecurityGroupIds": [lab["fn_sg"]]})
    assert code == "InvalidParameterValueException" and "InvalidSubnetID.NotFound" in message
    code, message = create_with({"SubnetIds": [lab["subnet"]], "SecurityGroupIds": ["sg-0123456789abcdef0"]})
    assert code == "InvalidParameterValueException" and "InvalidGroup.NotFound" in message
    code, message = create_with({"SubnetIds": [lab["subnet"]], "SecurityGroupIds": [default_group]})
    assert code == "InvalidParameterValueException" and "same VPC" in message
    code, message = create_with({"SubnetIds": [lab["subnet"]], "SecurityGroupIds": [lab["fn_sg"]]}, lab["bare_role"])
    assert (code, message) == ("InvalidParameterValueException",
                               "The provided execution role does not have permissions to call CreateNetworkInterface "
                               "on EC2")
    plain = create(lam, {**lab, "role": lab["bare_role"]}, "fetch")
    try:
        assert code_of(lambda: lam.update_function_configuration(FunctionName=plain, VpcConfig={
            "SubnetIds": [lab["subnet"]], "SecurityGroupIds": [lab["fn_sg"]]})) == "InvalidParameterValueException"
    finally:
        lam.delete_function(FunctionName=plain)
    assert lambda_enis(server.client("ec2"), lab["vpc"]) == []


def test_running_invocations_are_visible_to_the_operator(server, lam, lab):
    """GET /_terrarium/activity and `terrarium ps`: the in-flight invocation with its processes, its Hyperplane
    ENI and its address, and the function's execution environment."""
    name = create(lam, lab, "nap", VpcConfig={"SubnetIds": [lab["subnet"]], "SecurityGroupIds": [lab["fn_sg"]]})
    try:
        replies: list = []
        caller = threading.Thread(target=lambda: replies.append(call(lam, name, {"seconds": 6})))
        caller.start()

        def running():
            with urllib.request.urlopen(f"{server.endpoint}/_terrarium/activity", timeout=5) as reply:
                activity = json.loads(reply.read())
            return [i for i in activity["invocations"] if i["FunctionArn"].endswith(f":function:{name}")] and activity
        activity = wait_for(running, timeout=20, every=0.1)
        [invocation] = [i for i in activity["invocations"] if i["FunctionArn"].endswith(f":function:{name}")]
        [eni] = lambda_enis(server.client("ec2"), lab["vpc"])
        assert invocation["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
        assert invocation["Address"].startswith("100.") and invocation["Pids"]
        assert any(e["FunctionArn"] == invocation["FunctionArn"] and e["Inflight"] == 1 and e["MemoryBytes"] > 0
                   for e in activity["environments"])
        listed = terrarium(server, "ps", "--json")
        assert listed.returncode == 0
        assert invocation["RequestId"] in {i["RequestId"] for i in json.loads(listed.stdout)["invocations"]}
        table = terrarium(server, "ps")
        assert "Running invocations" in table.stdout and invocation["Address"] in table.stdout
        caller.join()
        assert replies == ["rested"]
    finally:
        lam.delete_function(FunctionName=name)


def test_kill_9_keeps_the_vpc_function_and_down_removes_its_namespace(tmp_path):
    """The ENI's namespace is derived from the database: a server killed with -9 and started again serves the VPC
    function at once, and `terrarium down` (Server.stop) leaves no Hyperplane namespace behind."""
    server = start_server(tmp_path / "data", log_path=tmp_path / "server.log")
    try:
        ec2, iam = server.client("ec2"), server.client("iam")
        vpc = ec2.create_vpc(CidrBlock="10.78.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.78.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        role = iam.create_role(RoleName="vpc-fn", AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="vpc-fn",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")
        lab = {"role": role}
        name = create(server.client("lambda"), lab, "nap",
                      VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group]})
        [eni] = lambda_enis(ec2, vpc)
        namespace = naming.lambda_netns(eni["NetworkInterfaceId"])
        assert call(server.client("lambda"), name, {"seconds": 0}) == "rested"
        server.process.kill()
        server.process.wait()
        assert namespace in namespaces()
        server = start_server(tmp_path / "data", log_path=tmp_path / "server.log")
        assert call(server.client("lambda"), name, {"seconds": 0}) == "rested"
    finally:
        server.stop()
    assert namespace not in namespaces()
