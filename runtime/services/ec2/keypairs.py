"""EC2 key pairs. The private key of a created pair is returned once and never stored, as in AWS; only the
OpenSSH public key is kept, for IMDS (`public-keys/0/openssh-key`) and so for the instance's authorized_keys.

Fingerprints follow AWS: a created RSA key is the SHA-1 of its DER PKCS#8 private key, an imported RSA key the
MD5 of its DER public key (both colon-separated hex), and ED25519 keys the base64 SHA-256 OpenSSH style.
"""

from __future__ import annotations

import base64
import hashlib
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from runtime.api.context import RequestContext
from runtime.api.dispatch import operation
from runtime.errors import AwsError
from runtime.services._shared import arns, ids
from runtime.services._shared.filters import matches_filters
from runtime.services.ec2.tagging import tags_from_specifications, tag_list
from runtime.state import Record, Store

KIND = "ec2.keypair"


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _openssh_public(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def create_material(key_type: str) -> tuple[str, str, str]:
    """(private key PEM as AWS returns it, OpenSSH public key, AWS fingerprint)."""
    if key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        public = _openssh_public(key)
        return private, public, ed25519_fingerprint(public)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    return private, _openssh_public(key), _colon_hex(hashlib.sha1(pkcs8).digest())


def ed25519_fingerprint(openssh_public: str) -> str:
    blob = base64.b64decode(openssh_public.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def import_material(material: bytes) -> tuple[str, str, str]:
    """(key type, normalised OpenSSH public key, AWS fingerprint) of an imported public key."""
    try:
        text = material.decode("ascii").strip()
        key = serialization.load_ssh_public_key(text.encode())
    except (UnicodeDecodeError, ValueError, TypeError) as exc:
        raise AwsError("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format") from exc
    public = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", public, ed25519_fingerprint(public)
    if isinstance(key, rsa.RSAPublicKey):
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return "rsa", public, _colon_hex(hashlib.md5(der).digest())
    raise AwsError("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format")


class KeyPairsProvider:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _create(self, ctx: RequestContext, params: dict, key_type: str, public: str, fingerprint: str) -> Record:
        name = params["KeyName"]
        if not name or len(name) > 255 or not name.isascii():
            raise AwsError("InvalidParameterValue", f"Invalid key name '{name}'")
        if self.store.find(KIND, ctx.account, name) is not None:
            raise AwsError("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")
        spec = {"KeyName": name, "KeyType": key_type, "PublicKey": public, "KeyFingerprint": fingerprint,
                "CreateTime": time.time()}
        return self.store.put(KIND, ids.new_id("key-pair"), ctx.account, spec, name=name,
                              tags=tags_from_specifications(params, "key-pair"))

    @operation("CreateKeyPair", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "key-pair", "*")])
    def create_key_pair(self, ctx: RequestContext, params: dict) -> dict:
        if params.get("KeyFormat", "pem") != "pem":
            raise AwsError("InvalidParameterValue", "Only the pem key format is supported by Terrarium")
        private, public, fingerprint = create_material(params.get("KeyType", "rsa"))
        record = self._create(ctx, params, params.get("KeyType", "rsa"), public, fingerprint)
        return {"KeyPairId": record.id, "KeyName": record.name, "KeyFingerprint": fingerprint,
                "KeyMaterial": private, "Tags": tag_list(record.tags)}

    @operation("ImportKeyPair", resources=lambda ctx, p: [arns.ec2_arn(ctx.region, ctx.account, "key-pair", "*")])
    def import_key_pair(self, ctx: RequestContext, params: dict) -> dict:
        key_type, public, fingerprint = import_material(params["PublicKeyMaterial"])
        record = self._create(ctx, params, key_type, public, fingerprint)
        return {"KeyPairId": record.id, "KeyName": record.name, "KeyFingerprint": fingerprint,
                "Tags": tag_list(record.tags)}

    def _lookup(self, ctx: RequestContext, names: list[str] | None, key_ids: list[str] | None) -> list[Record]:
        records = self.store.list(KIND, ctx.account)
        if names:
            known = {r.name for r in records}
            for name in names:
                if name not in known:
                    raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")
            records = [r for r in records if r.name in names]
        if key_ids:
            known = {r.id for r in records}
            for key_id in key_ids:
                if key_id not in known:
                    raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{key_id}' does not exist")
            records = [r for r in records if r.id in key_ids]
        return records

    @operation("DescribeKeyPairs")
    def describe_key_pairs(self, ctx: RequestContext, params: dict) -> dict:
        records = self._lookup(ctx, params.get("KeyNames"), params.get("KeyPairIds"))
        fields = {"key-name": lambda r: r.name, "key-pair-id": lambda r: r.id,
                  "fingerprint": lambda r: r.spec["KeyFingerprint"], "key-type": lambda r: r.spec["KeyType"]}
        out = []
        for record in records:
            if not matches_filters(record, params.get("Filters"), fields, tags=lambda r: r.tags):
                continue
            item = {"KeyPairId": record.id, "KeyName": record.name, "KeyFingerprint": record.spec["KeyFingerprint"],
                    "KeyType": record.spec["KeyType"], "Tags": tag_list(record.tags),
                    "CreateTime": record.spec["CreateTime"]}
            if params.get("IncludePublicKey"):
                item["PublicKey"] = record.spec["PublicKey"]
            out.append(item)
        return {"KeyPairs": out}

    @operation("DeleteKeyPair")
    def delete_key_pair(self, ctx: RequestContext, params: dict) -> dict:
        """Idempotent, as in AWS: deleting a missing key pair succeeds."""
        if params.get("KeyPairId"):
            record = next((r for r in self.store.list(KIND, ctx.account) if r.id == params["KeyPairId"]), None)
            if record is None:
                raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{params['KeyPairId']}' does not exist")
        elif params.get("KeyName"):
            record = self.store.find(KIND, ctx.account, params["KeyName"])
        else:
            raise AwsError("MissingParameter", "The request must contain the parameter KeyName or KeyPairId")
        if record is not None:
            self.store.delete(KIND, record.id)
            return {"Return": True, "KeyPairId": record.id}
        return {"Return": True}
