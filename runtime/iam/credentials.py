"""Access key -> `Credential`: what the gateway verifies signatures against, and where STS sessions are minted.

Three kinds of key resolve here: the account's root key (from `account.json`), IAM users' long-term `AKIA`
keys (record kind `iam.accesskey`, a child of its user; an `Inactive` key resolves to an inactive credential,
which the gateway refuses like an unknown one), and STS session credentials (`ASIA` + session token + expiry,
record kind `sts.session`). Sessions are records, so they survive a restart until they expire.

`issue_role_session` is the one way temporary credentials for a role are made: STS AssumeRole uses it, and so
do workloads (an instance profile's role served by IMDS, a Lambda function's execution role).

The server clock is injectable: `TERRARIUM_CLOCK_OFFSET_FILE` names a file holding a number of seconds added
to the real time, so a test can let 15 minutes pass without waiting for them (`offset_clock`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runtime.api.context import Credential, Principal
from runtime.errors import NotFound, TerrariumError
from runtime.iam.account import Account
from runtime.iam.authorizer import parsed
from runtime.iam.policy import principal_allowed_by_trust
from runtime.services._shared import arns, ids  # leaf modules: id prefix table and ARN formats

LOG = logging.getLogger(__name__)

USER = "iam.user"
GROUP = "iam.group"
ROLE = "iam.role"
POLICY = "iam.policy"
ACCESS_KEY = "iam.accesskey"
INSTANCE_PROFILE = "iam.instanceprofile"
SESSION = "sts.session"

_CREDENTIAL_KINDS = {USER, ACCESS_KEY, SESSION}
_CACHE_LIMIT = 100_000
LAST_USED_EVERY = 60.0  # seconds between two last-used writes for one key: a busy key costs no write per call
PURGE_EVERY = 3600.0  # seconds between two sweeps of expired sessions (a sweep reads every session)
SESSION_KEPT_EXPIRED = 86400.0  # an expired key answers ExpiredToken this long before it is forgotten
CLOCK_OFFSET_ENV = "TERRARIUM_CLOCK_OFFSET_FILE"

Clock = Callable[[], float]


def offset_clock(env: dict | None = None) -> Clock:
    """`time.time`, or `time.time` plus the seconds in the file `$TERRARIUM_CLOCK_OFFSET_FILE` (re-read per call,
    a missing or empty file meaning 0)."""
    path = (env if env is not None else os.environ).get(CLOCK_OFFSET_ENV)
    if not path:
        return time.time
    offset_file = Path(path)

    def now() -> float:
        try:
            text = offset_file.read_text().strip()
        except OSError:
            return time.time()
        return time.time() + (float(text) if text else 0.0)
    return now


class RoleNotAssumable(TerrariumError):
    """A workload's role is missing or its trust policy does not trust the service; the caller words the error
    (Lambda: InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda.")."""


@dataclass(frozen=True)
class SessionCredentials:
    """What AssumeRole/GetSessionToken hand out (and IMDS or a sandbox would inject)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: float  # epoch seconds
    principal: Principal


class CredentialResolver:
    """Resolves the root key, IAM users' access keys and STS session keys; records keys' last use.

    Resolved keys are kept in memory until a user, key or session record changes (store notifications), so a
    signed request costs no database read.
    """

    def __init__(self, account: Account, store=None, clock: Clock = time.time) -> None:
        self.account = account
        self.store = store
        self.clock = clock
        self._root = Credential(account.access_key_id, account.secret_access_key, root_principal(account.account_id))
        self._last_written: dict[str, float] = {}
        self._cache: dict[str, Credential | None] = {}
        if store is not None:
            store.subscribe(self._changed)

    def _changed(self, keys) -> None:
        if any(kind in _CREDENTIAL_KINDS for kind, _ in keys):
            self._cache = {}

    def lookup(self, access_key: str) -> Credential | None:
        if access_key == self.account.access_key_id:
            return self._root
        if self.store is None or len(access_key) != 20:
            return None
        cache = self._cache
        if access_key in cache:
            return cache[access_key]
        found = None
        if access_key.startswith("AKIA"):
            found = self._user_key(access_key)
        elif access_key.startswith("ASIA"):
            found = self._session(access_key)
        if found is not None and len(cache) < _CACHE_LIMIT:
            cache[access_key] = found
        return found

    def _user_key(self, access_key: str) -> Credential | None:
        try:
            key = self.store.get(ACCESS_KEY, access_key)
            user = self.store.get(USER, key.parent)
        except NotFound:
            return None
        return Credential(access_key, key.spec["Secret"], user_principal(user), active=key.spec["Status"] == "Active")

    def _session(self, access_key: str) -> Credential | None:
        try:
            session = self.store.get(SESSION, access_key)
        except NotFound:
            return None
        spec = session.spec
        principal = Principal(spec["Arn"], spec["UserId"], session.account, spec["Kind"], spec["Name"],
                              spec.get("SessionName"))
        return Credential(access_key, spec["Secret"], principal, session_token=spec["Token"],
                          expires=spec["Expiration"])

    def record_use(self, credential: Credential, service: str, region: str) -> None:
        """Note that a key signed a request (GetAccessKeyLastUsed, RoleLastUsed); at most one write a minute."""
        if self.store is None or credential.principal.kind in ("root", "anonymous"):
            return
        now = self.clock()
        if now - self._last_written.get(credential.access_key, 0.0) < LAST_USED_EVERY:
            return
        self._last_written[credential.access_key] = now
        try:
            if credential.access_key.startswith("AKIA"):
                self.store.update_status(ACCESS_KEY, credential.access_key,
                                         {"LastUsedDate": now, "ServiceName": service, "Region": region})
            elif credential.principal.kind == "assumed-role":
                role_id = credential.principal.user_id.split(":", 1)[0]
                self.store.update_status(ROLE, role_id, {"LastUsedDate": now, "Region": region})
        except NotFound:
            LOG.debug("key %s vanished before its use was recorded", credential.access_key)


class SessionIssuer:
    """Mints STS session credentials as `sts.session` records, which `CredentialResolver` then resolves."""

    def __init__(self, store, clock: Clock = time.time) -> None:
        self.store = store
        self.clock = clock
        self._purged = 0.0

    def issue_role_session(self, role, session_name: str, duration: int, *, policy: str | None = None,
                           policy_arns: list[str] | None = None, source: str | None = None) -> SessionCredentials:
        """Temporary credentials for `role` (an `iam.role` record), valid for `duration` seconds.

        `policy`/`policy_arns` are session policies (the session may do only what they and the role both
        allow); `source` is the ARN of whoever asked, kept for audit.
        """
        spec = role.spec
        principal = Principal(arns.assumed_role_arn(role.account, spec["RoleName"], session_name),
                              f"{role.id}:{session_name}", role.account, "assumed-role", spec["RoleName"],
                              session_name)
        return self._issue(principal, duration, {"RoleId": role.id, "RoleArn": spec["Arn"],
                                                       "Policy": policy, "PolicyArns": list(policy_arns or []),
                                                       "Source": source})

    def issue_service_session(self, account: str, role_arn: str, service: str, session_name: str,
                              duration: int = 3600) -> SessionCredentials:
        """Credentials for a workload: `service` (`ec2.amazonaws.com`, `lambda.amazonaws.com`) assumes `role_arn`.

        Raises RoleNotAssumable unless the role exists in `account` and its trust policy trusts the service.
        Call again before `expiration` to rotate (IMDS refreshes about five minutes early, as AWS does).
        """
        try:
            role = self.store.find(ROLE, account, arns.parse_iam_arn(role_arn).name.lower())
        except ValueError:
            role = None
        if role is None or role.spec["Arn"] != role_arn:
            raise RoleNotAssumable(f"role {role_arn} does not exist")
        if not principal_allowed_by_trust(parsed(role.spec["Trust"], "trust"), {"Service": service}):
            raise RoleNotAssumable(f"role {role_arn} does not trust {service}")
        return self.issue_role_session(role, session_name, duration, source=service)

    def issue_user_session(self, principal: Principal, duration: int) -> SessionCredentials:
        """GetSessionToken: temporary credentials that act as the (long-term) caller itself."""
        return self._issue(principal, duration, {"SessionToken": True})

    def _issue(self, principal: Principal, duration: int, extra: dict) -> SessionCredentials:
        access_key, secret, token = ids.new_access_key(temporary=True), ids.new_secret_key(), ids.new_session_token()
        expiration = float(int(self.clock()) + duration)
        spec = {"Secret": secret, "Token": token, "Expiration": expiration, "Arn": principal.arn,
                "UserId": principal.user_id, "Kind": principal.kind, "Name": principal.name,
                "SessionName": principal.session_name, **extra}
        if self.clock() - self._purged > PURGE_EVERY:
            self.purge_expired()
        self.store.put(SESSION, access_key, principal.account, spec)
        return SessionCredentials(access_key, secret, token, expiration, principal)

    def purge_expired(self) -> None:
        """Forget sessions that expired more than a day ago (an expired key still answers ExpiredToken for a
        while, as AWS does, rather than InvalidClientTokenId)."""
        self._purged = self.clock()
        horizon = self._purged - SESSION_KEPT_EXPIRED
        for session in self.store.list(SESSION):
            if session.spec["Expiration"] < horizon:
                self.store.delete(SESSION, session.id)


def root_principal(account_id: str) -> Principal:
    return Principal(f"arn:aws:iam::{account_id}:root", account_id, account_id, "root", "root")


def user_principal(user) -> Principal:
    """The principal of an `iam.user` record."""
    return Principal(user.spec["Arn"], user.id, user.account, "user", user.spec["UserName"])
