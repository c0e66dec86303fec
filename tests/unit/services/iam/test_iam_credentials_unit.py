"""Credential resolution and session minting over a real SQLite store; the injectable clock."""

from __future__ import annotations

import time

import pytest

from runtime.iam.account import Account
from runtime.iam.credentials import (ACCESS_KEY, LAST_USED_EVERY, SESSION, CredentialResolver, SessionIssuer,
                                     offset_clock)
from runtime.state import SqliteStore

ACCOUNT = Account("111122223333", "AKIAROOTROOTROOTROOT", "s" * 40)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    opened = SqliteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def _user_with_key(store, status="Active"):
    store.put("iam.user", "AIDAAAAAAAAAAAAAAAAAA", ACCOUNT.account_id,
              {"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice"}, name="alice")
    store.put(ACCESS_KEY, "AKIAAAAAAAAAAAAAAAAA", ACCOUNT.account_id,
              {"UserName": "alice", "Secret": "x" * 40, "Status": status, "CreateDate": 0.0},
              parent="AIDAAAAAAAAAAAAAAAAAA")


def test_root_and_unknown_keys(store):
    resolver = CredentialResolver(ACCOUNT, store)
    root = resolver.lookup(ACCOUNT.access_key_id)
    assert root.principal.is_root and root.principal.arn == ACCOUNT.root_arn
    assert resolver.lookup("AKIAUNKNOWNUNKNOWN00") is None
    assert resolver.lookup("short") is None


@pytest.mark.parametrize("status,active", [("Active", True), ("Inactive", False)])
def test_user_keys_resolve_with_their_status(store, status, active):
    _user_with_key(store, status)
    credential = CredentialResolver(ACCOUNT, store).lookup("AKIAAAAAAAAAAAAAAAAA")
    assert credential.active is active and credential.secret == "x" * 40
    assert (credential.principal.kind, credential.principal.name) == ("user", "alice")
    assert credential.principal.user_id == "AIDAAAAAAAAAAAAAAAAAA"


def test_last_use_is_written_at_most_once_a_minute(store):
    _user_with_key(store)
    clock = Clock()
    resolver = CredentialResolver(ACCOUNT, store, clock)
    credential = resolver.lookup("AKIAAAAAAAAAAAAAAAAA")
    resolver.record_use(credential, "ec2", "us-east-1")
    assert store.get(ACCESS_KEY, credential.access_key).status["LastUsedDate"] == clock.now
    first = clock.now
    clock.now += LAST_USED_EVERY / 2
    resolver.record_use(credential, "iam", "us-east-1")
    assert store.get(ACCESS_KEY, credential.access_key).status == {"LastUsedDate": first, "ServiceName": "ec2",
                                                                   "Region": "us-east-1"}
    clock.now += LAST_USED_EVERY
    resolver.record_use(credential, "iam", "us-east-1")
    assert store.get(ACCESS_KEY, credential.access_key).status["ServiceName"] == "iam"


def test_issued_role_sessions_resolve_with_token_and_expiry(store):
    clock = Clock()
    store.put("iam.role", "AROAAAAAAAAAAAAAAAAAA", ACCOUNT.account_id,
              {"RoleName": "worker", "Arn": "arn:aws:iam::111122223333:role/app/worker"}, name="worker")
    role = store.get("iam.role", "AROAAAAAAAAAAAAAAAAAA")
    session = SessionIssuer(store, clock).issue_role_session(role, "s1", 900)
    assert session.access_key_id.startswith("ASIA") and session.expiration == clock.now + 900
    credential = CredentialResolver(ACCOUNT, store).lookup(session.access_key_id)
    assert credential.session_token == session.session_token and credential.expires == clock.now + 900
    assert credential.principal.arn == "arn:aws:sts::111122223333:assumed-role/worker/s1"
    assert credential.principal.user_id == "AROAAAAAAAAAAAAAAAAAA:s1"
    assert store.get(SESSION, session.access_key_id).spec["RoleArn"] == "arn:aws:iam::111122223333:role/app/worker"


def test_long_expired_sessions_are_purged(store):
    clock = Clock()
    issuer = SessionIssuer(store, clock)
    store.put("iam.role", "AROAAAAAAAAAAAAAAAAAA", ACCOUNT.account_id,
              {"RoleName": "worker", "Arn": "arn:aws:iam::111122223333:role/worker"}, name="worker")
    old = issuer.issue_role_session(store.get("iam.role", "AROAAAAAAAAAAAAAAAAAA"), "old", 900)
    clock.now += 900 + 86400 + 1
    issuer.purge_expired()
    assert CredentialResolver(ACCOUNT, store).lookup(old.access_key_id) is None


def test_offset_clock(tmp_path):
    assert offset_clock({}) is time.time
    offset = tmp_path / "offset"
    clock = offset_clock({"TERRARIUM_CLOCK_OFFSET_FILE": str(offset)})
    assert abs(clock() - time.time()) < 1  # missing file: no offset
    offset.write_text("3600")
    assert 3599 < clock() - time.time() < 3601
    offset.write_text("")
    assert abs(clock() - time.time()) < 1


def test_service_sessions_need_the_roles_trust(store):
    import json
    from runtime.iam.credentials import RoleNotAssumable
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                "Principal": {"Service": "lambda.amazonaws.com"}}]})
    arn = "arn:aws:iam::111122223333:role/service-role/exec"
    store.put("iam.role", "AROAAAAAAAAAAAAAAAAAA", ACCOUNT.account_id,
              {"RoleName": "exec", "Arn": arn, "Trust": trust}, name="exec")
    issuer = SessionIssuer(store, Clock())
    session = issuer.issue_service_session(ACCOUNT.account_id, arn, "lambda.amazonaws.com", "my-function")
    assert session.principal.arn == "arn:aws:sts::111122223333:assumed-role/exec/my-function"
    with pytest.raises(RoleNotAssumable):
        issuer.issue_service_session(ACCOUNT.account_id, arn, "ec2.amazonaws.com", "i-0123")
    with pytest.raises(RoleNotAssumable):
        issuer.issue_service_session(ACCOUNT.account_id, arn.replace("exec", "nope"), "lambda.amazonaws.com", "f")
    with pytest.raises(RoleNotAssumable):
        issuer.issue_service_session(ACCOUNT.account_id, "garbage", "lambda.amazonaws.com", "f")
