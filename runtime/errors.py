"""Exception roots shared by every layer.

    TerrariumError
    ├── AwsError            an answer the caller must see: AWS code, message, HTTP status, sender fault
    ├── NotFound            an internal lookup missed (store, Docker, kernel); services turn it into AwsError
    ├── Conflict            an internal write lost a race or broke a uniqueness rule
    ├── Transient           a host operation may succeed if retried (the reconciler backs off)
    └── RealiseError        a host operation failed for good; written to the record's status

Only `AwsError` crosses the wire: the api layer serialises it in the protocol's error envelope, and
anything else that escapes a provider becomes `InternalFailure` (500) with the traceback kept in the log.
"""

from __future__ import annotations


class TerrariumError(Exception):
    """Root of every exception Terrarium raises on purpose."""


class AwsError(TerrariumError):
    """An error with an AWS contract: `code` and `status` are what the client sees."""

    def __init__(self, code: str, message: str = "", status: int = 400, sender_fault: bool = True,
                 **fields: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.fields = fields


class NotFound(TerrariumError):
    """Something looked up by key does not exist."""


class Conflict(TerrariumError):
    """A write collided with existing state."""


class Transient(TerrariumError):
    """A failure worth retrying with backoff."""


class RealiseError(TerrariumError):
    """A host operation that failed and will fail again until the spec changes."""
