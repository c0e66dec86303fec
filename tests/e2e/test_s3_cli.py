"""S3 through the tools people use: the aws CLI (`s3 cp/sync/ls/presign`, `s3api`) and curl (SigV4)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time

import pytest

from tests.e2e.s3_helpers import bucket_name, temporary_bucket

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")


@pytest.fixture()
def cli(server, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
           "AWS_DEFAULT_REGION": server.region, "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}
    env.pop("AWS_PROFILE", None)
    (tmp_path / "config").write_text("[default]\ns3 =\n    multipart_threshold = 8MB\n    multipart_chunksize = 8MB\n")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["aws", "--endpoint-url", server.endpoint, *args], env=env, capture_output=True,
                              text=True, timeout=300, check=check)
    return run


@pytest.fixture()
def bucket(server):
    with temporary_bucket(server.client("s3"), "cli") as name:
        yield name


def test_cp_ls_sync_presign(cli, bucket, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))  # multipart: three parts
    small = tmp_path / "tree" / "docs" / "a.txt"
    small.parent.mkdir(parents=True)
    small.write_text("alpha")
    (tmp_path / "tree" / "b.txt").write_text("beta")
    cli("s3", "cp", str(big), f"s3://{bucket}/big.bin")
    cli("s3", "sync", str(tmp_path / "tree"), f"s3://{bucket}/tree")
    listing = cli("s3", "ls", "--recursive", f"s3://{bucket}").stdout
    assert {line.split()[-1] for line in listing.splitlines()} == {"big.bin", "tree/b.txt", "tree/docs/a.txt"}
    assert "PRE tree/" in cli("s3", "ls", f"s3://{bucket}/").stdout
    back = tmp_path / "back.bin"
    cli("s3", "cp", f"s3://{bucket}/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
    url = cli("s3", "presign", f"s3://{bucket}/tree/b.txt", "--expires-in", "60").stdout.strip()
    fetched = subprocess.run(["curl", "-s", "-f", url], capture_output=True, timeout=30)
    assert fetched.stdout == b"beta"
    again = cli("s3", "sync", str(tmp_path / "tree"), f"s3://{bucket}/tree").stdout
    assert again.strip() == "", "nothing changed, nothing copied"
    missing = cli("s3", "ls", f"s3://{bucket_name('missing')}", check=False)
    assert missing.returncode != 0 and "NoSuchBucket" in missing.stderr


def test_curl_sigv4(server, bucket):
    user = f"{server.access_key}:{server.secret_key}"
    url = f"{server.endpoint}/{bucket}/curl.txt"
    sigv4 = f"aws:amz:{server.region}:s3"
    unsigned_payload = ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
    bare = subprocess.run(["curl", "-s", "--aws-sigv4", sigv4, "--user", user, "-X", "PUT", "--data-binary", "x", url],
                          capture_output=True, timeout=30)
    assert b"<Code>InvalidRequest</Code>" in bare.stdout, "S3 requires x-amz-content-sha256"
    put = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--aws-sigv4", sigv4, "--user", user,
                          *unsigned_payload, "-X", "PUT", "--data-binary", "from curl", url],
                         capture_output=True, timeout=30)
    assert put.stdout == b"200"
    got = subprocess.run(["curl", "-s", "--aws-sigv4", sigv4, "--user", user, *unsigned_payload, url],
                         capture_output=True, timeout=30)
    assert got.stdout == b"from curl"
    wrong = subprocess.run(["curl", "-s", "--aws-sigv4", sigv4, "--user", f"{server.access_key}:nope",
                            *unsigned_payload, url],
                           capture_output=True, timeout=30)
    assert b"<Code>SignatureDoesNotMatch</Code>" in wrong.stdout
    unsigned = subprocess.run(["curl", "-s", "-X", "PUT", "--data-binary", "x", url], capture_output=True, timeout=30)
    assert b"<Code>AccessDenied</Code>" in unsigned.stdout


def test_sync_with_delete_pages_through_names_sorting_around_a_folder(cli, bucket, tmp_path):
    """`aws s3 sync` merges the bucket's listing with the sorted local tree page by page; a listing out of
    S3's byte order across pages (`a/b` before `a-c`, as the embedded backend pages) made it copy `a-c` again
    and, with `--delete`, delete it."""
    tree = tmp_path / "tree"
    for name in ("a/b", "a/c", "a-c", "a.txt", "a0"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(name)
        os.utime(tree / name, (time.time() - 3600,) * 2)  # older than the upload even where S3's whole seconds
        # would make a file written in the upload's second look newer (sync would copy it again)
    cli("s3", "sync", str(tree), f"s3://{bucket}")
    again = cli("s3", "sync", "--delete", "--page-size", "1", str(tree), f"s3://{bucket}").stdout
    assert again.strip() == "", "nothing changed, nothing copied or deleted"
    listing = cli("s3", "ls", "--recursive", "--page-size", "1", f"s3://{bucket}").stdout
    assert [line.split()[-1] for line in listing.splitlines()] == ["a-c", "a.txt", "a/b", "a/c", "a0"]
