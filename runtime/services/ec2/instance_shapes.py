"""Instance records to the shapes DescribeInstances and RunInstances answer with."""

from __future__ import annotations

from collections.abc import Callable

from runtime.services.ec2 import instance_state as states
from runtime.services.ec2.tagging import tag_list
from runtime.state import Record


def private_dns(ip: str, region: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def public_dns(ip: str | None, region: str) -> str:
    if not ip:
        return ""
    host = "ec2-" + ip.replace(".", "-")
    return f"{host}.compute-1.amazonaws.com" if region == "us-east-1" else \
        f"{host}.{region}.compute.amazonaws.com"


def instance_shape(record: Record, public_ip: str | None) -> dict:
    spec, status = record.spec, record.status
    net = spec["Placement"]
    region = net.get("Region", "us-east-1")
    state_name = status.get("State", "pending")
    public_ip = public_ip if state_name not in ("stopped", "terminated") else None
    private_ip = net["PrivateIpAddress"] if state_name != "terminated" else None
    shape = {
        "InstanceId": record.id, "ImageId": spec["ImageId"], "State": states.state(state_name),
        "PrivateDnsName": private_dns(net["PrivateIpAddress"], region) if private_ip else "",
        "PublicDnsName": public_dns(public_ip, region), "StateTransitionReason": status.get("StateTransitionReason", ""),
        "AmiLaunchIndex": spec["AmiLaunchIndex"], "InstanceType": spec["InstanceType"],
        "LaunchTime": status.get("LaunchTime", spec["LaunchTime"]),
        "Placement": {"AvailabilityZone": net["AvailabilityZone"], "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"}, "Architecture": "x86_64", "RootDeviceType": "ebs",
        "RootDeviceName": "/dev/xvda", "VirtualizationType": "hvm", "Hypervisor": "xen", "EnaSupport": True,
        "EbsOptimized": False, "SourceDestCheck": net.get("SourceDestCheck", True),
        "ClientToken": spec.get("ClientToken") or "", "Tags": tag_list(record.tags),
        "SecurityGroups": net["Groups"], "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances",
        "MetadataOptions": {**spec["MetadataOptions"], "State": "applied"},
        "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 1},
        "BlockDeviceMappings": [] if state_name == "terminated" else [{
            "DeviceName": "/dev/xvda", "Ebs": {"VolumeId": net.get("RootVolumeId", ""), "Status": "attached",
                                               "AttachTime": spec["LaunchTime"], "DeleteOnTermination": True}}],
    }
    if state_name != "terminated":
        shape.update({"VpcId": net["VpcId"], "SubnetId": net["SubnetId"], "PrivateIpAddress": private_ip})
        shape["NetworkInterfaces"] = [{
            "NetworkInterfaceId": net["NetworkInterfaceId"], "SubnetId": net["SubnetId"], "VpcId": net["VpcId"],
            "Description": "", "OwnerId": record.account, "Status": "in-use", "MacAddress": net.get("MacAddress", ""),
            "PrivateIpAddress": private_ip, "PrivateDnsName": private_dns(private_ip, region),
            "SourceDestCheck": net.get("SourceDestCheck", True), "Groups": net["Groups"],
            "Attachment": {"AttachmentId": net.get("AttachmentId", ""), "DeviceIndex": 0, "Status": "attached",
                           "AttachTime": spec["LaunchTime"], "DeleteOnTermination": True, "NetworkCardIndex": 0},
            "PrivateIpAddresses": [{"PrivateIpAddress": private_ip, "Primary": True,
                                    "PrivateDnsName": private_dns(private_ip, region),
                                    **({"Association": {"PublicIp": public_ip, "IpOwnerId": "amazon",
                                                        "PublicDnsName": public_dns(public_ip, region)}}
                                       if public_ip else {})}],
            "InterfaceType": "interface",
            **({"Association": {"PublicIp": public_ip, "IpOwnerId": "amazon",
                                "PublicDnsName": public_dns(public_ip, region)}} if public_ip else {}),
        }]
    if public_ip:
        shape["PublicIpAddress"] = public_ip
    if spec.get("KeyName"):
        shape["KeyName"] = spec["KeyName"]
    if spec.get("IamInstanceProfile"):
        shape["IamInstanceProfile"] = {"Arn": spec["IamInstanceProfile"]["Arn"],
                                       "Id": spec["IamInstanceProfile"]["Id"]}
    if status.get("StateReason"):
        shape["StateReason"] = status["StateReason"]
    return shape


def reservation_shape(reservation_id: str, account: str, records: list[Record],
                      public_ip: Callable[[Record], str | None]) -> dict:
    return {"ReservationId": reservation_id, "OwnerId": account, "Groups": [],
            "Instances": [instance_shape(r, public_ip(r)) for r in records]}
