"""Terrarium's continuation tokens (ListObjectsV2, ListBuckets): opaque to clients, the last name listed
inside. A token Terrarium did not write is InvalidArgument, as S3 answers one it did not write."""

from __future__ import annotations

import base64
import binascii

from runtime.errors import AwsError

_TAG = "tr1:"


def token_for(name: str) -> str:
    return base64.urlsafe_b64encode((_TAG + name).encode("utf-8", "surrogateescape")).decode()


def name_in(token: str, argument: str) -> str:
    """The name a token resumes after; `argument` is the parameter that carried it (for the error)."""
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        text = ""
    if not text.startswith(_TAG):
        raise AwsError("InvalidArgument", "The continuation token provided is incorrect", 400, ArgumentName=argument)
    return text[len(_TAG):]
