"""DescribeImages over the AMIs built on this host (public, owned by Debian's publishing account) and the
account's own images."""

from __future__ import annotations

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.services._shared import ids
from runtime.services._shared.filters import matches_filters
from runtime.services.ec2.tagging import tag_list
from runtime.state import Record, Store

KIND = "ec2.image"
PUBLIC_ACCOUNT = "aws"
ROOT_DEVICE = "/dev/xvda"


def check_image_id(image_id: str) -> None:
    if not ids.is_id("image", image_id):
        raise AwsError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')


def find_image(store: Store, account: str, image_id: str) -> Record:
    """An available image the account may launch; the AWS error otherwise."""
    check_image_id(image_id)
    try:
        record = store.get(KIND, image_id)
    except NotFound:
        record = None
    if record is not None and record.account in (account, PUBLIC_ACCOUNT) \
            and record.status.get("State") == "available":
        return record
    raise AwsError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")


def image_shape(record: Record) -> dict:
    spec = record.spec
    public = record.account == PUBLIC_ACCOUNT
    return {
        "ImageId": record.id, "ImageLocation": f"{spec.get('OwnerId', record.account)}/{spec['Name']}",
        "State": record.status.get("State", "pending"), "OwnerId": spec.get("OwnerId", record.account),
        "CreationDate": spec.get("CreationDate", ""), "Public": public, "Architecture": spec.get("Architecture",
                                                                                               "x86_64"),
        "ImageType": "machine", "Name": spec["Name"], "Description": spec.get("Description", ""),
        "RootDeviceType": "ebs", "RootDeviceName": ROOT_DEVICE, "VirtualizationType": "hvm",
        "Hypervisor": "xen", "EnaSupport": True, "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances", "BootMode": "uefi-preferred",
        "BlockDeviceMappings": [{"DeviceName": ROOT_DEVICE, "Ebs": {
            "DeleteOnTermination": True, "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": False}}],
        "Tags": tag_list(record.tags),
    }


class ImagesProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    @operation("DescribeImages")
    def describe_images(self, ctx: RequestContext, params: dict) -> dict:
        wanted = params.get("ImageIds") or []
        for image_id in wanted:
            check_image_id(image_id)
        owners = params.get("Owners") or []
        records = [r for r in self.store.list(KIND) if r.account in (ctx.account, PUBLIC_ACCOUNT)]
        if wanted:
            records = [r for r in records if r.id in wanted]
            missing = set(wanted) - {r.id for r in records}
            if missing:
                raise AwsError("InvalidAMIID.NotFound",
                               f"The image id '[{', '.join(sorted(missing))}]' does not exist")
        else:
            records = [r for r in records if r.status.get("State") == "available"
                       or (r.account == ctx.account and r.status.get("State") in ("pending", "failed"))]
        if owners:
            def owned(r: Record) -> bool:
                owner = r.spec.get("OwnerId", r.account)
                return owner in owners or ("self" in owners and r.account == ctx.account) \
                    or ("amazon" in owners and r.account == PUBLIC_ACCOUNT)
            records = [r for r in records if owned(r)]
        fields = {"image-id": lambda r: r.id, "name": lambda r: r.spec["Name"],
                  "state": lambda r: r.status.get("State"), "owner-id": lambda r: r.spec.get("OwnerId"),
                  "architecture": lambda r: r.spec.get("Architecture"), "is-public": lambda r: str(
                      r.account == PUBLIC_ACCOUNT).lower(), "description": lambda r: r.spec.get("Description"),
                  "image-type": lambda r: "machine", "root-device-type": lambda r: "ebs",
                  "virtualization-type": lambda r: "hvm", "platform-details": lambda r: "Linux/UNIX"}
        return {"Images": [image_shape(r) for r in records
                           if matches_filters(r, params.get("Filters"), fields, tags=lambda r: r.tags)]}
