"""The execution role: checked at CreateFunction/UpdateFunctionConfiguration, assumed at invoke.

A function's role must exist and trust `lambda.amazonaws.com`. At invoke the function gets temporary
credentials for it, minted by the same `SessionIssuer.issue_role_session` STS AssumeRole uses (session name
= function name, so the handler sees `arn:aws:sts::<acct>:assumed-role/<role>/<function>`). Credentials are
cached per (role, function) and renewed well before they expire, so an invocation costs no store write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runtime.iam.authorizer import parsed
from runtime.iam.credentials import ROLE, SessionIssuer
from runtime.iam.policy import principal_allowed_by_trust
from runtime.services._shared import arns
from runtime.services.lambda_.errors import invalid
from runtime.state import Record, Store

CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."
LAMBDA_PRINCIPAL = {"Service": "lambda.amazonaws.com"}
SESSION_SECONDS = 3600
RENEW_BEFORE = 900


def find_role(store: Store, account: str, role_arn: str) -> Record | None:
    try:
        resource = arns.parse_iam_arn(role_arn)
    except ValueError:
        return None
    if resource.account != account:
        return None
    return store.find(ROLE, account, resource.name.lower())


def check_execution_role(store: Store, account: str, role_arn: str) -> Record:
    """The role record; InvalidParameterValueException unless it exists and trusts Lambda."""
    role = find_role(store, account, role_arn)
    if role is None or role.spec["Arn"] != role_arn:
        raise invalid(CANNOT_ASSUME)
    if not principal_allowed_by_trust(parsed(role.spec["Trust"], "trust"), LAMBDA_PRINCIPAL):
        raise invalid(CANNOT_ASSUME)
    return role


class RoleCredentials:
    """Temporary credentials of a function's execution role, as the sandbox wants them."""

    def __init__(self, store: Store, issuer: SessionIssuer, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.issuer = issuer
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def cached(self, role_arn: str, function_name: str) -> dict[str, str] | None:
        """Credentials minted earlier that stay valid for a while yet, or None (then call `for_function`)."""
        found = self._cache.get((role_arn, function_name))
        if found is not None and found[0] - self.clock() > RENEW_BEFORE:
            return found[1]
        return None

    def for_function(self, account: str, role_arn: str, function_name: str) -> dict[str, str] | None:
        """AccessKeyId/SecretAccessKey/SessionToken, or None if the role has gone (the function then runs
        without credentials, and its AWS calls fail as they would with a deleted role). Blocking."""
        key = (role_arn, function_name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] - self.clock() > RENEW_BEFORE:
                return cached[1]
            role = find_role(self.store, account, role_arn)
            if role is None:
                self._cache.pop(key, None)
                return None
            session = self.issuer.issue_role_session(role, function_name, SESSION_SECONDS,
                                                     source="lambda.amazonaws.com")
            creds = {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
                     "SessionToken": session.session_token}
            self._cache[key] = (session.expiration, creds)
            return creds
