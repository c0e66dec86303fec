"""The `Store` port: the only way anything in Terrarium reads or writes persistent state.

Contract, for every implementation:
- Every method is atomic. `transaction()` groups several calls into one atomic unit; it nests (an
  inner block that raises rolls back only its own writes, the outer block decides the rest).
- Reads inside a transaction see that transaction's uncommitted writes.
- After a transaction commits, every subscriber is called once, from the committing thread, with
  the set of `(kind, id)` keys whose record was created, changed or deleted. Rolled-back writes
  are never announced. Job-queue and meta writes are not announced.
- Calls may come from any thread.
- Errors: a missing record raises `runtime.errors.NotFound`; a uniqueness, generation or
  parent/child rule raises `runtime.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from runtime.state.records import Job, Json, Key, LogEvent, Record

ChangeCallback = Callable[[frozenset[Key]], None]
SpecUpdate = Json | Callable[[Json], Json]
Scalar = str | int | float | bool | None
WhereValue = Scalar | list[Scalar] | tuple[Scalar, ...] | set[Scalar] | frozenset[Scalar]


class Store(Protocol):
    # --- records -------------------------------------------------------------------------------
    def get(self, kind: str, id: str) -> Record:
        """The record, or `NotFound`."""

    def find(self, kind: str, account: str, name: str) -> Record | None:
        """Look a record up by its secondary key (IAM user name, function name, ...)."""

    def list(self, kind: str, account: str | None = None, parent: str | None = None,
             where: Mapping[str, WhereValue] | None = None) -> list[Record]:
        """Records of `kind`, oldest first, narrowed by account, parent and `where`.

        `where` tests top-level spec keys: a scalar means equality (`None` matches missing or
        null), a list/tuple/set means "any of".
        """

    def put(self, kind: str, id: str, account: str, spec: Json, *, name: str | None = None,
            parent: str | None = None, tags: Mapping[str, str] | None = None) -> Record:
        """Insert a new record at generation 1 with empty status.

        `Conflict` if (kind, id) or (kind, account, name) exists; `NotFound` if `parent` names no
        record in the same account.
        """

    def update_spec(self, kind: str, id: str, spec: SpecUpdate, *,
                    expected_generation: int | None = None) -> Record:
        """Replace the spec (a dict, or a function from a copy of the old spec to the new one).

        The generation goes up by one when the spec actually changes; an identical spec is a
        no-op (no write, no notification), so the reconciler is not woken for nothing.
        `expected_generation` turns this into a compare-and-set: `Conflict` if it differs.
        """

    def update_status(self, kind: str, id: str, status_patch: Json, *,
                      observed_generation: int | None = None) -> Record:
        """Merge `status_patch` into the status (a `None` value deletes the key); never touches
        the generation. A patch that changes nothing is a no-op, so a reconciler writing the
        same status twice does not wake itself up."""

    def set_tags(self, kind: str, id: str, tags: Mapping[str, str]) -> Record:
        """Add or overwrite the given tags."""

    def delete_tags(self, kind: str, id: str, keys: Iterable[str]) -> Record:
        """Remove the given tag keys; missing keys are ignored."""

    def delete(self, kind: str, id: str) -> None:
        """Remove the record: `NotFound` if absent, `Conflict` while other records name it parent."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group writes atomically; nests with savepoints."""

    def subscribe(self, callback: ChangeCallback) -> Callable[[], None]:
        """Call `callback(keys)` after each commit that changed records; returns an unsubscribe."""

    # --- durable job queue ---------------------------------------------------------------------
    def enqueue(self, topic: str, payload: Json, *, not_before: float = 0.0) -> int:
        """Queue work; it is claimable once `now >= not_before`. Returns the job id."""

    def claim(self, topic: str, *, now: float, lease_seconds: float) -> Job | None:
        """Lease the oldest due job of `topic` until `now + lease_seconds`, or None.

        A job whose lease has expired (its worker died) is due again.
        """

    def complete(self, job_id: int) -> None:
        """Remove a finished (or abandoned) job; unknown ids are ignored."""

    def fail(self, job_id: int, retry_at: float) -> None:
        """Release the lease and make the job due again at `retry_at`."""

    def release_leases(self, topic: str, *, now: float) -> int:
        """Make every claimed job of `topic` due at `now`; returns how many. For a consumer starting up: the
        claims it finds were made by a server that is gone (crashed, or stopped mid-claim)."""

    # --- meta ------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value stored under `key` (account id, root key, ...), or `default`."""

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under `key`."""

    def append_log_events(self, account: str, group: str, stream: str,
                          events: Iterable[tuple[int, str]]) -> int:
        """Append (timestamp ms, message) events; returns the number stored."""
        ...

    def read_log_events(self, account: str, group: str, *, streams: Iterable[str] | None = None,
                        start: int | None = None, end: int | None = None, after_seq: int = 0,
                        limit: int = 10000, descending: bool = False) -> list[LogEvent]:
        """Events of a group (optionally some streams) in [start, end), ordered by time then seq."""
        ...

    def delete_log_events(self, account: str, group: str, stream: str | None = None) -> None:
        ...

    def count_by_kind(self) -> dict[str, int]:
        """How many records of each kind exist (for `terrarium status`)."""
        ...

    def close(self) -> None:
        """Release the database; further calls fail."""
