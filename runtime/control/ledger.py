"""Which host objects this Terrarium made: a set of record ids kept in the store's meta, per realiser.

Several Terrariums may share one host (each with its own data dir). Garbage collection that went by name
prefix alone would remove the others' namespaces; a realiser therefore notes every id it realises here and
collects only ids it noted whose records are gone. `terrarium down` reads the same ledgers.
"""

from __future__ import annotations

from runtime.state import Store


class HostLedger:
    def __init__(self, meta_key: str) -> None:
        self.meta_key = meta_key

    def ids(self, store: Store) -> set[str]:
        return set(store.get_meta(self.meta_key, []))

    def note(self, store: Store, record_id: str) -> None:
        realised = self.ids(store)
        if record_id not in realised:
            store.set_meta(self.meta_key, sorted(realised | {record_id}))

    def forget(self, store: Store, record_id: str) -> None:
        realised = self.ids(store)
        if record_id in realised:
            store.set_meta(self.meta_key, sorted(realised - {record_id}))
