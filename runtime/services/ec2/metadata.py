"""What the instance metadata service tells an instance about itself (the `MetadataSource` of host/imds).

The caller is identified by the VPC its connection arrived in and its private IP. Role credentials for the
instance profile are STS sessions of the role, minted here, cached in the instance's status and renewed when
less than a quarter of their six hours is left, as EC2 rotates them.
"""

from __future__ import annotations

import base64
import json
import time

from runtime.errors import NotFound
from runtime.iam.credentials import SessionIssuer
from runtime.services.ec2 import placement
from runtime.services.ec2.instance_shapes import private_dns, public_dns
from runtime.state import Record, Store

KIND = "ec2.instance"
ROLE = "iam.role"
PROFILE = "iam.instanceprofile"
KEYPAIR = "ec2.keypair"
SESSION_SECONDS = 6 * 3600
RENEW_BEFORE = SESSION_SECONDS / 4


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class InstanceMetadataSource:
    def __init__(self, store: Store, region: str) -> None:
        self.store = store
        self.region = region
        self.sessions = SessionIssuer(store)

    def lookup(self, vpc_id: str, private_ip: str) -> dict | None:
        """The IMDS port (`runtime/host/imds/server.py` `MetadataSource`): the fields of its InstanceMetadata."""
        matches = [r for r in self.store.list(KIND, where={"VpcId": vpc_id, "PrivateIpAddress": private_ip})
                   if r.status.get("State") not in ("terminated", "shutting-down")]
        if not matches:
            return None
        record = matches[0]
        spec = record.spec
        options = spec.get("MetadataOptions") or {}
        user_data = base64.b64decode(spec["UserData"]) if spec.get("UserData") else None
        return {"instance_id": record.id, "meta_data": self._tree(record), "user_data": user_data,
                "identity_document": self._identity(record), "http_tokens": options.get("HttpTokens", "optional"),
                "http_endpoint": options.get("HttpEndpoint", "enabled")}

    def _identity(self, record: Record) -> dict:
        spec = record.spec
        return {"accountId": record.account, "architecture": "x86_64",
                "availabilityZone": spec["Placement"]["AvailabilityZone"], "billingProducts": None,
                "devpayProductCodes": None, "marketplaceProductCodes": None, "imageId": spec["ImageId"],
                "instanceId": record.id, "instanceType": spec["InstanceType"], "kernelId": None,
                "pendingTime": _iso(spec["LaunchTime"]), "privateIp": spec["PrivateIpAddress"],
                "ramdiskId": None, "region": self.region, "version": "2017-09-30"}

    def _tree(self, record: Record) -> dict:
        spec, status = record.spec, record.status
        net = spec["Placement"]
        ip = net["PrivateIpAddress"]
        mac = net.get("MacAddress", "")
        public_ip = placement.public_ip(self.store, net["NetworkInterfaceId"])
        local_name = private_dns(ip, self.region)
        interface = {"device-number": "0", "interface-id": net["NetworkInterfaceId"], "local-hostname": local_name,
                     "local-ipv4s": ip, "mac": mac, "owner-id": record.account,
                     "security-group-ids": "\n".join(g["GroupId"] for g in net["Groups"]),
                     "security-groups": "\n".join(g["GroupName"] for g in net["Groups"]),
                     "subnet-id": net["SubnetId"], "subnet-ipv4-cidr-block": net.get("SubnetCidr", ""),
                     "vpc-id": net["VpcId"], "vpc-ipv4-cidr-block": net.get("VpcCidr", ""),
                     "vpc-ipv4-cidr-blocks": net.get("VpcCidr", "")}
        if public_ip:
            interface["public-ipv4s"] = public_ip
            interface["public-hostname"] = public_dns(public_ip, self.region)
        tree: dict = {
            "ami-id": spec["ImageId"], "ami-launch-index": str(spec["AmiLaunchIndex"]),
            "ami-manifest-path": "(unknown)", "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
            "hostname": local_name, "instance-action": "none", "instance-id": record.id,
            "instance-life-cycle": "on-demand", "instance-type": spec["InstanceType"],
            "local-hostname": local_name, "local-ipv4": ip, "mac": mac,
            "network": {"interfaces": {"macs": {mac: interface}}},
            "placement": {"availability-zone": net["AvailabilityZone"], "region": self.region,
                          "availability-zone-id": net.get("AvailabilityZoneId", "")},
            "profile": "default-hvm", "reservation-id": spec["ReservationId"],
            "security-groups": "\n".join(g["GroupName"] for g in net["Groups"]),
            "services": {"domain": "amazonaws.com", "partition": "aws"},
        }
        if public_ip:
            tree["public-ipv4"] = public_ip
            tree["public-hostname"] = public_dns(public_ip, self.region)
        if spec.get("KeyName"):
            key = self.store.find(KEYPAIR, record.account, spec["KeyName"])
            if key is not None:
                tree["public-keys"] = {"0": {"openssh-key": f"{key.spec['PublicKey']} {key.name}"}}
        if (spec.get("MetadataOptions") or {}).get("InstanceMetadataTags") == "enabled":
            tree["tags"] = {"instance": dict(record.tags)}
        iam = self._iam(record)
        if iam:
            tree["iam"] = iam
        return tree

    def _iam(self, record: Record) -> dict | None:
        profile_ref = record.spec.get("IamInstanceProfile")
        if not profile_ref:
            return None
        profile = self.store.find(PROFILE, record.account, profile_ref["Name"])
        roles = (profile.spec.get("Roles") if profile else None) or []
        info = {"Code": "Success", "LastUpdated": _iso(time.time()), "InstanceProfileArn": profile_ref["Arn"],
                "InstanceProfileId": profile_ref["Id"]}
        tree: dict = {"info": json.dumps(info, indent=2), "security-credentials": {}}
        if not roles:
            return tree
        try:
            role = self.store.get(ROLE, roles[0])
        except NotFound:
            return tree
        tree["security-credentials"][role.spec["RoleName"]] = json.dumps(self._credentials(record, role),
                                                                         indent=2)
        return tree

    def _credentials(self, record: Record, role: Record) -> dict:
        cached = record.status.get("ImdsCredentials")
        now = time.time()
        if not cached or cached.get("RoleArn") != role.spec.get("Arn") or cached["Expiration"] - now < RENEW_BEFORE:
            session = self.sessions.issue_role_session(role, record.id, SESSION_SECONDS,
                                                       source=f"ec2:{record.id}")
            cached = {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
                      "Token": session.session_token, "Expiration": session.expiration, "Issued": now,
                      "RoleArn": role.spec.get("Arn")}
            self.store.update_status(KIND, record.id, {"ImdsCredentials": cached})
        return {"Code": "Success", "LastUpdated": _iso(cached["Issued"]), "Type": "AWS-HMAC",
                "AccessKeyId": cached["AccessKeyId"], "SecretAccessKey": cached["SecretAccessKey"],
                "Token": cached["Token"], "Expiration": _iso(cached["Expiration"])}
