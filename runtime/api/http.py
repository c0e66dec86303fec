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

    @classmethod
    def from_target(cls, method: str, target: str, headers: CIMultiDict | CIMultiDictProxy,
                    body: bytes = b"") -> "HttpRequest":
        """A request from its raw request-target (`/path?query`, as sent). The query must stay raw: aiohttp's
        `query_string` is already decoded once, so `prefix=%2541` would be read as `%41`, then decoded again
        into `A`, and the client's signature over `%2541` would no longer match."""
        path, _, query = target.partition("?")
        return cls(method, path, query, headers, body)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
