"""The gateway's authorizer over a real SQLite store: fixed rules, identity/session/boundary policies, the
resource-policy hooks services plug into, condition keys, and cache invalidation when IAM changes."""

from __future__ import annotations

import asyncio
import json

import pytest

from runtime.api.context import RequestContext
from runtime.api.dispatch import Dispatcher, operation
from runtime.api.http import HttpRequest
from runtime.iam.account import Account
from runtime.iam.authorizer import PolicyAuthorizer, global_keys
from runtime.iam.credentials import CredentialResolver, SessionIssuer
from runtime.services.iam.directory import IamDirectory
from runtime.services.iam.policies import PoliciesProvider
from runtime.services.iam.roles import RolesProvider
from runtime.services.iam.users import UsersProvider
from runtime.state import SqliteStore

ACCOUNT = Account("111122223333", "AKIAROOTROOTROOTROOT", "s" * 40)
HTTP = HttpRequest("POST", "/", "", {}, b"")
BUCKET = "arn:aws:s3:::photos"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Buckets:
    """A stand-in service provider (not a fake of anything: just two operations and a bucket policy)."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}

    @operation("GetObject", action="s3:GetObject", resources=lambda ctx, p: [f"{BUCKET}/{p['Key']}"],
               condition_keys=lambda ctx, p: {"s3:prefix": p["Key"].split("/")[0]})
    def get_object(self, ctx, params):
        return {}

    @operation("ListBuckets", action="s3:ListAllMyBuckets")
    def list_buckets(self, ctx, params):
        return {}

    @operation("PutBucketNotification", action="s3:PutBucketNotification", resources=lambda ctx, p: [BUCKET])
    def put_notification(self, ctx, params):
        return {}

    def required_actions(self, ctx, operation_name, params):
        if operation_name == "PutBucketNotification":
            return [("iam:PassRole", "arn:aws:iam::111122223333:role/notifier",
                     {"iam:PassedToService": "s3.amazonaws.com"})]
        return []

    def resource_policy(self, ctx, resource_arn: str) -> str | None:
        return self.policies.get(resource_arn.split("/", 1)[0])


class World:
    def __init__(self, tmp_path) -> None:
        self.store = SqliteStore(tmp_path / "state.db")
        self.directory = IamDirectory(self.store)
        self.users = UsersProvider(self.store, self.directory)
        self.roles = RolesProvider(self.store, self.directory)
        self.policies = PoliciesProvider(self.store, self.directory)
        self.resolver = CredentialResolver(ACCOUNT, self.store)
        self.issuer = SessionIssuer(self.store)
        self.authorizer = PolicyAuthorizer(self.directory, usage=self.resolver)
        self.buckets = Buckets()
        self.dispatcher = Dispatcher()
        self.dispatcher.register("s3", self.buckets)
        self.dispatcher.register("iam", self.users)
        self.root = self.resolver.lookup(ACCOUNT.access_key_id)

    def ctx(self, credential, service="s3", region="us-east-1") -> RequestContext:
        return RequestContext(service, "op", region, "req", credential.principal, HTTP, "127.0.0.1", False, credential)

    def user(self, name: str, *inline: str):
        self.users.create_user(self.ctx(self.root, "iam"), {"UserName": name})
        for index, text in enumerate(inline):
            self.policies.put_user_policy(self.ctx(self.root, "iam"),
                                          {"UserName": name, "PolicyName": f"p{index}", "PolicyDocument": text})
        key = self.users.create_access_key(self.ctx(self.root, "iam"), {"UserName": name})["AccessKey"]
        return self.resolver.lookup(key["AccessKeyId"])

    def decide(self, credential, service: str, operation_name: str, params: dict, **ctx_args):
        op = self.dispatcher.get(service, operation_name)
        return asyncio.run(self.authorizer(self.ctx(credential, service, **ctx_args), op, params))


@pytest.fixture
def world(tmp_path):
    built = World(tmp_path)
    yield built
    built.store.close()


def test_root_is_always_allowed(world):
    assert world.decide(world.root, "s3", "ListBuckets", {}) is None


def test_no_policy_is_an_implicit_deny_naming_principal_action_and_resource(world):
    alice = world.user("alice")
    denial = world.decide(alice, "s3", "GetObject", {"Key": "a/b.jpg"})
    assert denial.principal_arn == "arn:aws:iam::111122223333:user/alice"
    assert (denial.action, denial.resource, denial.explicit) == ("s3:GetObject", f"{BUCKET}/a/b.jpg", False)


def test_identity_allow_and_explicit_deny(world):
    bob = world.user("bob", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
                     doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"{BUCKET}/secret/*"}))
    assert world.decide(bob, "s3", "GetObject", {"Key": "public/x"}) is None
    assert world.decide(bob, "s3", "GetObject", {"Key": "secret/x"}).explicit is True


def test_operation_condition_keys_reach_the_engine(world):
    carol = world.user("carol", doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                     "Condition": {"StringEquals": {"s3:prefix": "home"}}}))
    assert world.decide(carol, "s3", "GetObject", {"Key": "home/x"}) is None
    assert world.decide(carol, "s3", "GetObject", {"Key": "work/x"}) is not None


def test_provider_resource_policy_grants_a_named_user(world):
    dave = world.user("dave")
    assert world.decide(dave, "s3", "GetObject", {"Key": "k"}) is not None
    world.buckets.policies[BUCKET] = doc({"Effect": "Allow", "Principal": {"AWS": dave.principal.arn},
                                          "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    assert world.decide(dave, "s3", "GetObject", {"Key": "k"}) is None


def test_registered_resource_policy_lookup_wins_over_the_provider_method(world):
    erin = world.user("erin", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    seen = []

    def lookup(ctx, resource_arn):
        seen.append(resource_arn)
        return doc({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"})
    world.authorizer.register_resource_policies("s3", lookup)
    assert world.decide(erin, "s3", "GetObject", {"Key": "k"}).explicit is True
    assert seen == [f"{BUCKET}/k"]


def test_policy_changes_take_effect_at_once(world):
    frank = world.user("frank")
    assert world.decide(frank, "s3", "ListBuckets", {}) is not None
    world.policies.attach_user_policy(world.ctx(world.root, "iam"), {
        "UserName": "frank", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"})
    assert world.decide(frank, "s3", "GetObject", {"Key": "k"}) is None
    assert world.decide(frank, "s3", "ListBuckets", {}) is None


def test_role_session_is_role_policies_intersected_with_session_policy(world):
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT.root_arn}, "Action": "sts:AssumeRole"})
    world.roles.create_role(world.ctx(world.root, "iam"), {"RoleName": "reader", "AssumeRolePolicyDocument": trust})
    world.policies.attach_role_policy(world.ctx(world.root, "iam"), {
        "RoleName": "reader", "PolicyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"})
    role = world.directory.role(ACCOUNT.account_id, "reader")
    narrow = world.issuer.issue_role_session(role, "narrow", 900, policy=doc(
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}))
    wide = world.issuer.issue_role_session(role, "wide", 900)
    narrow_cred, wide_cred = world.resolver.lookup(narrow.access_key_id), world.resolver.lookup(wide.access_key_id)
    assert narrow_cred.principal.arn == "arn:aws:sts::111122223333:assumed-role/reader/narrow"
    assert world.decide(narrow_cred, "s3", "ListBuckets", {}) is None
    assert world.decide(narrow_cred, "s3", "GetObject", {"Key": "k"}) is not None
    assert world.decide(wide_cred, "s3", "GetObject", {"Key": "k"}) is None


def test_session_token_credentials_cannot_call_iam(world):
    grace = world.user("grace", doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    session = world.issuer.issue_user_session(grace.principal, 900)
    credential = world.resolver.lookup(session.access_key_id)
    assert world.decide(credential, "s3", "ListBuckets", {}) is None
    assert world.decide(credential, "iam", "ListUsers", {}) is not None
    assert world.decide(grace, "iam", "ListUsers", {}) is None


def test_global_condition_keys(world):
    heidi = world.user("heidi")
    keys = global_keys(world.ctx(heidi, region="eu-west-1"), heidi.principal.arn, 1_700_000_000)
    assert keys["aws:username"] == "heidi" and keys["aws:userid"].startswith("AIDA")
    assert keys["aws:RequestedRegion"] == "eu-west-1" and keys["aws:SourceIp"] == "127.0.0.1"
    assert keys["aws:CurrentTime"] == "2023-11-14T22:13:20Z" and keys["aws:EpochTime"] == 1_700_000_000
    assert keys["aws:SecureTransport"] is False and keys["aws:PrincipalType"] == "User"
    assert keys["aws:PrincipalArn"] == heidi.principal.arn
    assert "aws:MultiFactorAuthPresent" not in keys
    session = world.resolver.lookup(world.issuer.issue_user_session(heidi.principal, 900).access_key_id)
    assert global_keys(world.ctx(session), heidi.principal.arn, 0)["aws:MultiFactorAuthPresent"] is False


def test_required_actions_are_decided_too(world):
    only_s3 = world.user("ivan", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    denial = world.decide(only_s3, "s3", "PutBucketNotification", {})
    assert (denial.action, denial.resource) == ("iam:PassRole", "arn:aws:iam::111122223333:role/notifier")
    passer = world.user("judy", doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                                     "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}}))
    assert world.decide(passer, "s3", "PutBucketNotification", {}) is None
