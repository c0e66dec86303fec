"""Which store Terrarium runs itself when no backend URL is configured, and how a managed MinIO is started."""

from __future__ import annotations

import pytest

from runtime.host.s3backend.config import ENV_KIND, local_store
from runtime.host.s3backend.minio_store import MinioSupervisor
from runtime.host.s3backend.seaweed import SeaweedSupervisor


def test_seaweedfs_unless_minio_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a stand-in `minio`, found but never run
    (tmp_path / "minio").write_text("#!/bin/sh\n")
    (tmp_path / "minio").chmod(0o755)
    assert isinstance(local_store(tmp_path, {}), SeaweedSupervisor)
    assert isinstance(local_store(tmp_path, {ENV_KIND: "SeaweedFS"}), SeaweedSupervisor)
    chosen = local_store(tmp_path, {ENV_KIND: "minio"})
    assert isinstance(chosen, MinioSupervisor) and chosen.directory == tmp_path / "s3backend-minio"
    with pytest.raises(ValueError, match="'seaweedfs' or 'minio'"):
        local_store(tmp_path, {ENV_KIND: "ceph"})


def test_minio_without_a_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="minio"):
        local_store(tmp_path, {ENV_KIND: "minio"})


def test_a_managed_minio_listens_on_loopback_with_keys_kept_off_its_command_line(tmp_path):
    store = MinioSupervisor(tmp_path / "s3backend-minio", binary="/usr/local/bin/minio")
    endpoint = store.prepare()
    command, env = store.command(), store.environment()
    assert command[:3] == ["/usr/local/bin/minio", "server", str(tmp_path / "s3backend-minio" / "data")]
    assert command[3:] == ["--address", f"127.0.0.1:{store.ports['api']}",
                           "--console-address", f"127.0.0.1:{store.ports['console']}"]
    assert endpoint.url == f"http://127.0.0.1:{store.ports['api']}" and not endpoint.gateway_pages_listings
    assert (env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"]) == (endpoint.access_key, endpoint.secret_key)
    assert endpoint.secret_key not in " ".join(command) and len(endpoint.secret_key) >= 8
    assert (env["MINIO_BROWSER"], env["MINIO_UPDATE"]) == ("off", "off")
    identity = tmp_path / "s3backend-minio" / "identity.json"
    assert identity.stat().st_mode & 0o077 == 0
    again = MinioSupervisor(tmp_path / "s3backend-minio", binary="/usr/local/bin/minio")
    assert (again.prepare(), again.ports) == (endpoint, store.ports)  # the same keys and ports after a restart
