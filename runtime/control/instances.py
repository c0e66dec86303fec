"""The instance realiser: one container per `ec2.instance` record, driven to the record's `DesiredState`.

Converging an instance: create its container from the AMI's image (the container's filesystem is the
instance's root volume, kept across stop/start), start or stop it, plug its ENI into the container's network
namespace after every start (a start or a reboot gives the container a new namespace), reboot when
`RebootCount` moved, remove the container on termination. What the container did by itself is observed
here too: init exiting 0 is a shutdown from inside (`poweroff`), which follows the instance's
`InstanceInitiatedShutdownBehavior`; exit 129 is `reboot`.

Status written: `State`, `LaunchTime`, `RunningSince`/`BilledSeconds`/`RunPeriods` (per-second billing; each
closed run period's [start, end], so `terrarium bill` splits it exactly by day), `RebootsDone`,
`StateReason`/`StateTransitionReason` for stops the OS initiated, `TerminatedAt`.
"""

from __future__ import annotations

import logging
import time

from runtime.control.realiser import Target
from runtime.errors import Conflict, NotFound, Transient
from runtime.host.docker import containers
from runtime.host.net import realise as net
from runtime.host.net.model import Eni
from runtime.state import Key, Store, kinds

LOG = logging.getLogger(__name__)

KIND = kinds.INSTANCE
ENI_KIND = kinds.NETWORK_INTERFACE
REBOOT_EXIT = 129
BILLING_MINIMUM_S = 60


def _close_period(status: dict, now: float) -> dict:
    since = status.get("RunningSince")
    if not since:
        return {}
    return {"BilledSeconds": float(status.get("BilledSeconds", 0.0)) + max(BILLING_MINIMUM_S, now - since),
            "RunningSince": None, "RunPeriods": [*status.get("RunPeriods", ()), [since, now]]}


def eni_model(store: Store, eni_id: str) -> Eni:
    record = store.get(ENI_KIND, eni_id)
    spec = record.spec
    return Eni(eni_id=record.id, subnet_id=spec["SubnetId"], private_ip=spec["PrivateIpAddress"],
               security_group_ids=tuple(spec.get("Groups") or ()), mac=spec.get("MacAddress"),
               secondary_ips=tuple(spec.get("SecondaryPrivateIpAddresses") or ()),
               source_dest_check=spec.get("SourceDestCheck", True))


class InstanceRealiser:
    """`owner` scopes garbage collection: other Terrariums' containers on the same host are never touched."""

    name = "instance"

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        return {(self.name, key[1])} if key[0] == KIND else set()

    def all_targets(self, store: Store) -> set[Target]:
        return {(self.name, r.id) for r in store.list(KIND) if r.status.get("State") != "terminated"}

    def collect_garbage(self, store: Store) -> list[str]:
        known = {r.id for r in store.list(KIND) if r.status.get("State") != "terminated"}
        removed = []
        for instance_id in containers.owned_instances(self.owner) - known:
            containers.remove(instance_id)
            removed.append(containers.container_name(instance_id))
        return removed

    def converge(self, store: Store, target: Target) -> None:
        instance_id = target[1]
        try:
            record = store.get(KIND, instance_id)
        except NotFound:
            containers.remove(instance_id)
            return
        desired = record.spec.get("DesiredState", "running")
        try:
            if desired == "terminated":
                self._terminate(store, record)
            elif desired == "stopped":
                self._stop(store, record)
            else:
                self._run(store, record)
        except (NotFound, Conflict) as exc:
            raise Transient(str(exc)) from exc

    def _terminate(self, store: Store, record) -> None:
        if record.status.get("State") == "terminated":
            return
        containers.stop(record.id)
        containers.remove(record.id)
        now = time.time()
        store.update_status(KIND, record.id, {"State": "terminated", "TerminatedAt": now, "PublicIp": None,
                                              **_close_period(record.status, now)},
                            observed_generation=record.generation)

    def _stop(self, store: Store, record) -> None:
        if record.status.get("State") == "stopped":
            return
        containers.stop(record.id)
        now = time.time()
        store.update_status(KIND, record.id, {"State": "stopped", "PublicIp": None,
                                              **_close_period(record.status, now)},
                            observed_generation=record.generation)

    def _run(self, store: Store, record) -> None:
        spec = record.spec
        placement = spec["Placement"]
        state = containers.inspect(record.id)
        if state.exists and not state.running and record.status.get("State") == "running":
            if state.exit_code == REBOOT_EXIT:
                LOG.info("%s rebooted itself", record.id)
            else:
                self._shutdown_from_inside(store, record)
                return
        resources = spec["Resources"]
        if not state.exists:
            hostname = "ip-" + placement["PrivateIpAddress"].replace(".", "-")
            containers.ensure_created(containers.ContainerSpec(
                self.owner, record.id, spec["DockerImage"], hostname, resources["Vcpus"], resources["MemoryMiB"], env={}))
        elif not state.running:
            containers.ensure_resources(record.id, resources["Vcpus"], resources["MemoryMiB"])
        reboot_due = spec.get("RebootCount", 0) > record.status.get("RebootsDone", 0)
        if reboot_due and state.running:
            state = containers.restart(record.id)
        elif not state.running:
            state = containers.start(record.id)
        if not state.running:
            raise Transient(f"{record.id}: container exited at start (code {state.exit_code})")
        net.attach_eni(placement["VpcId"], eni_model(store, placement["NetworkInterfaceId"]), state.pid)
        now = time.time()
        patch = {"State": "running", "RebootsDone": spec.get("RebootCount", 0)}
        if not record.status.get("RunningSince"):
            patch["RunningSince"] = now
        if not record.status.get("LaunchTime"):
            patch["LaunchTime"] = now
        store.update_status(KIND, record.id, patch, observed_generation=record.generation)

    def _shutdown_from_inside(self, store: Store, record) -> None:
        behaviour = record.spec.get("InstanceInitiatedShutdownBehavior", "stop")
        now = time.time()
        reason = {"Code": "Client.InstanceInitiatedShutdown",
                  "Message": "Client.InstanceInitiatedShutdown: Instance initiated shutdown"}
        with store.transaction():
            store.update_spec(KIND, record.id, {**record.spec, "DesiredState":
                                                "terminated" if behaviour == "terminate" else "stopped"})
            stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(now))
            store.update_status(KIND, record.id, {
                "State": "shutting-down" if behaviour == "terminate" else "stopping", "StateReason": reason,
                "StateTransitionReason": f"Client.InstanceInitiatedShutdown ({stamp})"})
        LOG.info("%s shut down from inside; its shutdown behaviour is %s", record.id, behaviour)
