"""The account this Terrarium serves, and its root access key.

Created on first start and kept in `<data dir>/account.json` with mode 0600: the root secret must survive
restarts (clients keep it in their profiles) and must never be readable by other local users.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import asdict, dataclass
from pathlib import Path

ACCOUNT_FILE = "account.json"
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class Account:
    account_id: str
    access_key_id: str
    secret_access_key: str

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"


def new_account_id() -> str:
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def new_root_key() -> tuple[str, str]:
    key = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
    return key, secret


def load_or_create(data_dir: Path, account_id: str | None = None) -> Account:
    """Idempotent: an existing account is returned as stored; a configured id that differs is an error."""
    path = data_dir / ACCOUNT_FILE
    if path.exists():
        account = Account(**json.loads(path.read_text()))
        if account_id and account_id != account.account_id:
            raise ValueError(f"{path} holds account {account.account_id}, not the configured {account_id}")
        return account
    if account_id and not (account_id.isdigit() and len(account_id) == 12):
        raise ValueError(f"account id must be 12 digits, got {account_id!r}")
    key, secret = new_root_key()
    account = Account(account_id or new_account_id(), key, secret)
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(account), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return account
