"""The account's own AMIs: CreateImage (from an instance), CopyImage (within the region), DeregisterImage.

The API records an `ec2.image` owned by the account in state `pending`, with the Docker image it will be
(`terrarium/<ami id>:latest`); the image realiser (control/images.py) commits or copies it and makes it
`available`. DescribeImages (images.py) lists these beside the public AMIs.
"""

from __future__ import annotations

import re
import time

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError, NotFound
from runtime.services._shared import arns, ids
from runtime.services.ec2.images import KIND, PUBLIC_ACCOUNT, check_image_id
from runtime.services.ec2.tagging import tags_from_specifications
from runtime.state import Record, Store

INSTANCE = "ec2.instance"
NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")
REPOSITORY = "terrarium"


def _check_name(store: Store, account: str, name: str | None) -> str:
    if not name or not NAME.fullmatch(name):
        raise AwsError("InvalidAMIName.Malformed",
                       "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, "
                       "'(', ')', '.', '-', '/' and '_'")
    for image in store.list(KIND, account):
        if image.spec.get("Name") == name and image.spec.get("DesiredState") != "deregistered":
            raise AwsError("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {image.id}")
    return name


def _new_image(store: Store, ctx: RequestContext, params: dict, source: dict) -> str:
    image_id = ids.new_id("image")
    spec = {"Name": params["Name"], "Description": params.get("Description") or "",
            "DockerImage": f"{REPOSITORY}/{image_id}:latest", "OwnerId": ctx.account, "Architecture": "x86_64",
            "CreationDate": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "DesiredState": "available",
            **source}
    store.put(KIND, image_id, ctx.account, spec, tags=tags_from_specifications(params, "image"))
    store.update_status(KIND, image_id, {"State": "pending"})
    return image_id


class AmiBuildsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    @operation("CreateImage", resources=lambda ctx, p: [
        arns.image_arn(ctx.region, "*"), arns.ec2_arn(ctx.region, ctx.account, "instance", p.get("InstanceId", "*"))])
    def create_image(self, ctx: RequestContext, params: dict) -> dict:
        instance_id = params["InstanceId"]
        if not ids.is_id("instance", instance_id):
            raise AwsError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}" (expecting "i-...")')
        with self.store.transaction():
            try:
                instance = self.store.get(INSTANCE, instance_id)
            except NotFound:
                instance = None
            if instance is None or instance.account != ctx.account:
                raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
            if instance.status.get("State") not in ("running", "stopped"):
                raise AwsError("IncorrectInstanceState",
                               f"The instance '{instance_id}' is not in a state from which it can be imaged.")
            _check_name(self.store, ctx.account, params["Name"])
            image_id = _new_image(self.store, ctx, params, {
                "SourceInstanceId": instance_id, "SourceImageId": instance.spec["ImageId"],
                "NoReboot": bool(params.get("NoReboot"))})
        return {"ImageId": image_id}

    @operation("CopyImage", resources=lambda ctx, p: [
        arns.image_arn(ctx.region, "*"),
        arns.image_arn(p.get("SourceRegion", ctx.region), p.get("SourceImageId", "*"))])
    def copy_image(self, ctx: RequestContext, params: dict) -> dict:
        if params["SourceRegion"] != ctx.region:
            raise AwsError("InvalidRegion", f"Source region {params['SourceRegion']} is not reachable from "
                                            f"{ctx.region}: this Terrarium is one region")
        source = self._source(ctx, params["SourceImageId"])
        with self.store.transaction():
            _check_name(self.store, ctx.account, params["Name"])
            image_id = _new_image(self.store, ctx, params, {
                "SourceImageId": source.id, "SourceDockerImage": source.spec["DockerImage"],
                "Architecture": source.spec.get("Architecture", "x86_64")})
        return {"ImageId": image_id}

    def _source(self, ctx: RequestContext, image_id: str) -> Record:
        check_image_id(image_id)
        try:
            record = self.store.get(KIND, image_id)
        except NotFound:
            record = None
        if record is None or record.account not in (ctx.account, PUBLIC_ACCOUNT) \
                or record.status.get("State") != "available":
            raise AwsError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
        return record

    @operation("DeregisterImage", resources=lambda ctx, p: [arns.image_arn(ctx.region, p.get("ImageId", "*"))])
    def deregister_image(self, ctx: RequestContext, params: dict) -> dict:
        image_id = params["ImageId"]
        check_image_id(image_id)
        with self.store.transaction():
            try:
                record = self.store.get(KIND, image_id)
            except NotFound:
                record = None
            if record is None or record.account not in (ctx.account, PUBLIC_ACCOUNT) \
                    or record.spec.get("DesiredState") == "deregistered":
                raise AwsError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
            if record.account != ctx.account:
                raise AwsError("AuthFailure", f"Not authorized for image:{image_id}")
            self.store.update_spec(KIND, image_id, {**record.spec, "DesiredState": "deregistered"})
            self.store.update_status(KIND, image_id, {"State": "deregistered"})
        return {"Return": True}
