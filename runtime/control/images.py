"""The image realiser: the account's own AMIs (`ec2.image` records not owned by "aws") as Docker images.

A `pending` image made by CreateImage is the commit of its instance's container; one made by CopyImage is a
labelled copy of its source's image. Either way the result is `terrarium/<ami id>:latest` and the record
becomes `available` (or `failed` when the instance's container is gone). A deregistered image keeps its
Docker image while any instance that is not terminated was launched from it, then the image and the record
go. Public AMIs are the image catalogue's (control/image_catalog.py) and never touched here.

CreateImage's default (NoReboot=false) reboots the instance around the snapshot on AWS; here the container is
paused for the commit instead, which gives the same consistent point in time without the reboot.
"""

from __future__ import annotations

import logging
import time

from runtime.control.realiser import Target
from runtime.errors import NotFound
from runtime.host.docker import amis, containers
from runtime.state import Key, Record, Store, kinds

LOG = logging.getLogger(__name__)

KIND = kinds.IMAGE
PUBLIC_ACCOUNT = "aws"


class ImageRealiser:
    name = "image"

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        if key[0] == KIND:
            try:
                return set() if store.get(KIND, key[1]).account == PUBLIC_ACCOUNT else {(self.name, key[1])}
            except NotFound:
                return {(self.name, key[1])}
        if key[0] == kinds.INSTANCE:
            try:
                image_id = store.get(kinds.INSTANCE, key[1]).spec.get("ImageId", "")
                image = store.get(KIND, image_id)
            except NotFound:
                return set()
            return {(self.name, image.id)} if image.spec.get("DesiredState") == "deregistered" else set()
        return set()

    def all_targets(self, store: Store) -> set[Target]:
        return {(self.name, r.id) for r in store.list(KIND) if r.account != PUBLIC_ACCOUNT}

    def collect_garbage(self, store: Store) -> list[str]:
        removed = []
        for image_id, ref in amis.owned(self.owner).items():
            try:
                store.get(KIND, image_id)
            except NotFound:
                amis.remove(ref)
                removed.append(ref)
        return removed

    def converge(self, store: Store, target: Target) -> None:
        image_id = target[1]
        try:
            record = store.get(KIND, image_id)
        except NotFound:
            if image_id in amis.owned(self.owner):
                amis.remove(amis.reference(image_id))
            return
        if record.account == PUBLIC_ACCOUNT:
            return
        if record.spec.get("DesiredState") == "deregistered":
            self._deregister(store, record)
        elif record.status.get("State", "pending") == "pending":
            self._build(store, record)

    def _build(self, store: Store, record: Record) -> None:
        ref = record.spec["DockerImage"]
        labels = amis.labels(self.owner, record.id)
        source_instance = record.spec.get("SourceInstanceId")
        try:
            if source_instance:
                containers.commit(source_instance, ref, labels)
            else:
                amis.copy(record.spec["SourceDockerImage"], ref, labels)
        except NotFound as exc:
            LOG.warning("%s: cannot make the image: %s", record.id, exc)
            store.update_status(KIND, record.id, {"State": "failed", "StateReason": {
                "Code": "Server.InternalError", "Message": "The source of the image no longer exists"}})
            return
        store.update_status(KIND, record.id, {"State": "available", "SizeBytes": amis.size(ref),
                                              "AvailableAt": time.time()}, observed_generation=record.generation)

    @staticmethod
    def _deregister(store: Store, record: Record) -> None:
        ref = record.spec["DockerImage"]
        users = [i.id for i in store.list(kinds.INSTANCE, where={"ImageId": record.id})
                 if i.status.get("State") != "terminated"]
        if users:
            return
        amis.remove(ref)
        store.delete(KIND, record.id)
