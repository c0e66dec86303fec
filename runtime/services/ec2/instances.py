"""EC2 instances: the API records what the user wants; the instance realiser makes it so with a container.

A record (`ec2.instance`) keeps the launch request in `spec` (image, type, key, user data, network placement,
`DesiredState` running|stopped|terminated, a `RebootCount` the realiser acts on) and what is observed in
`status` (`State`, reasons, the public IP while running, billing periods). Requests move the state at once to
its transitional name (`pending`, `stopping`, `shutting-down`), as AWS answers, and the realiser completes the
transition when the container has done it.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.services._shared import arns, ids
from runtime.services._shared.filters import matches_filters
from runtime.services.ec2 import instance_state as states
from runtime.services.ec2 import placement
from runtime.services.ec2.images import find_image
from runtime.services.ec2.instance_shapes import reservation_shape
from runtime.services.ec2.instance_types import instance_type
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.services.ec2.volumes import create_root_volume
from runtime.state import Record, Store

ConsoleReader = Callable[[str], Awaitable[bytes]]

KIND = "ec2.instance"
KEYPAIR = "ec2.keypair"
INSTANCE_PROFILE = "iam.instanceprofile"
ROLE = "iam.role"
MAX_USER_DATA = 16 * 1024
MAX_LAUNCH = 20


def _instance_arns(ctx: RequestContext, params: dict) -> list[str]:
    found = params.get("InstanceIds") or ([params["InstanceId"]] if params.get("InstanceId") else ["*"])
    return [arns.ec2_arn(ctx.region, ctx.account, "instance", i) for i in found]


def _not_found(missing: list[str]) -> AwsError:
    if len(missing) == 1:
        return AwsError("InvalidInstanceID.NotFound", f"The instance ID '{missing[0]}' does not exist")
    return AwsError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")


class InstancesProvider:
    def __init__(self, store: Store, zones: tuple[str, ...], console: ConsoleReader) -> None:
        self.store = store
        self.zones = zones
        self.console = console

    def required_actions(self, ctx: RequestContext, operation_name: str, params: dict) -> list[tuple]:
        """RunInstances with an instance profile also needs `iam:PassRole` on the profile's role (the gateway's
        authorizer decides it like the operation's own action)."""
        wanted = params.get("IamInstanceProfile") if operation_name == "RunInstances" else None
        if not wanted:
            return []
        name = wanted.get("Name") or (wanted.get("Arn") or "").rsplit("/", 1)[-1]
        profile = self.store.find(INSTANCE_PROFILE, ctx.account, name)
        roles = [self.store.get(ROLE, role_id) for role_id in (profile.spec.get("Roles") or [])] if profile else []
        return [("iam:PassRole", role.spec["Arn"], {"iam:PassedToService": "ec2.amazonaws.com"}) for role in roles]

    def _records(self, ctx: RequestContext, instance_ids: list[str] | None) -> list[Record]:
        if instance_ids:
            for instance_id in instance_ids:
                if not ids.is_id("instance", instance_id):
                    raise AwsError("InvalidInstanceID.Malformed",
                                   f'Invalid id: "{instance_id}" (expecting "i-...")')
            found = []
            missing = []
            for instance_id in instance_ids:
                try:
                    record = self.store.get(KIND, instance_id)
                except NotFound:
                    record = None
                if record is None or record.account != ctx.account:
                    missing.append(instance_id)
                else:
                    found.append(record)
            if missing:
                raise _not_found(missing)
            return found
        return [r for r in self.store.list(KIND, ctx.account) if self._visible(r)]

    @staticmethod
    def _visible(record: Record) -> bool:
        if record.status.get("State") != "terminated":
            return True
        return time.time() - record.status.get("TerminatedAt", 0) < states.TERMINATED_VISIBLE_S

    def _reservation(self, reservation_id: str, account: str, records: list[Record]) -> dict:
        return reservation_shape(reservation_id, account, records, lambda r: placement.public_ip(
            self.store, r.spec["Placement"]["NetworkInterfaceId"]))

    # ------------------------------------------------------------------------------------------ launch

    def _validate_launch(self, ctx: RequestContext, params: dict) -> dict:
        min_count, max_count = params["MinCount"], params["MaxCount"]
        if min_count < 1 or max_count < min_count:
            raise AwsError("InvalidParameterValue",
                           "Value for parameter MinCount/MaxCount is invalid: MinCount must be at least 1 and "
                           "no greater than MaxCount")
        if min_count > MAX_LAUNCH:
            raise AwsError("InstanceLimitExceeded",
                           f"You have requested more instances ({min_count}) than your current instance limit "
                           f"of {MAX_LAUNCH} allows for the specified instance type.")
        if not params.get("ImageId"):
            raise AwsError("MissingParameter", "The request must contain the parameter ImageId")
        image = find_image(self.store, ctx.account, params["ImageId"])
        if not params.get("InstanceType"):
            raise AwsError("MissingParameter", "The request must contain the parameter InstanceType")
        itype = instance_type(params["InstanceType"])
        key = None
        if params.get("KeyName"):
            key = self.store.find(KEYPAIR, ctx.account, params["KeyName"])
            if key is None:
                raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{params['KeyName']}' does not exist")
        user_data = params.get("UserData") or ""
        try:
            raw = base64.b64decode(user_data, validate=True) if user_data else b""
        except (binascii.Error, ValueError) as exc:
            raise AwsError("InvalidParameterValue", "Invalid BASE64 encoding of user data.") from exc
        if len(raw) > MAX_USER_DATA:
            raise AwsError("InvalidParameterValue", "User data is limited to 16384 bytes")
        profile = None
        if params.get("IamInstanceProfile"):
            wanted = params["IamInstanceProfile"]
            name = wanted.get("Name") or (wanted.get("Arn") or "").rsplit("/", 1)[-1]
            profile = self.store.find(INSTANCE_PROFILE, ctx.account, name)
            if profile is None:
                raise AwsError("InvalidParameterValue",
                               f"Value ({wanted.get('Name') or wanted.get('Arn')}) for parameter "
                               f"iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
        metadata = params.get("MetadataOptions") or {}
        return {"image": image, "type": itype, "key": key, "user_data": user_data, "profile": profile,
                "metadata": {"HttpTokens": metadata.get("HttpTokens", "optional"),
                             "HttpPutResponseHopLimit": metadata.get("HttpPutResponseHopLimit", 2),
                             "HttpEndpoint": metadata.get("HttpEndpoint", "enabled"),
                             "InstanceMetadataTags": metadata.get("InstanceMetadataTags", "disabled")}}

    @operation("RunInstances", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "instance", "*"), arns.image_arn(ctx.region, p.get("ImageId", "*"))])
    def run_instances(self, ctx: RequestContext, params: dict) -> dict:
        token = params.get("ClientToken")
        if token:
            existing = self.store.list(KIND, ctx.account, where={"ClientToken": token})
            if existing:
                reservation = existing[0].spec["ReservationId"]
                return self._reservation(reservation, ctx.account, existing)
        launch = self._validate_launch(ctx, params)
        reservation = ids.new_id("reservation")
        now = time.time()
        tags = tags_from_specifications(params, "instance")
        records = []
        with self.store.transaction():
            for index in range(params["MaxCount"]):
                instance_id = ids.new_id("instance")
                try:
                    net = placement.place(self.store, ctx, params, instance_id, self.zones)
                except AwsError:
                    if index >= params["MinCount"]:
                        break
                    raise
                profile = launch["profile"]
                root_volume = create_root_volume(self.store, ctx.account, instance_id, net.zone, now)
                spec = {
                    "ImageId": launch["image"].id, "DockerImage": launch["image"].spec["DockerImage"],
                    "InstanceType": launch["type"].name, "KeyName": params.get("KeyName"),
                    "Resources": {"Vcpus": launch["type"].vcpus, "MemoryMiB": launch["type"].memory_mib},
                    "VpcId": net.vpc_id, "PrivateIpAddress": net.private_ip,
                    "UserData": launch["user_data"], "ReservationId": reservation, "AmiLaunchIndex": index,
                    "LaunchTime": now, "ClientToken": token,
                    "Placement": {**net.as_spec(), "RootVolumeId": root_volume},
                    "IamInstanceProfile": {"Arn": profile.spec.get("Arn"), "Id": profile.id,
                                           "Name": profile.name} if profile else None,
                    "DisableApiTermination": bool(params.get("DisableApiTermination")),
                    "InstanceInitiatedShutdownBehavior": params.get("InstanceInitiatedShutdownBehavior", "stop"),
                    "MetadataOptions": launch["metadata"], "DesiredState": "running", "RebootCount": 0,
                    "RequesterPrincipal": ctx.principal.arn,
                }
                record = self.store.put(KIND, instance_id, ctx.account, spec, tags=tags)
                self.store.update_status(KIND, instance_id, {"State": "pending", "StateTransitionReason": ""})
                records.append(self.store.get(KIND, instance_id))
        return self._reservation(reservation, ctx.account, records)

    # ---------------------------------------------------------------------------------------- describe

    @operation("DescribeInstances", resources=_instance_arns)
    def describe_instances(self, ctx: RequestContext, params: dict) -> dict:
        records = self._records(ctx, params.get("InstanceIds"))
        fields = {
            "instance-id": lambda r: r.id, "instance-state-name": lambda r: r.status.get("State"),
            "instance-state-code": lambda r: states.CODES[r.status.get("State", "pending")],
            "instance-type": lambda r: r.spec["InstanceType"], "image-id": lambda r: r.spec["ImageId"],
            "key-name": lambda r: r.spec.get("KeyName"), "vpc-id": lambda r: r.spec["Placement"]["VpcId"],
            "subnet-id": lambda r: r.spec["Placement"]["SubnetId"],
            "availability-zone": lambda r: r.spec["Placement"]["AvailabilityZone"],
            "private-ip-address": lambda r: r.spec["Placement"]["PrivateIpAddress"],
            "ip-address": lambda r: placement.public_ip(self.store, r.spec["Placement"]["NetworkInterfaceId"]), "reservation-id": lambda r: r.spec["ReservationId"],
            "instance.group-id": lambda r: [g["GroupId"] for g in r.spec["Placement"]["Groups"]],
            "instance.group-name": lambda r: [g["GroupName"] for g in r.spec["Placement"]["Groups"]],
            "network-interface.network-interface-id": lambda r: r.spec["Placement"]["NetworkInterfaceId"],
            "iam-instance-profile.arn": lambda r: (r.spec.get("IamInstanceProfile") or {}).get("Arn"),
        }
        chosen = [r for r in records if matches_filters(r, params.get("Filters"), fields, tags=lambda r: r.tags)]
        chosen.sort(key=lambda r: (r.spec["LaunchTime"], r.spec["AmiLaunchIndex"]))
        start = int(params.get("NextToken") or 0)
        limit = params.get("MaxResults") or len(chosen) or 1
        page = chosen[start:start + limit]
        reservations: dict[str, list[Record]] = {}
        for record in page:
            reservations.setdefault(record.spec["ReservationId"], []).append(record)
        result = {"Reservations": [self._reservation(rid, ctx.account, recs)
                                   for rid, recs in reservations.items()]}
        if start + limit < len(chosen):
            result["NextToken"] = str(start + limit)
        return result

    @operation("DescribeInstanceStatus", resources=_instance_arns)
    def describe_instance_status(self, ctx: RequestContext, params: dict) -> dict:
        records = self._records(ctx, params.get("InstanceIds"))
        if not params.get("IncludeAllInstances"):
            records = [r for r in records if r.status.get("State") == "running"]
        out = []
        for r in records:
            ok = "ok" if r.status.get("State") == "running" else "not-applicable"
            detail = [{"Name": "reachability", "Status": "passed" if ok == "ok" else "initializing"}]
            out.append({"InstanceId": r.id, "AvailabilityZone": r.spec["Placement"]["AvailabilityZone"],
                        "InstanceState": states.state(r.status.get("State", "pending")),
                        "InstanceStatus": {"Status": ok, "Details": detail},
                        "SystemStatus": {"Status": ok, "Details": detail}})
        return {"InstanceStatuses": out}

    # ------------------------------------------------------------------------------------- transitions

    def _transition(self, ctx: RequestContext, params: dict, verb: str) -> list[dict]:
        changes = []
        records = self._records(ctx, params["InstanceIds"])
        now = time.time()
        with self.store.transaction():
            for record in records:
                previous = record.status.get("State", "pending")
                current = self._apply(record, verb, previous, now, params)
                changes.append({"InstanceId": record.id, "CurrentState": states.state(current),
                                "PreviousState": states.state(previous)})
        return changes

    def _apply(self, record: Record, verb: str, previous: str, now: float, params: dict) -> str:
        if verb == "start":
            if previous in ("running", "pending"):
                return previous
            if previous != "stopped":
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{record.id}' is not in a state from which it can be started.")
            self.store.update_spec(KIND, record.id, {**record.spec, "DesiredState": "running"})
            self.store.update_status(KIND, record.id, {"State": "pending", "StateTransitionReason": "",
                                                       "StateReason": None})
            placement.assign_public_ip(self.store, record)
            return "pending"
        if verb == "stop":
            if previous in ("stopped", "stopping"):
                return previous
            if previous not in ("running", "pending"):
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{record.id}' is not in a state from which it can be stopped.")
            self.store.update_spec(KIND, record.id, {**record.spec, "DesiredState": "stopped"})
            self.store.update_status(KIND, record.id, {
                "State": "stopping", "StateTransitionReason": states.user_reason(now),
                "StateReason": {"Code": "Client.UserInitiatedShutdown",
                                "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}})
            placement.release_public_ip(self.store, record)
            return "stopping"
        if previous == "terminated":
            return previous
        if record.spec.get("DisableApiTermination"):
            raise AwsError("OperationNotPermitted",
                           f"The instance '{record.id}' may not be terminated. Modify its 'disableApiTermination' "
                           f"instance attribute and try again.")
        self.store.update_spec(KIND, record.id, {**record.spec, "DesiredState": "terminated"})
        placement.release(self.store, record)
        self.store.update_status(KIND, record.id, {
            "State": "shutting-down", "StateTransitionReason": states.user_reason(now),
            "StateReason": {"Code": "Client.UserInitiatedShutdown",
                            "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}})
        return "shutting-down"

    @operation("StartInstances", resources=_instance_arns)
    def start_instances(self, ctx: RequestContext, params: dict) -> dict:
        return {"StartingInstances": self._transition(ctx, params, "start")}

    @operation("StopInstances", resources=_instance_arns)
    def stop_instances(self, ctx: RequestContext, params: dict) -> dict:
        return {"StoppingInstances": self._transition(ctx, params, "stop")}

    @operation("TerminateInstances", resources=_instance_arns)
    def terminate_instances(self, ctx: RequestContext, params: dict) -> dict:
        return {"TerminatingInstances": self._transition(ctx, params, "terminate")}

    @operation("RebootInstances", resources=_instance_arns)
    def reboot_instances(self, ctx: RequestContext, params: dict) -> dict:
        records = self._records(ctx, params["InstanceIds"])
        for record in records:
            if record.status.get("State") in ("terminated", "shutting-down"):
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{record.id}' is not in a state from which it can be rebooted.")
        with self.store.transaction():
            for record in records:
                if record.status.get("State") == "running":
                    self.store.update_spec(KIND, record.id,
                                           {**record.spec, "RebootCount": record.spec.get("RebootCount", 0) + 1})
        return {}

    # -------------------------------------------------------------------------------------- attributes

    @operation("ModifyInstanceAttribute", resources=_instance_arns)
    def modify_instance_attribute(self, ctx: RequestContext, params: dict) -> dict:
        record = self._records(ctx, [params["InstanceId"]])[0]
        spec = dict(record.spec)
        stopped = record.status.get("State") == "stopped"
        attribute = params.get("Attribute")
        value = params.get("Value")
        if params.get("InstanceType") or attribute == "instanceType":
            wanted = (params.get("InstanceType") or {}).get("Value") or value
            if not stopped:
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{record.id}' is not in the 'stopped' state.")
            itype = instance_type(wanted)
            spec["InstanceType"] = itype.name
            spec["Resources"] = {"Vcpus": itype.vcpus, "MemoryMiB": itype.memory_mib}
        if params.get("UserData") or attribute == "userData":
            if not stopped:
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{record.id}' is not in the 'stopped' state.")
            data = (params.get("UserData") or {}).get("Value") or (value or "").encode()
            spec["UserData"] = base64.b64encode(data).decode() if isinstance(data, bytes) else data
        if params.get("DisableApiTermination") is not None or attribute == "disableApiTermination":
            flag = (params.get("DisableApiTermination") or {}).get("Value")
            spec["DisableApiTermination"] = bool(flag if flag is not None else value == "true")
        if params.get("InstanceInitiatedShutdownBehavior") or attribute == "instanceInitiatedShutdownBehavior":
            behaviour = (params.get("InstanceInitiatedShutdownBehavior") or {}).get("Value") or value
            if behaviour not in ("stop", "terminate"):
                raise AwsError("InvalidParameterValue", f"Invalid shutdown behavior: {behaviour}")
            spec["InstanceInitiatedShutdownBehavior"] = behaviour
        if params.get("Groups"):
            spec["Placement"] = placement.change_groups(self.store, ctx, record, params["Groups"])
        if params.get("SourceDestCheck") is not None:
            placement.set_source_dest_check(self.store, record, params["SourceDestCheck"]["Value"])
        self.store.update_spec(KIND, record.id, spec)
        return {}

    @operation("DescribeInstanceAttribute", resources=_instance_arns)
    def describe_instance_attribute(self, ctx: RequestContext, params: dict) -> dict:
        record = self._records(ctx, [params["InstanceId"]])[0]
        attribute = params["Attribute"]
        out: dict = {"InstanceId": record.id}
        spec = record.spec
        if attribute == "instanceType":
            out["InstanceType"] = {"Value": spec["InstanceType"]}
        elif attribute == "userData":
            out["UserData"] = {"Value": spec["UserData"]} if spec.get("UserData") else {}
        elif attribute == "disableApiTermination":
            out["DisableApiTermination"] = {"Value": spec.get("DisableApiTermination", False)}
        elif attribute == "instanceInitiatedShutdownBehavior":
            out["InstanceInitiatedShutdownBehavior"] = {"Value": spec["InstanceInitiatedShutdownBehavior"]}
        elif attribute == "groupSet":
            out["Groups"] = spec["Placement"]["Groups"]
        elif attribute == "rootDeviceName":
            out["RootDeviceName"] = {"Value": "/dev/xvda"}
        elif attribute == "sourceDestCheck":
            out["SourceDestCheck"] = {"Value": placement.source_dest_check(self.store, record)}
        else:
            raise AwsError("InvalidParameterValue", f"Value ({attribute}) for parameter attribute is invalid.")
        return out

    @operation("ModifyInstanceMetadataOptions", resources=_instance_arns)
    def modify_instance_metadata_options(self, ctx: RequestContext, params: dict) -> dict:
        record = self._records(ctx, [params["InstanceId"]])[0]
        if record.status.get("State") == "terminated":
            raise AwsError("IncorrectInstanceState", f"The instance '{record.id}' is not in a valid state.")
        options = dict(record.spec["MetadataOptions"])
        for key in ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "InstanceMetadataTags"):
            if params.get(key) is not None:
                options[key] = params[key]
        self.store.update_spec(KIND, record.id, {**record.spec, "MetadataOptions": options})
        return {"InstanceId": record.id, "InstanceMetadataOptions": {**options, "State": "applied",
                                                                     "HttpProtocolIpv6": "disabled"}}

    @operation("GetConsoleOutput", resources=_instance_arns)
    async def get_console_output(self, ctx: RequestContext, params: dict) -> dict:
        """The real console of the container (init and user data output), read through the injected port."""
        record = self._records(ctx, [params["InstanceId"]])[0]
        output = await self.console(record.id)
        return {"InstanceId": record.id, "Timestamp": time.time(),
                "Output": base64.b64encode(output).decode() if output else ""}
