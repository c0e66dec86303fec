"""Helpers shared by the S3 end-to-end tests: unique bucket names, raw signed requests, anonymous clients."""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


def retry_unavailable(call, seconds: float = 30.0):
    """`call()`, again while the gateway answers 503 (its backend restarting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ServiceUnavailable", "503") or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def pid_with_argument(argument: str) -> int:
    """The process whose command line holds `argument` (a backend serving one data dir), through /proc."""
    wanted = argument.encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
    raise LookupError(f"no process with {argument}")


def website_get(server, bucket: str, path: str) -> tuple[int, bytes, dict]:
    """(status, body, lower-cased headers) of a GET on the bucket's website endpoint, through curl."""
    port = server.endpoint.rsplit(":", 1)[1]
    done = subprocess.run(["curl", "-s", "-D", "-", "-H", f"Host: {bucket}.s3-website-us-east-1.localhost:{port}",
                           f"http://127.0.0.1:{port}{path}"], capture_output=True, check=True, timeout=30)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), body, headers


def bucket_name(prefix: str = "b") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@contextmanager
def temporary_bucket(s3, prefix: str = "b") -> Iterator[str]:
    """A new bucket, emptied (every version and delete marker) and deleted afterwards."""
    name = bucket_name(prefix)
    s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        s3.delete_bucket(Bucket=name)


def marker_pages(list_call, id_marker: str, *, max_pages: int = 40, **args) -> list[dict]:
    """Every page of a listing resumed by key and id markers (`list_object_versions` with "VersionIdMarker",
    `list_multipart_uploads` with "UploadIdMarker"), following each page's Next markers."""
    pages = []
    for _ in range(max_pages):
        page = list_call(**args)
        pages.append(page)
        if not page["IsTruncated"]:
            return pages
        args["KeyMarker"] = page["NextKeyMarker"]
        args[id_marker] = page.get("Next" + id_marker, "")
    raise AssertionError(f"still truncated after {max_pages} pages")


def named_entries(page: dict, lists: tuple[str, ...], id_field: str) -> list[tuple[str, str]]:
    """A page's entries from `lists` as (Key, id) and its common prefixes as (Prefix, ""), by name bytes."""
    entries = [(e["Key"], e[id_field]) for name in lists for e in page.get(name, [])]
    entries += [(p["Prefix"], "") for p in page.get("CommonPrefixes", [])]
    return sorted(entries, key=lambda e: e[0].encode())


def anonymous_client(server):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=server.region,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))


def raw(method: str, url: str, *, body: bytes = b"", headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def signed(server, method: str, path: str, *, body: bytes = b"", secret: str | None = None,
           headers: dict | None = None, signed_body: bytes | None = None) -> tuple[int, dict, bytes]:
    """A request signed the way botocore signs S3, or with a wrong secret, or whose signed payload hash is
    that of `signed_body` while `body` is sent. Header values go out as UTF-8, as curl and the Go and JS SDKs
    send them (urllib would send Latin-1)."""
    url = server.endpoint + path
    request = AWSRequest(method=method, url=url, data=body if signed_body is None else signed_body,
                         headers=dict(headers or {}))
    credentials = Credentials(server.access_key, secret or server.secret_key)
    S3SigV4Auth(credentials, "s3", server.region).add_auth(request)
    return raw(method, url, body=body, headers={k: v.encode().decode("latin-1") for k, v in request.headers.items()})


def error_code(body: bytes) -> str:
    text = body.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else ""


def queued_jobs(data_dir: Path, topic: str) -> list[dict]:
    """Jobs on a topic, read straight from the database (read-only, so no worker loses one)."""
    db = sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT payload FROM jobs WHERE topic = ? ORDER BY id", (topic,)).fetchall()
    finally:
        db.close()
    return [json.loads(row[0]) for row in rows]


def public_read_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]})
