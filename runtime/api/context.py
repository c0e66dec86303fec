"""What a provider knows about the call it serves: who, where, which operation."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.api.http import HttpRequest


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `kind` is `root`, `user` or `assumed-role`."""

    arn: str
    user_id: str
    account: str
    kind: str
    name: str
    session_name: str | None = None

    @property
    def is_root(self) -> bool:
        return self.kind == "root"


@dataclass(frozen=True)
class Credential:
    """A secret the gateway can verify signatures with, and whose it is."""

    access_key: str
    secret: str
    principal: Principal
    session_token: str | None = None
    expires: float | None = None      # epoch seconds, temporary credentials only
    active: bool = True


@dataclass
class RequestContext:
    service: str
    operation: str
    region: str
    request_id: str
    principal: Principal
    http: HttpRequest
    source_ip: str = "127.0.0.1"
    secure: bool = False
    credential: Credential | None = None
    extras: dict = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.principal.account
