"""EBS volumes and snapshots: the API records intent; the volume realiser (control/volumes.py) makes the files,
loop devices and device nodes.

An `ec2.volume` record keeps the request in `spec` (size, type, zone, source snapshot) and the wanted
attachment in `spec.Attachment` (`{InstanceId, Device, AttachTime, DeleteOnTermination, Wanted}`, with the
instance id also at top level as `AttachedInstanceId` so the realiser can query by it). The realiser reports
in `status`: `Created` once the image file exists and `Attached` (`{InstanceId, Device}`) while the block
device is set up for the instance. The AWS states follow from the two:

    creating (no file yet) -> available -> in-use (attaching | attached | detaching) -> available
    creating -> error (its snapshot was deleted before the volume was made)

Deleting a volume or snapshot removes its record at once (AWS shows `deleting` only fleetingly); the realiser
removes the file when it finds the record gone. Snapshots (`ec2.snapshot`) are `pending` until the realiser
has copied the volume's file, then `completed` with Progress 100%.
"""

from __future__ import annotations

import re
import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.services._shared import arns, ids
from runtime.services._shared.filters import matches_filters
from runtime.services.ec2.tagging import tag_list, tags_from_specifications
from runtime.state import Record, Store

VOLUME = "ec2.volume"
SNAPSHOT = "ec2.snapshot"
INSTANCE = "ec2.instance"

# (minimum, maximum) GiB per volume type (botocore CreateVolume documentation)
SIZE_LIMITS = {"gp2": (1, 16384), "gp3": (1, 65536), "io1": (4, 16384), "io2": (4, 65536),
               "st1": (125, 16384), "sc1": (125, 16384), "standard": (1, 1024)}
DEVICE_NAME = re.compile(r"/dev/(sd[b-z]|xvd[b-z]|sd[b-z][0-9]{1,2}|xvd[b-z][a-z]?)")
ROOT_DEVICES = ("/dev/xvda", "/dev/sda1", "/dev/sda")
ROOT_SIZE_GIB = 8


def _stamp(now: float) -> float:
    return round(now, 3)


def volume_state(record: Record) -> str:
    if record.status.get("Error"):
        return "error"
    if not record.status.get("Created"):
        return "creating"
    attachment = record.spec.get("Attachment") or {}
    if attachment.get("Wanted") or record.status.get("Attached"):
        return "in-use"
    return "available"


def attachment_state(record: Record) -> str | None:
    attachment = record.spec.get("Attachment") or {}
    attached = record.status.get("Attached")
    if attachment.get("Wanted"):
        if attached and attached.get("InstanceId") == attachment["InstanceId"] \
                and attached.get("Device") == attachment["Device"]:
            return "attached"
        return "attaching"
    return "detaching" if attached else None


def _attachment_shape(record: Record) -> dict | None:
    state = attachment_state(record)
    if state is None:
        return None
    attachment = record.spec["Attachment"]
    return {"AttachTime": attachment["AttachTime"], "Device": attachment["Device"],
            "InstanceId": attachment["InstanceId"], "State": state, "VolumeId": record.id,
            "DeleteOnTermination": attachment.get("DeleteOnTermination", False)}


def volume_shape(record: Record) -> dict:
    spec = record.spec
    shape = {"VolumeId": record.id, "Size": spec["Size"], "SnapshotId": spec.get("SnapshotId") or "",
             "AvailabilityZone": spec["AvailabilityZone"], "State": volume_state(record),
             "CreateTime": spec["CreateTime"], "Encrypted": spec.get("Encrypted", False),
             "VolumeType": spec["VolumeType"], "MultiAttachEnabled": False, "Tags": tag_list(record.tags),
             "Attachments": [a for a in [_attachment_shape(record)] if a]}
    if spec.get("Iops"):
        shape["Iops"] = spec["Iops"]
    if spec.get("Throughput"):
        shape["Throughput"] = spec["Throughput"]
    return shape


def snapshot_shape(record: Record) -> dict:
    spec, status = record.spec, record.status
    state = status.get("State", "pending")
    shape = {"SnapshotId": record.id, "VolumeId": spec["VolumeId"], "State": state,
             "StartTime": spec["StartTime"], "Progress": "100%" if state == "completed" else "",
             "OwnerId": record.account, "Description": spec.get("Description", ""), "VolumeSize": spec["VolumeSize"],
             "Encrypted": False, "StorageTier": "standard", "Tags": tag_list(record.tags)}
    if status.get("CompletionTime"):
        shape["CompletionTime"] = status["CompletionTime"]
    if status.get("StateMessage"):
        shape["StateMessage"] = status["StateMessage"]
    return shape


def _lookup(store: Store, account: str, kind: str, value: str) -> Record:
    noun, id_type = ("volume", "volume") if kind == VOLUME else ("snapshot", "snapshot")
    code = "InvalidVolume" if kind == VOLUME else "InvalidSnapshot"
    if not ids.is_id(id_type, value):
        raise AwsError(f"{code}.Malformed", f'Invalid id: "{value}"')
    try:
        record = store.get(kind, value)
    except NotFound:
        record = None
    if record is None or record.account != account:
        raise AwsError(f"{code}.NotFound", f"The {noun} '{value}' does not exist.")
    return record


def _instance(store: Store, account: str, instance_id: str) -> Record:
    if not ids.is_id("instance", instance_id):
        raise AwsError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}" (expecting "i-...")')
    try:
        record = store.get(INSTANCE, instance_id)
    except NotFound:
        record = None
    if record is None or record.account != account or record.status.get("State") == "terminated":
        raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
    return record


def _page(items: list, params: dict) -> tuple[list, str | None]:
    start = int(params.get("NextToken") or 0)
    limit = params.get("MaxResults") or len(items) or 1
    return items[start:start + limit], (str(start + limit) if start + limit < len(items) else None)


def create_root_volume(store: Store, account: str, instance_id: str, zone: str, launched: float) -> str:
    """The instance's root volume as EBS shows it (DescribeVolumes, deleted with its instance). Its data is the
    container's root filesystem, not a file, so the realiser only deletes it when the instance terminates.
    Call inside RunInstances' transaction; returns the volume id for `Placement.RootVolumeId`."""
    volume_id = ids.new_id("volume")
    attachment = {"InstanceId": instance_id, "Device": ROOT_DEVICES[0], "AttachTime": _stamp(launched),
                  "DeleteOnTermination": True, "Wanted": True}
    store.put(VOLUME, volume_id, account, {
        "Size": ROOT_SIZE_GIB, "VolumeType": "gp3", "AvailabilityZone": zone, "Iops": 3000, "Throughput": 125,
        "SnapshotId": None, "Encrypted": False, "CreateTime": _stamp(launched), "Root": True,
        "Attachment": attachment, "AttachedInstanceId": instance_id})
    store.update_status(VOLUME, volume_id, {"Created": True, "Attached": {"InstanceId": instance_id,
                                                                          "Device": ROOT_DEVICES[0]}})
    return volume_id


class VolumesProvider:
    def __init__(self, store: Store, zones: tuple[str, ...]) -> None:
        self.store = store
        self.zones = zones

    # ------------------------------------------------------------------------------------------ volumes

    def _size(self, params: dict, volume_type: str, snapshot: Record | None) -> int:
        size = params.get("Size")
        if size is None:
            if snapshot is None:
                raise AwsError("MissingParameter", "The request must contain the parameter size or snapshotId")
            return snapshot.spec["VolumeSize"]
        low, high = SIZE_LIMITS[volume_type]
        if size < low:
            raise AwsError("InvalidParameterValue", f"Volume of size {size}GB is too small; minimum is {low}GB.")
        if size > high:
            raise AwsError("InvalidParameterValue", f"Volume of size {size}GB is too large; maximum is {high}GB.")
        if snapshot is not None and size < snapshot.spec["VolumeSize"]:
            raise AwsError("InvalidParameterValue",
                           f"Volume of size {size}GB is smaller than snapshot '{snapshot.id}', expect size >= "
                           f"{snapshot.spec['VolumeSize']}GB")
        return size

    @operation("CreateVolume", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "volume", "*")])
    def create_volume(self, ctx: RequestContext, params: dict) -> dict:
        zone = params.get("AvailabilityZone")
        if not zone:
            raise AwsError("MissingParameter", "The request must contain the parameter availabilityZone")
        if zone not in self.zones:
            raise AwsError("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
        volume_type = params.get("VolumeType") or "gp2"
        if volume_type not in SIZE_LIMITS:
            raise AwsError("InvalidParameterValue",
                           f"Value ({volume_type}) for parameter volumeType is invalid. Valid values are: "
                           f"{', '.join(SIZE_LIMITS)}")
        snapshot = None
        if params.get("SnapshotId"):
            snapshot = _lookup(self.store, ctx.account, SNAPSHOT, params["SnapshotId"])
            if snapshot.status.get("State") != "completed":
                raise AwsError("IncorrectState", f"Snapshot '{snapshot.id}' is not 'completed'.")
        size = self._size(params, volume_type, snapshot)
        iops = params.get("Iops")
        if volume_type in ("io1", "io2") and not iops:
            raise AwsError("MissingParameter", "The request must contain the parameter iops")
        if volume_type == "gp3":
            iops = iops or 3000
        elif volume_type == "gp2":
            iops = max(100, min(16000, 3 * size))
        spec = {"Size": size, "VolumeType": volume_type, "AvailabilityZone": zone, "Iops": iops,
                "Throughput": params.get("Throughput") or (125 if volume_type == "gp3" else None),
                "SnapshotId": snapshot.id if snapshot else None, "Encrypted": bool(params.get("Encrypted")),
                "CreateTime": _stamp(time.time()), "Attachment": None, "AttachedInstanceId": None}
        volume_id = ids.new_id("volume")
        record = self.store.put(VOLUME, volume_id, ctx.account, spec,
                                tags=tags_from_specifications(params, "volume"))
        return volume_shape(record)

    @operation("DescribeVolumes", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "volume", v) for v in (p.get("VolumeIds") or ["*"])])
    def describe_volumes(self, ctx: RequestContext, params: dict) -> dict:
        wanted = params.get("VolumeIds")
        if wanted:
            records = [_lookup(self.store, ctx.account, VOLUME, v) for v in dict.fromkeys(wanted)]
        else:
            records = self.store.list(VOLUME, ctx.account)

        def attachment(r: Record) -> dict:
            return _attachment_shape(r) or {}
        fields = {"volume-id": lambda r: r.id, "status": volume_state, "size": lambda r: r.spec["Size"],
                  "availability-zone": lambda r: r.spec["AvailabilityZone"],
                  "volume-type": lambda r: r.spec["VolumeType"], "snapshot-id": lambda r: r.spec.get("SnapshotId"),
                  "encrypted": lambda r: r.spec.get("Encrypted", False),
                  "create-time": lambda r: r.spec["CreateTime"],
                  "attachment.instance-id": lambda r: attachment(r).get("InstanceId"),
                  "attachment.device": lambda r: attachment(r).get("Device"),
                  "attachment.status": lambda r: attachment(r).get("State"),
                  "attachment.delete-on-termination": lambda r: attachment(r).get("DeleteOnTermination")}
        chosen = [r for r in records if matches_filters(r, params.get("Filters"), fields, tags=lambda r: r.tags)]
        page, token = _page(chosen, params)
        result = {"Volumes": [volume_shape(r) for r in page]}
        if token:
            result["NextToken"] = token
        return result

    @operation("AttachVolume", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "volume", p.get("VolumeId", "*")),
        arns.ec2_arn(ctx.region, ctx.account, "instance", p.get("InstanceId", "*"))])
    def attach_volume(self, ctx: RequestContext, params: dict) -> dict:
        device = params["Device"]
        with self.store.transaction():
            volume = _lookup(self.store, ctx.account, VOLUME, params["VolumeId"])
            instance = _instance(self.store, ctx.account, params["InstanceId"])
            if not DEVICE_NAME.fullmatch(device):
                raise AwsError("InvalidParameterValue",
                               f"Value ({device}) for parameter device is invalid. {device} is not a valid EBS "
                               f"device name.")
            state = volume_state(volume)
            if state == "in-use":
                raise AwsError("VolumeInUse", f"{volume.id} is already attached to an instance")
            if state != "available":
                raise AwsError("IncorrectState", f"The volume '{volume.id}' is not 'available'.")
            if instance.status.get("State") not in ("running", "stopped", "pending"):
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{instance.id}' is not 'running' or 'stopped'.")
            if volume.spec["AvailabilityZone"] != instance.spec["Placement"]["AvailabilityZone"]:
                raise AwsError("InvalidVolume.ZoneMismatch",
                               f"The volume '{volume.id}' is not in the same availability zone as instance "
                               f"'{instance.id}'")
            taken = {(o.spec.get("Attachment") or {}).get("Device")
                     for o in self.store.list(VOLUME, ctx.account, where={"AttachedInstanceId": instance.id})}
            if device in taken or device in ROOT_DEVICES:
                raise AwsError("InvalidParameterValue",
                               f"Invalid value '{device}' for unixDevice. Attachment point {device} is already "
                               f"in use")
            now = _stamp(time.time())
            attachment = {"InstanceId": instance.id, "Device": device, "AttachTime": now,
                          "DeleteOnTermination": False, "Wanted": True}
            volume = self.store.update_spec(VOLUME, volume.id, {**volume.spec, "Attachment": attachment,
                                                                 "AttachedInstanceId": instance.id})
        return _attachment_shape(volume)

    @operation("DetachVolume", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "volume", p.get("VolumeId", "*"))])
    def detach_volume(self, ctx: RequestContext, params: dict) -> dict:
        with self.store.transaction():
            volume = _lookup(self.store, ctx.account, VOLUME, params["VolumeId"])
            attachment = volume.spec.get("Attachment") or {}
            if not attachment.get("Wanted"):
                raise AwsError("IncorrectState", f"Volume '{volume.id}' is in the '{volume_state(volume)}' state.")
            if volume.spec.get("Root"):
                raise AwsError("IncorrectState", f"Unable to detach root volume '{volume.id}' from instance "
                                                 f"'{attachment['InstanceId']}'")
            if params.get("InstanceId"):
                _instance(self.store, ctx.account, params["InstanceId"])
            if (params.get("InstanceId") and params["InstanceId"] != attachment["InstanceId"]) or \
                    (params.get("Device") and params["Device"] != attachment["Device"]):
                raise AwsError("InvalidAttachment.NotFound",
                               f"The volume '{volume.id}' is not attached to instance "
                               f"'{params.get('InstanceId') or attachment['InstanceId']}' as device "
                               f"'{params.get('Device') or attachment['Device']}'")
            volume = self.store.update_spec(VOLUME, volume.id, {
                **volume.spec, "Attachment": {**attachment, "Wanted": False}, "AttachedInstanceId": None})
            shape = _attachment_shape(volume) or {**attachment, "VolumeId": volume.id}
        return {k: v for k, v in {**shape, "State": "detaching"}.items() if k != "Wanted"}

    @operation("DeleteVolume", resources=lambda ctx, p: [
        arns.ec2_arn(ctx.region, ctx.account, "volume", p.get("VolumeId", "*"))])
    def delete_volume(self, ctx: RequestContext, params: dict) -> dict:
        with self.store.transaction():
            volume = _lookup(self.store, ctx.account, VOLUME, params["VolumeId"])
            if volume_state(volume) == "in-use":
                instance_id = (volume.spec.get("Attachment") or {}).get("InstanceId")
                raise AwsError("VolumeInUse", f"Volume {volume.id} is currently attached to {instance_id}")
            self.store.delete(VOLUME, volume.id)
        return {}

    # ---------------------------------------------------------------------------------------- snapshots

    @operation("CreateSnapshot", resources=lambda ctx, p: [
        arns.snapshot_arn(ctx.region, "*"), arns.ec2_arn(ctx.region, ctx.account, "volume", p.get("VolumeId", "*"))])
    def create_snapshot(self, ctx: RequestContext, params: dict) -> dict:
        volume = _lookup(self.store, ctx.account, VOLUME, params["VolumeId"])
        if volume_state(volume) == "creating":
            raise AwsError("IncorrectState", f"The volume '{volume.id}' is not 'available' or 'in-use'.")
        spec = {"VolumeId": volume.id, "VolumeSize": volume.spec["Size"],
                "Description": params.get("Description") or "", "StartTime": _stamp(time.time()),
                "RootVolume": bool(volume.spec.get("Root"))}
        snapshot_id = ids.new_id("snapshot")
        record = self.store.put(SNAPSHOT, snapshot_id, ctx.account, spec,
                                tags=tags_from_specifications(params, "snapshot"))
        return snapshot_shape(record)

    @operation("DescribeSnapshots", resources=lambda ctx, p: [arns.snapshot_arn(ctx.region, "*")])
    def describe_snapshots(self, ctx: RequestContext, params: dict) -> dict:
        wanted = params.get("SnapshotIds")
        if wanted:
            records = [_lookup(self.store, ctx.account, SNAPSHOT, s) for s in dict.fromkeys(wanted)]
        else:
            records = self.store.list(SNAPSHOT, ctx.account)
        owners = params.get("OwnerIds") or []
        if owners and not ({"self", ctx.account} & set(owners)):
            records = []
        fields = {"snapshot-id": lambda r: r.id, "volume-id": lambda r: r.spec["VolumeId"],
                  "status": lambda r: r.status.get("State", "pending"), "owner-id": lambda r: r.account,
                  "description": lambda r: r.spec.get("Description"), "volume-size": lambda r: r.spec["VolumeSize"],
                  "progress": lambda r: snapshot_shape(r)["Progress"], "encrypted": lambda r: False,
                  "start-time": lambda r: r.spec["StartTime"]}
        chosen = [r for r in records if matches_filters(r, params.get("Filters"), fields, tags=lambda r: r.tags)]
        page, token = _page(chosen, params)
        result = {"Snapshots": [snapshot_shape(r) for r in page]}
        if token:
            result["NextToken"] = token
        return result

    @operation("DeleteSnapshot", resources=lambda ctx, p: [arns.snapshot_arn(ctx.region, p.get("SnapshotId", "*"))])
    def delete_snapshot(self, ctx: RequestContext, params: dict) -> dict:
        snapshot = _lookup(self.store, ctx.account, SNAPSHOT, params["SnapshotId"])
        self.store.delete(SNAPSHOT, snapshot.id)
        return {}
