"""The volume realiser: EBS volumes and snapshots as files, loop devices and device nodes on the host.

Targets are volume ids (`vol-…`) and snapshot ids (`snap-…`). Converging a volume: make its sparse ext4 file
(from its snapshot if it has one) and report `Created`; while an attachment is wanted, keep a loop device on
the file and the device node in the instance's container whenever that container runs (a start gives the
container a fresh /dev, so a change to the instance re-converges its volumes); when the attachment goes,
remove the node and the loop device and report `Attached: None`. An instance that is terminated releases its
volumes (they become `available`, as EBS data volumes do) and its root volume record goes with it (the root
volume is the container's filesystem: it has no file here). A volume or snapshot whose record is gone has its
file removed. Converging a snapshot copies the volume's file (`cp --sparse=always`) and reports `completed`.

At start, garbage collection detaches loop devices over this data dir's files that no attachment wants and
removes files no record names; then every volume is converged, which re-creates the loop devices of attached
volumes (after a host reboot) and their nodes in running instances.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from runtime.control.realiser import Target
from runtime.errors import NotFound
from runtime.host import block
from runtime.host.docker import volumes as devices
from runtime.state import Key, Record, Store, kinds

LOG = logging.getLogger(__name__)

VOLUME = "ec2.volume"
SNAPSHOT = "ec2.snapshot"
INSTANCE = kinds.INSTANCE


class VolumeRealiser:
    name = "volume"

    def __init__(self, data_dir: Path) -> None:
        self.directory = block.store_dir(data_dir)
        self.data_dir = Path(data_dir)

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        if key[0] in (VOLUME, SNAPSHOT):
            return {(self.name, key[1])}
        if key[0] == INSTANCE:
            return {(self.name, v.id) for v in store.list(VOLUME)
                    if (v.spec.get("Attachment") or {}).get("InstanceId") == key[1]
                    or (v.status.get("Attached") or {}).get("InstanceId") == key[1]}
        return set()

    def all_targets(self, store: Store) -> set[Target]:
        return {(self.name, r.id) for r in store.list(VOLUME)} | \
            {(self.name, r.id) for r in store.list(SNAPSHOT) if r.status.get("State") != "completed"}

    def collect_garbage(self, store: Store) -> list[str]:
        if not self.directory.exists():
            return []
        wanted_loops = {r.id for r in store.list(VOLUME) if (r.spec.get("Attachment") or {}).get("Wanted")}
        removed = []
        for path, device in block.loops_under(self.directory).items():
            if path.stem not in wanted_loops:
                block.remove_loop(path)
                removed.append(device)
        known = {r.id for r in store.list(VOLUME)} | {r.id for r in store.list(SNAPSHOT)}
        for path in self.directory.iterdir():
            if path.stem not in known:
                block.remove_file(path)
                removed.append(str(path))
        return removed

    def converge(self, store: Store, target: Target) -> None:
        resource_id = target[1]
        if resource_id.startswith("snap-"):
            self._snapshot(store, resource_id)
        else:
            self._volume(store, resource_id)

    # ------------------------------------------------------------------------------------------ volumes

    def _volume(self, store: Store, volume_id: str) -> None:
        path = block.file_for(self.data_dir, volume_id)
        try:
            record = store.get(VOLUME, volume_id)
        except NotFound:
            block.remove_loop(path)
            block.remove_file(path)
            return
        if record.spec.get("Root"):
            if not self._instance_alive(store, record.spec["Attachment"]["InstanceId"]):
                store.delete(VOLUME, volume_id)
            return
        if not record.status.get("Created"):
            source = block.file_for(self.data_dir, record.spec["SnapshotId"]) if record.spec.get("SnapshotId") \
                else None
            if source is not None and not source.exists() and not path.exists():
                store.update_status(VOLUME, volume_id, {"Error": f"snapshot {record.spec['SnapshotId']} is gone"})
                return
            block.ensure_volume_file(path, record.spec["Size"], source)
            record = store.update_status(VOLUME, volume_id, {"Created": True})
        attachment = record.spec.get("Attachment") or {}
        if attachment.get("Wanted") and not self._instance_alive(store, attachment["InstanceId"]):
            self._release(store, record)
            record = store.get(VOLUME, volume_id)
            attachment = record.spec.get("Attachment") or {}
        attached = record.status.get("Attached")
        wanted = {"InstanceId": attachment["InstanceId"], "Device": attachment["Device"]} \
            if attachment.get("Wanted") else None
        if attached and attached != wanted:
            loop = block.loop_for(path)
            if loop is not None:
                devices.withdraw(attached["InstanceId"], attached["Device"], loop.major, loop.minor)
            block.remove_loop(path)
            store.update_status(VOLUME, volume_id, {"Attached": None})
        if wanted:
            loop = block.ensure_loop(path)
            devices.expose(wanted["InstanceId"], wanted["Device"], loop.major, loop.minor)
            store.update_status(VOLUME, volume_id, {"Attached": wanted}, observed_generation=record.generation)
        elif not attached:
            block.remove_loop(path)

    @staticmethod
    def _instance_alive(store: Store, instance_id: str) -> bool:
        try:
            instance = store.get(INSTANCE, instance_id)
        except NotFound:
            return False
        return instance.spec.get("DesiredState") != "terminated"

    @staticmethod
    def _release(store: Store, record: Record) -> None:
        """The instance is gone: the volume detaches (a data volume outlives its instance)."""
        LOG.info("%s: instance %s terminated, detaching", record.id, record.spec["Attachment"]["InstanceId"])

        def detached(spec: dict) -> dict:
            return {**spec, "Attachment": {**(spec.get("Attachment") or {}), "Wanted": False},
                    "AttachedInstanceId": None}
        store.update_spec(VOLUME, record.id, detached)

    # ---------------------------------------------------------------------------------------- snapshots

    def _snapshot(self, store: Store, snapshot_id: str) -> None:
        path = block.file_for(self.data_dir, snapshot_id)
        try:
            record = store.get(SNAPSHOT, snapshot_id)
        except NotFound:
            block.remove_file(path)
            return
        if record.status.get("State") in ("completed", "error"):
            return
        source = block.file_for(self.data_dir, record.spec["VolumeId"])
        if record.spec.get("RootVolume"):
            store.update_status(SNAPSHOT, snapshot_id, {
                "State": "error", "StateMessage": "Snapshots of root volumes are not supported yet (issue 6)"})
            return
        if not source.exists():
            store.update_status(SNAPSHOT, snapshot_id, {"State": "error",
                                                        "StateMessage": "The source volume no longer exists"})
            return
        block.copy_file(source, path)
        store.update_status(SNAPSHOT, snapshot_id, {"State": "completed", "CompletionTime": round(time.time(), 3)})
