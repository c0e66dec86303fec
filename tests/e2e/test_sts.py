"""STS through boto3 against a real server: AssumeRole (trust policy AND the caller's permission), session
credentials that act as the role and then expire, GetSessionToken, GetCallerIdentity for every principal."""

from __future__ import annotations

import datetime as dt
import json

import botocore.auth
import botocore.crt.auth
import pytest
from botocore.config import Config

from tests.e2e.test_iam_enforcement import ADMIN, allow, deny, document, error_of, new_user, unique
from tests.server import start_server


def trust(*principals: str) -> str:
    return document({"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"})


def new_role(server, trust_policy: str, *, attached: tuple[str, ...] = (), **extra) -> dict:
    iam = server.client("iam")
    role = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=trust_policy, **extra)["Role"]
    for arn in attached:
        iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    return role


def session_client(server, credentials: dict, service: str, **overrides):
    return server.client(service, aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], **overrides)


def account_root(server) -> str:
    return f"arn:aws:iam::{server.account_id}:root"


def assume_permission(role_arn: str) -> dict:
    return {"assume": document(allow("sts:AssumeRole", role_arn))}


def test_caller_identity_of_root_user_and_role_session(server):
    root = server.client("sts").get_caller_identity()
    assert root["UserId"] == server.account_id and root["Arn"] == account_root(server)
    role = new_role(server, trust(account_root(server)))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="root-session")
    identity = session_client(server, creds["Credentials"], "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/root-session"
    assert identity["UserId"] == f"{role['RoleId']}:root-session"
    assert identity["Account"] == server.account_id
    user = new_user(server)
    assert user.client("sts").get_caller_identity()["Arn"] == user.arn


def test_assume_role_happy_path(server):
    role = new_role(server, trust(account_root(server)), attached=("arn:aws:iam::aws:policy/IAMReadOnlyAccess",))
    user = new_user(server, inline=assume_permission(role["Arn"]))
    reply = user.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="alice@example.com",
                                           DurationSeconds=900)
    creds, assumed = reply["Credentials"], reply["AssumedRoleUser"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    remaining = creds["Expiration"] - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(seconds=880) < remaining <= dt.timedelta(seconds=901)
    assert assumed["AssumedRoleId"] == f"{role['RoleId']}:alice@example.com"
    iam = session_client(server, creds, "iam")
    assert "Users" in iam.list_users()  # the role's permissions, not the user's
    assert error_of(lambda: iam.create_user(UserName=unique("x"))) == ("AccessDenied", 403)
    assert error_of(session_client(server, creds, "ec2").describe_regions) == ("UnauthorizedOperation", 403)
    with pytest.raises(Exception) as info:
        iam.create_user(UserName=unique("x"))
    assert assumed["Arn"] in str(info.value)
    assert server.client("iam").get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]["Region"] == "us-east-1"


def test_trust_policy_must_allow_the_caller(server):
    role = new_role(server, trust("arn:aws:iam::111122223333:root"))
    user = new_user(server, attached=(ADMIN,))
    assert error_of(lambda: user.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss")) == \
        ("AccessDenied", 403)
    assert error_of(lambda: server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss")) == \
        ("AccessDenied", 403)


def test_caller_needs_sts_assume_role_permission_when_trust_names_the_account(server):
    role = new_role(server, trust(account_root(server)))
    user = new_user(server, inline={"other": document(allow("ec2:*"))})
    assert error_of(lambda: user.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss")) == \
        ("AccessDenied", 403)
    blocked = new_user(server, attached=(ADMIN,), inline={"no": document(deny("sts:AssumeRole", role["Arn"]))})
    assert error_of(lambda: blocked.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss"))[0] == \
        "AccessDenied"


def test_trust_naming_the_user_grants_by_itself(server):
    """Within one account a resource policy (the trust policy) naming the caller's ARN is enough."""
    user = new_user(server)
    role = new_role(server, trust(user.arn))
    assert user.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="direct")["Credentials"]


def test_missing_role_is_access_denied(server):
    user = new_user(server, attached=(ADMIN,))
    arn = f"arn:aws:iam::{server.account_id}:role/{unique('nope')}"
    assert error_of(lambda: user.client("sts").assume_role(RoleArn=arn, RoleSessionName="ss")) == ("AccessDenied", 403)


def test_assume_role_input_validation(server):
    role = new_role(server, trust(account_root(server)))
    sts = server.client("sts", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=3601)) == \
        ("ValidationError", 400)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=899)) == \
        ("ValidationError", 400)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="x")) == ("ValidationError", 400)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="x" * 65)) == \
        ("ValidationError", 400)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name")) == \
        ("ValidationError", 400)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", Policy="{nope")) == \
        ("MalformedPolicyDocument", 400)
    long_role = new_role(server, trust(account_root(server)), MaxSessionDuration=43200)
    creds = sts.assume_role(RoleArn=long_role["Arn"], RoleSessionName="long", DurationSeconds=43200)["Credentials"]
    assert creds["Expiration"] - dt.datetime.now(dt.timezone.utc) > dt.timedelta(hours=11)


def test_session_policy_intersects_with_role_policies(server):
    role = new_role(server, trust(account_root(server)), attached=(ADMIN,))
    reply = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="narrow",
                                             Policy=document(allow("ec2:DescribeRegions")))
    assert 0 <= reply["PackedPolicySize"] <= 100
    creds = reply["Credentials"]
    assert session_client(server, creds, "ec2").describe_regions()["Regions"]
    assert error_of(session_client(server, creds, "ec2").describe_availability_zones)[0] == "UnauthorizedOperation"
    assert error_of(session_client(server, creds, "iam").list_users)[0] == "AccessDenied"
    managed = server.client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="managed",
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}])["Credentials"]
    assert "Users" in session_client(server, managed, "iam").list_users()
    assert error_of(session_client(server, managed, "ec2").describe_regions)[0] == "UnauthorizedOperation"


def test_role_chaining_is_limited_to_one_hour(server):
    role = new_role(server, trust(account_root(server)), attached=(ADMIN,), MaxSessionDuration=7200)
    first = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="first")["Credentials"]
    sts = session_client(server, first, "sts")
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="second", DurationSeconds=7200)) == \
        ("ValidationError", 400)
    second = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="second")["Credentials"]
    assert session_client(server, second, "sts").get_caller_identity()["Arn"].endswith("/second")


def test_session_token_must_match(server):
    role = new_role(server, trust(account_root(server)), attached=(ADMIN,))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="ss")["Credentials"]
    no_token = server.client("sts", aws_access_key_id=creds["AccessKeyId"],
                             aws_secret_access_key=creds["SecretAccessKey"])
    assert error_of(no_token.get_caller_identity) == ("InvalidClientTokenId", 403)
    wrong = session_client(server, {**creds, "SessionToken": creds["SessionToken"][:-4] + "AAAA"}, "sts")
    assert error_of(wrong.get_caller_identity) == ("InvalidClientTokenId", 403)


def test_get_session_token(server):
    user = new_user(server, attached=(ADMIN,))
    creds = user.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert session_client(server, creds, "sts").get_caller_identity()["Arn"] == user.arn
    assert session_client(server, creds, "ec2").describe_regions()["Regions"]
    assert error_of(session_client(server, creds, "iam").list_users) == ("AccessDenied", 403)
    assert error_of(session_client(server, creds, "sts").get_session_token) == ("AccessDenied", 403)


@pytest.fixture
def clocked_server(tmp_path):
    """A server whose clock the test can move: TERRARIUM_CLOCK_OFFSET_FILE holds seconds added to real time."""
    offset = tmp_path / "clock-offset"
    offset.write_text("0")
    running = start_server(tmp_path / "data", extra_env={"TERRARIUM_CLOCK_OFFSET_FILE": str(offset)})
    try:
        yield running, offset
    finally:
        running.stop()


def test_session_credentials_expire(clocked_server, monkeypatch):
    server, offset = clocked_server
    role = new_role(server, trust(account_root(server)), attached=(ADMIN,))
    creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="short",
                                             DurationSeconds=900)["Credentials"]
    sts = session_client(server, creds, "sts")
    iam = session_client(server, creds, "iam")
    assert sts.get_caller_identity()["Arn"].endswith("/short")
    assert "Users" in iam.list_users()

    later = 901
    offset.write_text(str(later))  # the server lives 901 s later; so does this client's signing clock
    real_now = botocore.auth.get_current_datetime
    for signers in (botocore.auth, botocore.crt.auth):  # botocore signs with the CRT's signers when awscrt is there
        monkeypatch.setattr(signers, "get_current_datetime",
                            lambda *a, **k: real_now(*a, **k) + dt.timedelta(seconds=later))
    assert server.client("sts").get_caller_identity()["Arn"] == account_root(server)  # the clock moved, not skew
    assert error_of(sts.get_caller_identity) == ("ExpiredToken", 403)
    assert error_of(iam.list_users) == ("ExpiredToken", 403)
    assert error_of(session_client(server, creds, "ec2").describe_regions) == ("RequestExpired", 400)


def test_sessions_and_keys_survive_a_restart(tmp_path):
    server = start_server(tmp_path / "data")
    try:
        role = new_role(server, trust(account_root(server)), attached=(ADMIN,))
        user = new_user(server, attached=(ADMIN,))
        creds = server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="kept")["Credentials"]
    finally:
        server.stop()
    again = start_server(tmp_path / "data")
    try:
        user.server = again
        assert user.client("sts").get_caller_identity()["Arn"] == user.arn
        assert "Users" in user.client("iam").list_users()
        assert session_client(again, creds, "sts").get_caller_identity()["Arn"].endswith("/kept")
        names = [u["UserName"] for u in again.client("iam").list_users()["Users"]]
        assert user.name in names
    finally:
        again.stop()


def test_inline_trust_policy_documents_round_trip(server):
    text = trust(account_root(server))
    role = new_role(server, text)
    assert role["AssumeRolePolicyDocument"] == json.loads(text)


def test_external_id_condition_in_the_trust_policy(server):
    user = new_user(server)
    role = new_role(server, document({"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole",
                                      "Condition": {"StringEquals": {"sts:ExternalId": "s3cret-id"}}}))
    sts = user.client("sts")
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ext")) == ("AccessDenied", 403)
    assert error_of(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ext", ExternalId="wrong-id")) == \
        ("AccessDenied", 403)
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ext", ExternalId="s3cret-id")["Credentials"]


def test_get_access_key_info(server):
    user = new_user(server, inline={"info": document(allow("sts:GetAccessKeyInfo"))})
    assert user.client("sts").get_access_key_info(AccessKeyId=user.key["AccessKeyId"])["Account"] == \
        server.account_id
