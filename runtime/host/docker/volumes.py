"""A block device inside a running instance container, at the device name the user asked for (`/dev/sdf`).

Why a device node plus a devices-cgroup rule, and not `docker create --device`: `--device` is fixed when the
container is created, and re-creating the container would throw away its writable layer, which is the
instance's root volume. Instead the node is made from the host through `/proc/<pid>/root` (the container's
own mount namespace, so no tool is needed in the image) and the device is allowed in the container's cgroup
v1 devices controller. Both live only as long as the container runs (a start gives it a fresh /dev and a
fresh cgroup), so the volume realiser calls `expose` after every start; for a stopped instance there is
nothing to do until then, which is how attaching to a stopped instance works.

Only cgroup v1 is supported (v2 needs an eBPF device program owned by the runtime); the instance can read and
write the device, but mounting it needs CAP_SYS_ADMIN, which instance containers do not have.

Blocking and idempotent; raises only runtime.errors.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from runtime.errors import RealiseError
from runtime.host.docker import containers

DISK_GID = 6  # group `disk` in Debian, the owner of block devices
CGROUP_ROOT = Path("/sys/fs/cgroup/devices")


def _devices_cgroup(pid: int) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "devices" in controllers.split(","):
            return CGROUP_ROOT / path.lstrip("/")
    raise RealiseError("no cgroup v1 devices controller: block devices cannot be attached on this host")


def _write_rule(pid: int, verb: str, major: int, minor: int) -> None:
    try:
        (_devices_cgroup(pid) / f"devices.{verb}").write_text(f"b {major}:{minor} rwm")
    except OSError as exc:
        raise RealiseError(f"devices.{verb} for pid {pid}: {exc}") from exc


def _node(pid: int, device: str) -> Path:
    if not device.startswith("/dev/") or ".." in device:
        raise RealiseError(f"refusing device name {device!r}")
    return Path(f"/proc/{pid}/root{device}")


def expose(instance_id: str, device: str, major: int, minor: int) -> bool:
    """Make `device` in the running container the block device major:minor; False if it is not running."""
    state = containers.inspect(instance_id)
    if not state.running:
        return False
    _write_rule(state.pid, "allow", major, minor)
    node = _node(state.pid, device)
    try:
        current = node.lstat()
        if stat.S_ISBLK(current.st_mode) and current.st_rdev == os.makedev(major, minor):
            return True
        node.unlink()
    except FileNotFoundError:
        pass
    try:
        node.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(node, stat.S_IFBLK | 0o660, os.makedev(major, minor))
        os.chown(node, 0, DISK_GID)
    except OSError as exc:
        raise RealiseError(f"creating {device} in {instance_id}: {exc}") from exc
    return True


def withdraw(instance_id: str, device: str, major: int, minor: int) -> None:
    """Remove the node and the cgroup rule from a running container; a stopped or missing one has neither."""
    state = containers.inspect(instance_id)
    if not state.running:
        return
    node = _node(state.pid, device)
    try:
        current = node.lstat()
        if stat.S_ISBLK(current.st_mode) and current.st_rdev == os.makedev(major, minor):
            node.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise RealiseError(f"removing {device} from {instance_id}: {exc}") from exc
    _write_rule(state.pid, "deny", major, minor)
