"""Instance containers: the only code that creates, starts, stops and removes them.

Every container is named `tr-i-<instance id>` and labelled `terrarium=1`, `terrarium.kind=instance`,
`terrarium.instance=<id>` and `terrarium.owner=<owner>` (the account of the Terrarium that made it), so each
Terrarium on a host finds what it owns and removes only what none of its records wants. Containers
run with `--network none`: the VPC realiser moves the instance's ENI into the container's network namespace
after each start (a start gives the container a fresh namespace).

Every function is blocking (callers use `asyncio.to_thread`), idempotent, and raises only runtime.errors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from runtime.errors import NotFound
from runtime.host.docker.client import connect, docker_errors

NAME_PREFIX = "tr-i-"
LABEL_KIND = "terrarium.kind"
LABEL_INSTANCE = "terrarium.instance"
LABEL_OWNER = "terrarium.owner"
STOP_TIMEOUT_S = 10
CPU_PERIOD_US = 100_000  # CFS quota per period: vCPUs as a hard cap, and updatable while stopped


@dataclass(frozen=True)
class ContainerSpec:
    owner: str
    instance_id: str
    image: str
    hostname: str
    vcpus: int
    memory_mib: int
    env: dict[str, str]


@dataclass(frozen=True)
class ContainerState:
    exists: bool
    running: bool = False
    pid: int = 0
    exit_code: int | None = None
    started_at: str = ""
    finished_at: str = ""
    image: str = ""


def container_name(instance_id: str) -> str:
    return NAME_PREFIX + instance_id


def _client():
    return connect(timeout=60)


def inspect(instance_id: str) -> ContainerState:
    client = _client()
    try:
        with docker_errors(f"inspecting {instance_id}"):
            attrs = client.api.inspect_container(container_name(instance_id))
    except NotFound:
        return ContainerState(exists=False)
    state = attrs.get("State") or {}
    return ContainerState(exists=True, running=bool(state.get("Running")), pid=int(state.get("Pid") or 0),
                          exit_code=state.get("ExitCode"), started_at=state.get("StartedAt", ""),
                          finished_at=state.get("FinishedAt", ""), image=(attrs.get("Config") or {}).get("Image", ""))


def ensure_created(spec: ContainerSpec) -> None:
    """Idempotent: an existing container is kept as it is (its root filesystem is the instance's disk)."""
    if inspect(spec.instance_id).exists:
        return
    client = _client()
    cpus = min(spec.vcpus, os.cpu_count() or 1)
    with docker_errors(f"creating the container of {spec.instance_id}"):
        client.api.create_container(
            spec.image, name=container_name(spec.instance_id), hostname=spec.hostname,
            environment=spec.env, stop_signal="SIGTERM",
            labels={"terrarium": "1", LABEL_KIND: "instance", LABEL_INSTANCE: spec.instance_id,
                    LABEL_OWNER: spec.owner},
            host_config=client.api.create_host_config(
                network_mode="none", cpu_period=CPU_PERIOD_US, cpu_quota=cpus * CPU_PERIOD_US,
                mem_limit=f"{spec.memory_mib}m",
                memswap_limit=f"{spec.memory_mib}m", init=False, cap_add=["NET_ADMIN", "SYS_BOOT"],
                log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "2"}}))


def ensure_resources(instance_id: str, vcpus: int, memory_mib: int) -> None:
    """Apply an instance type change to a stopped container (AWS allows it only while stopped)."""
    client = _client()
    cpus = min(vcpus, os.cpu_count() or 1)
    with docker_errors(f"resizing {instance_id}"):
        client.api.update_container(container_name(instance_id), cpu_period=CPU_PERIOD_US,
                                    cpu_quota=cpus * CPU_PERIOD_US, mem_limit=f"{memory_mib}m",
                                    memswap_limit=f"{memory_mib}m")


def start(instance_id: str) -> ContainerState:
    client = _client()
    with docker_errors(f"starting {instance_id}"):
        client.api.start(container_name(instance_id))
    return inspect(instance_id)


def stop(instance_id: str, timeout: int = STOP_TIMEOUT_S) -> None:
    """Idempotent: a stopped or missing container is fine."""
    state = inspect(instance_id)
    if not state.running:
        return
    client = _client()
    with docker_errors(f"stopping {instance_id}"):
        client.api.stop(container_name(instance_id), timeout=timeout)


def restart(instance_id: str) -> ContainerState:
    client = _client()
    with docker_errors(f"rebooting {instance_id}"):
        client.api.restart(container_name(instance_id), timeout=STOP_TIMEOUT_S)
    return inspect(instance_id)


def remove(instance_id: str) -> None:
    """Idempotent: tolerates a missing container."""
    client = _client()
    try:
        with docker_errors(f"removing {instance_id}"):
            client.api.remove_container(container_name(instance_id), force=True, v=True)
    except NotFound:
        pass


def console_output(instance_id: str, limit: int = 64 * 1024) -> bytes:
    """The instance's console: everything its init and user data printed, the last `limit` bytes."""
    client = _client()
    try:
        with docker_errors(f"reading the console of {instance_id}"):
            data = client.api.logs(container_name(instance_id), stdout=True, stderr=True, timestamps=False)
    except NotFound:
        return b""
    return data[-limit:]


def owned_instances(owner: str | None = None) -> set[str]:
    """Instance ids of the containers `owner` made on this host (every Terrarium's, if None)."""
    client = _client()
    labels = [f"{LABEL_KIND}=instance"] + ([f"{LABEL_OWNER}={owner}"] if owner else [])
    with docker_errors("listing instance containers"):
        found = client.api.containers(all=True, filters={"label": labels})
    return {c["Labels"][LABEL_INSTANCE] for c in found if LABEL_INSTANCE in (c.get("Labels") or {})}


def exec_run(instance_id: str, argv: list[str], user: str = "root") -> tuple[int, bytes]:
    """Run a command in a running instance (tests and `terrarium` diagnostics)."""
    client = _client()
    with docker_errors(f"exec in {instance_id}"):
        exec_id = client.api.exec_create(container_name(instance_id), argv, user=user)
        output = client.api.exec_start(exec_id)
        code = client.api.exec_inspect(exec_id)["ExitCode"]
    return code, output


def watch(owner: str, on_event: Callable[[str, str], None], stopped: threading.Event) -> None:
    """Call `on_event(instance_id, action)` for each start/die/destroy of `owner`'s instance containers until
    `stopped` is set (blocking: run it in a thread; the event stream is closed to unblock it)."""
    client = _client()
    with docker_errors("watching container events"):
        stream = client.events(decode=True, filters={"type": "container", "event": ["start", "die", "destroy"],
                                                     "label": [f"{LABEL_KIND}=instance", f"{LABEL_OWNER}={owner}"]})
    closer = threading.Thread(target=lambda: (stopped.wait(), stream.close()), daemon=True)
    closer.start()
    try:
        with docker_errors("reading container events"):
            for event in stream:
                instance_id = ((event.get("Actor") or {}).get("Attributes") or {}).get(LABEL_INSTANCE)
                if instance_id:
                    on_event(instance_id, event.get("Action", ""))
    except Exception:
        if not stopped.is_set():
            raise


def commit(instance_id: str, reference: str, labels: dict[str, str]) -> str:
    """Commit the instance's filesystem as image `reference` (repo:tag) carrying `labels`; returns the image
    id. The container is paused for the commit, so the image is a consistent point in time."""
    client = _client()
    repository, _, tag = reference.rpartition(":")
    changes = ["LABEL " + " ".join(f'{k}="{v}"' for k, v in labels.items())]
    with docker_errors(f"committing {instance_id}"):
        result = client.api.commit(container_name(instance_id), repository=repository, tag=tag,
                                   changes=changes, pause=True)
    return result["Id"]
