"""Registers the images built on this host as public AMIs in the store (`ec2.image`, account `aws`).

The builder (`host/docker/images.py`) is the source of truth for which images exist; the API only reads the
store, so a sync at start (and after a build) copies each built AMI into a record. An AMI id is derived from
the recipe name and hash: the same build is the same AMI across restarts, and a changed recipe is a new AMI,
as a new AWS image would be. Images that disappeared from the engine are marked `deregistered` rather than
deleted, so instances launched from them still describe.
"""

from __future__ import annotations

import hashlib
import logging

from runtime.errors import NotFound, TerrariumError
from runtime.host.docker import images as builder
from runtime.state import Store

LOG = logging.getLogger(__name__)

KIND = "ec2.image"
PUBLIC_ACCOUNT = "aws"
OWNER_ID = "136693071363"  # the account Debian publishes its official AMIs from


def ami_id(name: str, recipe_hash: str) -> str:
    return "ami-" + hashlib.sha256(f"{name}:{recipe_hash}".encode()).hexdigest()[:17]


def image_spec(built: builder.BuiltImage) -> dict:
    return {"Name": f"{built.name}-{'amd64' if built.architecture == 'x86_64' else built.architecture}-"
                    f"terrarium-{built.recipe_hash[:12]}",
            "Description": built.description, "Recipe": built.name, "DockerImage": built.tag,
            "DockerImageId": built.image_id, "CreationDate": built.created, "Architecture": built.architecture,
            "SizeBytes": built.size, "OwnerId": OWNER_ID}


def sync(store: Store) -> list[str]:
    """Make the store's public AMIs match the engine's built AMIs; returns the AMI ids available."""
    try:
        built = [b for b in builder.list_built() if b.kind == "ami" and b.tag]  # untagged: not ours to launch
    except (NotFound, TerrariumError) as exc:
        LOG.warning("cannot list images, AMI catalogue unchanged: %s", exc)
        return []
    available = []
    with store.transaction():
        for image in built:
            image_id = ami_id(image.name, image.recipe_hash)
            available.append(image_id)
            spec = image_spec(image)
            try:
                record = store.get(KIND, image_id)
                store.update_spec(KIND, image_id, spec)
            except NotFound:
                record = store.put(KIND, image_id, PUBLIC_ACCOUNT, spec)
            if record.status.get("State") != "available":
                store.update_status(KIND, image_id, {"State": "available"})
        for record in store.list(KIND, PUBLIC_ACCOUNT):
            if record.id not in available and record.status.get("State") == "available":
                store.update_status(KIND, record.id, {"State": "deregistered"})
    return available
