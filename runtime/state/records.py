"""The values the store hands out: `Record` (a resource) and `Job` (a unit of queued async work).

A record keeps what the API asked for (`spec`, desired) apart from what the host reports (`status`,
observed). `generation` counts spec changes; the reconciler copies the generation it acted on into
`observed_generation`, so `converged` tells whether the host has caught up with the last request.

Both are snapshots: the store builds a fresh one (fresh dicts) on every read, so mutating a record's
dicts never changes the database — write through the store instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]
"""`(kind, id)`: how the store, change notifications and the reconciler's queue name a record."""

Json = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One resource. `kind` is `<service>.<type>` (`ec2.instance`, `iam.user`); `id` is unique per kind.

    `name` is an optional secondary key, unique per (kind, account) — IAM user name, key pair name,
    Lambda function name. `parent` is the id of the owning record (a subnet's VPC); the store
    refuses to delete a record while children point at it.
    """

    kind: str
    id: str
    account: str
    spec: Json
    status: Json
    generation: int
    observed_generation: int
    created: float
    updated: float
    tags: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    name: str | None = None

    @property
    def key(self) -> Key:
        return (self.kind, self.id)

    @property
    def converged(self) -> bool:
        """True once the reconciler has acted on the latest spec."""
        return self.observed_generation >= self.generation


@dataclass(frozen=True)
class Job:
    """A claimed unit of durable async work (an async Lambda invoke, an S3 notification, ...).

    `attempts` counts claims including this one, so a worker can give up after N tries by calling
    `complete` instead of `fail`. Delivery is at least once: a worker that outlives its lease may
    see its job run again elsewhere.
    """

    id: int
    topic: str
    payload: Json
    attempts: int
    not_before: float
    lease_until: float
    created: float


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch Logs event; times are epoch milliseconds, `seq` orders and pages."""

    seq: int
    log_stream: str
    timestamp: int
    ingestion: int
    message: str
