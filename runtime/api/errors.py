"""Errors raised inside the wire layer, before or after a provider runs.

`WireError` says *what* was wrong with a request in protocol-neutral terms (a member could not be read, a
required member is missing, a value is out of its modelled range); the handler translates it into each
service's own AWS code (`ServiceInfo` in `specs.py`), so EC2 says `InvalidParameterValue` where Lambda says
`ValidationException` for the same kind of fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.errors import AwsError

MISSING = "missing"
INVALID = "invalid"        # wrong type, unreadable value
CONSTRAINT = "constraint"  # out of range, too long/short, not in the enum
UNKNOWN = "unknown"        # a parameter the model does not have (EC2 rejects these)
# S3's message for a body it cannot read or that breaks its schema (MalformedXML)
XML_SCHEMA_MESSAGE = "The XML you provided was not well-formed or did not validate against our published schema"


@dataclass
class WireError(Exception):
    kind: str
    member: str
    message: str


class UnknownOperation(AwsError):
    """The request names no operation of the service's model."""


def not_implemented(operation: str, service: str) -> AwsError:
    return AwsError("NotImplemented",
                    f"The operation {operation} of {service} is not implemented by Terrarium.",
                    status=501, sender_fault=False)


def internal_failure() -> AwsError:
    return AwsError("InternalFailure",
                    "The request processing has failed because of an unknown error, exception or failure.",
                    status=500, sender_fault=False)
