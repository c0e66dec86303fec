"""Transport-neutral request and response values: the protocol code never sees aiohttp."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict


@dataclass
class HttpRequest:
    method: str
    path: str                  # raw, still percent-encoded, without the query string
    query_string: str          # raw
    headers: CIMultiDict | CIMultiDictProxy
    body: bytes = b""

    @property
    def query(self) -> MultiDict:
        return MultiDict(parse_qsl(self.query_string, keep_blank_values=True))


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
