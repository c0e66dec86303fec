"""Access key -> `Credential`: what the gateway verifies signatures against."""

from __future__ import annotations

from runtime.api.context import Credential, Principal
from runtime.iam.account import Account


class CredentialResolver:
    """Resolves the account's root key; IAM user keys and STS sessions join here (issue 3)."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self._root = Credential(account.access_key_id, account.secret_access_key,
                                Principal(account.root_arn, account.account_id, account.account_id, "root",
                                          "root"))

    def lookup(self, access_key: str) -> Credential | None:
        if access_key == self.account.access_key_id:
            return self._root
        return None
