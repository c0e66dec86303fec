"""The empty folder markers (`photos/`) stored through the gateway, kept in the bucket record.

SeaweedFS stores a marker as the folder itself, so an object written later under the marker's name without
the slash (`photos`) silently replaced the marker, where S3 keeps both (the other order is refused by the
backend and answered NotImplemented already). Knowing its markers, the gateway refuses that object the same
way before anything is written, at the cost of a record update when a marker is stored or deleted; markers
stored before Terrarium kept this list are not known."""

from __future__ import annotations

from runtime.errors import AwsError
from runtime.services.s3.records import BUCKET
from runtime.state import Store

SPEC_KEY = "folder_markers"


def both_named(key: str) -> AwsError:
    name = key.rstrip("/")
    return AwsError("NotImplemented", f"Terrarium's S3 backend cannot hold both an object and a folder marker of "
                    f"the same name ('{name}' and '{name}/').", 501, Key=key)


def check_no_marker_named(record, key: str) -> None:
    """Refuse an object `key` whose name a stored folder marker (`key/`) has."""
    if not key.endswith("/") and key + "/" in (record.spec.get(SPEC_KEY) or ()):
        raise both_named(key)


def note_markers(store: Store, record, stored: list[str] = (), deleted: list[str] = ()) -> None:
    """Record that the keys ending in `/` among `stored` now exist and those among `deleted` do not."""
    stored = [k for k in stored if k and k.endswith("/")]
    deleted = [k for k in deleted if k and k.endswith("/")]
    if not (stored or deleted):  # the usual write: nothing to look up
        return
    known = set(record.spec.get(SPEC_KEY) or ())
    if not (set(stored) - known or set(deleted) & known):
        return

    def update(spec: dict) -> dict:
        markers = (set(spec.get(SPEC_KEY) or ()) | set(stored)) - set(deleted)
        return {**spec, SPEC_KEY: sorted(markers)}
    store.update_spec(BUCKET, record.id, update)
