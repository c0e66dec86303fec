"""EC2 key pairs through boto3: material returned once, AWS fingerprints, errors, persistence."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.server import start_server


def code_of(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_create_rsa_key_pair_fingerprint_is_sha1_of_pkcs8(server):
    ec2 = server.client("ec2")
    created = ec2.create_key_pair(KeyName="kp-rsa", TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}])
    assert created["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(created["KeyMaterial"].encode(), None)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    assert created["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.sha1(pkcs8).digest())
    assert created["KeyPairId"].startswith("key-") and len(created["KeyPairId"]) == 21
    described = ec2.describe_key_pairs(KeyNames=["kp-rsa"], IncludePublicKey=True)["KeyPairs"][0]
    assert "KeyMaterial" not in described
    assert described["KeyType"] == "rsa" and described["Tags"] == [{"Key": "team", "Value": "blue"}]
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert described["PublicKey"] == public.decode()
    assert code_of(lambda: ec2.create_key_pair(KeyName="kp-rsa")) == "InvalidKeyPair.Duplicate"
    ec2.delete_key_pair(KeyName="kp-rsa")
    assert code_of(lambda: ec2.describe_key_pairs(KeyNames=["kp-rsa"])) == "InvalidKeyPair.NotFound"
    ec2.delete_key_pair(KeyName="kp-rsa")


def test_ed25519_and_import(server):
    ec2 = server.client("ec2")
    created = ec2.create_key_pair(KeyName="kp-ed", KeyType="ed25519")
    assert created["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName="kp-imported-ed", PublicKeyMaterial=public)
    blob = base64.b64decode(public.split()[1])
    assert imported["KeyFingerprint"] == base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_public = rsa_key.public_key()
    imported_rsa = ec2.import_key_pair(KeyName="kp-imported-rsa", PublicKeyMaterial=rsa_public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    der = rsa_public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert imported_rsa["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.md5(der).digest())
    assert code_of(lambda: ec2.import_key_pair(KeyName="bad", PublicKeyMaterial=b"ssh-rsa nonsense")) == \
        "InvalidKeyPair.Format"
    names = {k["KeyName"] for k in ec2.describe_key_pairs(
        Filters=[{"Name": "key-name", "Values": ["kp-imported-*"]}])["KeyPairs"]}
    assert names == {"kp-imported-ed", "kp-imported-rsa"}
    for name in ("kp-ed", "kp-imported-ed", "kp-imported-rsa"):
        ec2.delete_key_pair(KeyName=name)


def test_key_pairs_survive_restart(tmp_path):
    first = start_server(tmp_path / "data")
    try:
        created = first.client("ec2").create_key_pair(KeyName="durable")
    finally:
        first.stop()
    second = start_server(tmp_path / "data")
    try:
        pairs = second.client("ec2").describe_key_pairs()["KeyPairs"]
        assert [(p["KeyName"], p["KeyFingerprint"]) for p in pairs] == [("durable", created["KeyFingerprint"])]
    finally:
        second.stop()


def test_describe_instance_types(server):
    ec2 = server.client("ec2")
    micro = ec2.describe_instance_types(InstanceTypes=["t2.micro"])["InstanceTypes"][0]
    assert micro["VCpuInfo"]["DefaultVCpus"] == 1 and micro["MemoryInfo"]["SizeInMiB"] == 1024
    assert micro["FreeTierEligible"] is True
    free = ec2.describe_instance_types(Filters=[{"Name": "free-tier-eligible", "Values": ["true"]}])
    assert {t["InstanceType"] for t in free["InstanceTypes"]} == {"t2.micro", "t3.micro"}
    assert code_of(lambda: ec2.describe_instance_types(InstanceTypes=["p4d.24xlarge"])) == "InvalidInstanceType"
    assert code_of(lambda: ec2.describe_instance_types(InstanceTypes=["x9.huge"])) == "InvalidParameterValue"
