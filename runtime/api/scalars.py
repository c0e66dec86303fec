"""Scalar conversions shared by every wire protocol (timestamps, blobs, booleans, numbers).

Parsing is strict: a value that does not convert raises `ValueError`, which the protocol turns into the
service's invalid-parameter error.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import math
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_timestamp(text: str | int | float) -> datetime:
    """ISO 8601, epoch seconds (int/float/str) or RFC 822, always returned as an aware UTC datetime."""
    if isinstance(text, bool):
        raise ValueError("boolean is not a timestamp")
    if isinstance(text, (int, float)):
        return from_epoch(text)
    text = text.strip()
    try:
        return from_epoch(float(text))
    except ValueError:
        pass
    if "," in text or text[:3].isalpha():
        return parsedate_to_datetime(text).astimezone(timezone.utc)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("timestamp must be finite")
    micros = int(round(seconds * 1_000_000))
    return EPOCH + timedelta(microseconds=micros)


def iso8601(value: datetime) -> str:
    """The form AWS's XML protocols use: millisecond precision, Z suffix."""
    value = _utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_seconds(value: datetime) -> float | int:
    value = _utc(value)
    seconds = calendar.timegm(value.timetuple())
    return (seconds * 10**6 + value.microsecond) / 10**6 if value.microsecond else seconds


def rfc822(value: datetime) -> str:
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


def format_timestamp(value: datetime, fmt: str) -> str | float | int:
    fmt = fmt.lower()
    if fmt == "iso8601":
        return iso8601(value)
    if fmt == "rfc822":
        return rfc822(value)
    return epoch_seconds(value)


def _utc(value: datetime) -> datetime:
    if isinstance(value, (int, float)):
        return from_epoch(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"'{text}' is not a boolean")


def parse_int(text: str | int) -> int:
    if isinstance(text, bool):
        raise ValueError("boolean is not an integer")
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        if text.is_integer():
            return int(text)
        raise ValueError(f"{text} is not an integer")
    return int(text.strip())


def parse_float(text: str | float | int) -> float:
    if isinstance(text, bool):
        raise ValueError("boolean is not a number")
    if isinstance(text, (int, float)):
        return float(text)
    return float(text.strip())


def parse_blob(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        text = text.decode("ascii")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


def b64(value: bytes | str) -> str:
    if isinstance(value, str):
        value = value.encode()
    return base64.b64encode(value).decode()


def format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))
