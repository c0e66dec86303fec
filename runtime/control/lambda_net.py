"""The Hyperplane realiser: one network namespace per Lambda ENI (`InterfaceType` "lambda").

A VPC function's ENI records are made by the Lambda service (runtime/services/lambda_/vpc_access.py); this
realiser makes each one real (runtime/host/net/hyperplane.py) and marks it `Hyperplane: ready` in the ENI's
status, which is what the function's activation waits for. The ENI's security groups, anti-spoofing and
routes are the VPC realiser's, as for any ENI. A namespace whose record is gone is removed; garbage collection
only touches namespaces this Terrarium made (a ledger in the store's meta), never another Terrarium's.
"""

from __future__ import annotations

from runtime.control.instances import eni_model
from runtime.control.ledger import HostLedger
from runtime.control.realiser import Target
from runtime.errors import Conflict, NotFound, Transient
from runtime.host.net import hyperplane, naming
from runtime.state import Key, Store, kinds

KIND = kinds.NETWORK_INTERFACE
REALISED = "lambda_net.realised"
LEDGER = HostLedger(REALISED)


def is_lambda_eni(record) -> bool:
    return record.spec.get("InterfaceType") == kinds.LAMBDA_INTERFACE_TYPE


class HyperplaneRealiser:
    name = "hyperplane"

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        if key[0] != KIND:
            return set()
        try:
            record = store.get(KIND, key[1])
        except NotFound:
            return {(self.name, key[1])}  # deleted: converge removes its namespace if it had one
        return {(self.name, key[1])} if is_lambda_eni(record) else set()

    def all_targets(self, store: Store) -> set[Target]:
        return {(self.name, r.id) for r in store.list(KIND) if is_lambda_eni(r)}

    def converge(self, store: Store, target: Target) -> None:
        eni_id = target[1]
        try:
            record = store.get(KIND, eni_id)
        except NotFound:
            self._remove(store, eni_id)
            return
        LEDGER.note(store, eni_id)
        try:
            hyperplane.ensure(record.spec["VpcId"], eni_model(store, eni_id))
        except (NotFound, Conflict) as exc:  # the VPC's namespace is not realised yet
            raise Transient(str(exc)) from exc
        store.update_status(KIND, eni_id, {kinds.HYPERPLANE: kinds.HYPERPLANE_READY})

    def _remove(self, store: Store, eni_id: str) -> None:
        hyperplane.remove(eni_id)
        LEDGER.forget(store, eni_id)

    def collect_garbage(self, store: Store) -> list[str]:
        known = {r.id for r in store.list(KIND) if is_lambda_eni(r)}
        gone = sorted(LEDGER.ids(store) - known)
        for eni_id in gone:
            self._remove(store, eni_id)
        return [naming.lambda_netns(e) for e in gone]
