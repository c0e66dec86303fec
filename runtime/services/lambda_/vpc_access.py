"""A function's `VpcConfig`: checked against the VPC records, and made into Hyperplane ENI records.

As on AWS, a VPC function gets one requester-managed ENI (`InterfaceType` "lambda") per subnet, carrying the
function's security groups; its sandboxes share it through NAT (runtime/host/net/hyperplane.py), so the VPC
sees every invocation as that ENI's private IP. The records are intent only: the Hyperplane realiser
(runtime/control/lambda_net.py) makes them real and marks them ready, which activation waits for. Sandboxes
use the first subnet's ENI (AWS spreads environments over the subnets; one host has one zone anyway).
"""

from __future__ import annotations

import secrets
import time

from runtime.errors import AwsError, NotFound
from runtime.iam import policy as engine
from runtime.services.iam.directory import IamDirectory
from runtime.services.lambda_.errors import invalid
from runtime.services.vpc import interfaces
from runtime.services.vpc.common import NETWORK_INTERFACE, SECURITY_GROUPS, SUBNETS, lookup
from runtime.state import Record, Store, kinds

# What Lambda does with the execution role to manage a VPC function's ENIs (AWSLambdaVPCAccessExecutionRole).
ENI_ACTIONS = ("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface")


def _ec2_error(call: str, error: AwsError) -> AwsError:
    return invalid(f"Error occurred while {call}. EC2 Error Code: {error.code}. EC2 Error Message: {error.message}")


def resolve(store: Store, account: str, config: dict | None) -> dict | None:
    """The stored VpcConfig (with VpcId) for the request's `config`, or None for no VPC; AWS's errors for bad ones."""
    subnet_ids = list(dict.fromkeys((config or {}).get("SubnetIds") or []))
    group_ids = list(dict.fromkeys((config or {}).get("SecurityGroupIds") or []))
    if not subnet_ids and not group_ids:
        return None
    if not subnet_ids or not group_ids:
        raise invalid("SubnetIds and SecurityIds must coexist or be both empty list.")
    if len(subnet_ids) > 16:
        raise invalid("The maximum number of subnets (16) for VpcConfig has been exceeded.")
    if len(group_ids) > 5:
        raise invalid("The maximum number of security groups (5) for VpcConfig has been exceeded.")
    try:
        subnets = [lookup(store, SUBNETS, account, s) for s in subnet_ids]
    except AwsError as e:
        raise _ec2_error("DescribeSubnets", e) from None
    try:
        groups = [lookup(store, SECURITY_GROUPS, account, g) for g in group_ids]
    except AwsError as e:
        raise _ec2_error("DescribeSecurityGroups", e) from None
    vpc_ids = {s.spec["VpcId"] for s in subnets}
    if len(vpc_ids) > 1:
        raise invalid("Subnets are required to be in the same VPC.")
    vpc_id = vpc_ids.pop()
    if any(g.spec["VpcId"] != vpc_id for g in groups):
        raise invalid("Security Groups are required to be in the same VPC.")
    return {"SubnetIds": subnet_ids, "SecurityGroupIds": group_ids, "VpcId": vpc_id,
            "Ipv6AllowedForDualStack": bool((config or {}).get("Ipv6AllowedForDualStack", False))}


def check_role_manages_enis(directory: IamDirectory, role: Record) -> None:
    """AWS refuses a VPC configuration whose execution role may not manage network interfaces: the role's own
    policies (and permissions boundary) are evaluated by the IAM engine for each of ENI_ACTIONS."""
    policies, boundary = directory.entity_policies(role), directory.boundary(role)
    for action in ENI_ACTIONS:
        request = engine.RequestContext(role.spec["Arn"], role.account, action, ("*",),
                                        {"aws:PrincipalArn": role.spec["Arn"]})
        if engine.evaluate(request, policies, permissions_boundary=boundary) is not engine.Decision.ALLOW:
            raise invalid(f"The provided execution role does not have permissions to call "
                          f"{action.split(':', 1)[1]} on EC2")


def create_enis(store: Store, account: str, function_name: str, function_arn: str, vpc: dict) -> list[str]:
    """One requester-managed ENI per subnet, attached to Lambda; their ids in subnet order. Raises AWS's
    InvalidParameterValueException when a subnet has no free address: call it inside the transaction that
    records the function, so a failure leaves no half-made interfaces."""
    made: list[str] = []
    try:
        for subnet_id in vpc["SubnetIds"]:
            subnet = store.get(SUBNETS.kind, subnet_id)
            eni = interfaces.create_interface(
                store, account, subnet, group_ids=vpc["SecurityGroupIds"], interface_type=kinds.LAMBDA_INTERFACE_TYPE,
                description=f"AWS Lambda VPC ENI-{function_name}-{secrets.token_hex(4)}")
            made.append(eni.id)
            store.update_spec(NETWORK_INTERFACE, eni.id, lambda s: {
                **s, "RequesterManaged": True, "LambdaFunctionArn": function_arn,
                "Attachment": {"AttachmentId": f"ela-attach-{secrets.token_hex(8)}", "InstanceId": None,
                               "InstanceOwnerId": "amazon-aws", "DeviceIndex": 1, "DeleteOnTermination": False,
                               "AttachTime": time.time()}})
            store.update_status(NETWORK_INTERFACE, eni.id, {"Status": "in-use"})
    except AwsError as e:
        raise _ec2_error("CreateNetworkInterface", e) from None
    return made


def release(store: Store, eni_ids: list[str]) -> None:
    """Delete the function's ENIs (the realiser removes their namespaces); missing ones are fine."""
    for eni_id in eni_ids:
        try:
            record = store.get(NETWORK_INTERFACE, eni_id)
        except NotFound:
            continue
        interfaces.delete_interface(store, record)


def ready(store: Store, eni_ids: list[str]) -> bool:
    """Are all of them realised on the host (the Hyperplane realiser's mark)?"""
    for eni_id in eni_ids:
        try:
            if store.get(NETWORK_INTERFACE, eni_id).status.get(kinds.HYPERPLANE) != kinds.HYPERPLANE_READY:
                return False
        except NotFound:  # a deleted ENI never becomes ready
            return False
    return True
