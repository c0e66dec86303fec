"""The contract between the reconciler and whatever makes records real on the host.

A realiser owns *targets*: the units it converges as a whole (one VPC's network, one instance's container).
Records map onto targets (`targets_for`): a change to a subnet, a security group or an ENI all map to their
VPC's network target, so the realiser always renders the complete desired state of that VPC from the store
and never patches the host incrementally.

`converge(target)` must be idempotent and level-triggered: called twice on a converged host it changes
nothing; called after the records are gone it removes what the target left on the host. It runs in a worker
thread (it may block on netlink, iptables or Docker) and raises `Transient` to be retried with backoff or
`RealiseError` for a failure that only a spec change can fix.
"""

from __future__ import annotations

from typing import Protocol

from runtime.state import Key, Store

Target = tuple[str, str]  # (realiser name, target id)


class Realiser(Protocol):
    name: str

    def targets_for(self, store: Store, key: Key) -> set[Target]:
        """The targets a changed record affects (empty when the kind is not this realiser's)."""

    def all_targets(self, store: Store) -> set[Target]:
        """Every target the store currently implies: the start-up and periodic resync set."""

    def converge(self, store: Store, target: Target) -> None:
        """Make the host match the store for one target (create, update or remove)."""

    def collect_garbage(self, store: Store) -> list[str]:
        """Remove host objects this realiser owns that no record implies; return what was removed."""
