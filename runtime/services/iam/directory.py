"""IAM entities in the store, looked up the way the API names them, and each principal's policies.

Record layout (ids are the AWS unique ids; `name` is the lower-cased entity name, because IAM names are unique
case-insensitively; each spec keeps the name as given):

| kind | id | spec |
|---|---|---|
| `iam.user` | `AIDA…` | UserName, Path, Arn, CreateDate, Inline {name: document}, Attached [arn], Groups [group id], Boundary |
| `iam.group` | `AGPA…` | GroupName, Path, Arn, CreateDate, Inline, Attached |
| `iam.role` | `AROA…` | RoleName, Path, Arn, CreateDate, Trust, Description, MaxSessionDuration, Inline, Attached, Boundary |
| `iam.policy` | `ANPA…` | PolicyName, Path, Arn, Description, CreateDate, UpdateDate, DefaultVersionId, Versions, NextVersion |
| `iam.accesskey` | `AKIA…` (parent: user) | UserName, Secret, Status, CreateDate; status: LastUsedDate, ServiceName, Region |
| `iam.instanceprofile` | `AIPA…` | InstanceProfileName, Path, Arn, CreateDate, Roles [role id] |

`IamDirectory` is also the authorizer's `PolicySource`: it gathers a caller's identity policies (user inline +
attached + its groups'; role inline + attached for a session, with the session's own policies) and keeps the
parsed result per caller until any IAM record changes.
"""

from __future__ import annotations

import threading

from runtime.api.context import Credential
from runtime.errors import AwsError, NotFound
from runtime.iam.authorizer import PrincipalPolicies, parsed
from runtime.iam.credentials import (ACCESS_KEY, GROUP, INSTANCE_PROFILE, POLICY, ROLE, SESSION, USER)
from runtime.iam.policy import Policy
from runtime.services._shared.arns import parse_iam_arn
from runtime.services.iam import managed
from runtime.services.iam.errors import no_such_entity, not_attachable
from runtime.state import Record, Store

__all__ = ["IamDirectory", "ACCESS_KEY", "GROUP", "INSTANCE_PROFILE", "POLICY", "ROLE", "SESSION", "USER"]

ENTITY_KINDS = {"user": USER, "group": GROUP, "role": ROLE}
_CACHE_LIMIT = 50_000
_POLICY_BEARING = {USER, GROUP, ROLE, POLICY}  # a key's last-used write must not flush every caller's policies


class IamDirectory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, str], PrincipalPolicies] = {}
        self._lock = threading.Lock()
        store.subscribe(self._changed)

    def _changed(self, keys) -> None:
        if any(kind in _POLICY_BEARING for kind, _ in keys):
            with self._lock:
                self._cache.clear()

    # ------------------------------------------------------------------ lookups
    def find(self, kind: str, account: str, name: str) -> Record | None:
        return self.store.find(kind, account, name.lower())

    def get(self, kind: str, account: str, name: str, noun: str) -> Record:
        """The entity named `name`, or NoSuchEntity in IAM's words ("The user with name x cannot be found.")."""
        record = self.find(kind, account, name)
        if record is None:
            raise no_such_entity(f"The {noun} with name {name} cannot be found.")
        return record

    def user(self, account: str, name: str) -> Record:
        return self.get(USER, account, name, "user")

    def group(self, account: str, name: str) -> Record:
        return self.get(GROUP, account, name, "group")

    def role(self, account: str, name: str) -> Record:
        return self.get(ROLE, account, name, "role")

    def customer_policy(self, account: str, arn: str) -> Record:
        """The account's managed policy with this ARN, or NoSuchEntity."""
        try:
            resource = parse_iam_arn(arn)
        except ValueError:
            raise not_attachable(arn) from None
        record = self.store.find(POLICY, account, resource.name.lower()) if resource.account == account else None
        if record is None or record.spec["Arn"] != arn:
            raise not_attachable(arn)
        return record

    def managed_document(self, account: str, arn: str) -> str | None:
        """The default version's document of a managed policy (AWS or the account's), None if it is gone."""
        if aws := managed.BY_ARN.get(arn):
            return aws.document
        try:
            spec = self.customer_policy(account, arn).spec
        except AwsError:  # a policy deleted under a stale attachment grants nothing
            return None
        return spec["Versions"][spec["DefaultVersionId"]]["Document"]

    def policy_exists(self, account: str, arn: str) -> bool:
        return arn in managed.BY_ARN or self.managed_document(account, arn) is not None

    def groups_of(self, user: Record) -> list[Record]:
        groups = []
        for group_id in user.spec.get("Groups", []):
            try:
                groups.append(self.store.get(GROUP, group_id))
            except NotFound:
                continue
        return groups

    # ------------------------------------------------------------------ policies of an entity
    def entity_policies(self, record: Record) -> list[Policy]:
        """Inline and attached policies of a user, group or role, labelled for simulation output."""
        kind = record.kind.split(".", 1)[1]
        policies = [parsed(text, "identity").with_source(name, kind)
                    for name, text in record.spec.get("Inline", {}).items()]
        for arn in record.spec.get("Attached", []):
            document = self.managed_document(record.account, arn)
            if document is not None:
                source_type = "aws-managed" if arn in managed.BY_ARN else "user-managed"
                policies.append(parsed(document, "identity").with_source(arn, source_type))
        return policies

    def user_policies(self, user: Record) -> list[Policy]:
        policies = self.entity_policies(user)
        for group in self.groups_of(user):
            policies += self.entity_policies(group)
        return policies

    def boundary(self, record: Record) -> Policy | None:
        arn = record.spec.get("Boundary")
        if not arn:
            return None
        document = self.managed_document(record.account, arn)
        return parsed(document, "identity").with_source(arn, "permissions-boundary") if document else None

    # ------------------------------------------------------------------ PolicySource
    def policies_for(self, credential: Credential) -> PrincipalPolicies:
        key = (credential.principal.arn, credential.access_key if credential.session_token else "")
        found = self._cache.get(key)
        if found is None:
            found = self._gather(credential)
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _gather(self, credential: Credential) -> PrincipalPolicies:
        principal = credential.principal
        if principal.kind == "user":
            try:
                user = self.store.get(USER, principal.user_id)
            except NotFound:
                return PrincipalPolicies(principal.arn, ())
            return PrincipalPolicies(principal.arn, tuple(self.user_policies(user)), None, self.boundary(user),
                                     session_token=credential.session_token is not None)
        if principal.kind == "assumed-role":
            try:
                session = self.store.get(SESSION, credential.access_key)
                role = self.store.get(ROLE, session.spec["RoleId"])
            except NotFound:
                return PrincipalPolicies(principal.arn, ())
            return PrincipalPolicies(role.spec["Arn"], tuple(self.entity_policies(role)),
                                     self._session_policies(session), self.boundary(role))
        return PrincipalPolicies(principal.arn, ())

    def _session_policies(self, session: Record) -> tuple[Policy, ...] | None:
        texts = [session.spec["Policy"]] if session.spec.get("Policy") else []
        for arn in session.spec.get("PolicyArns", []):
            document = self.managed_document(session.account, arn)
            if document is not None:
                texts.append(document)
        if not texts and not session.spec.get("PolicyArns"):
            return None
        return tuple(parsed(text, "identity") for text in texts)
