"""Which backend: an external MinIO/S3 endpoint from the environment, or a local store Terrarium runs itself:
the embedded SeaweedFS by default, a `minio` binary on PATH with `TERRARIUM_S3_BACKEND_KIND=minio`."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from runtime.host.s3backend.client import Backend, BackendEndpoint
from runtime.host.s3backend.minio_store import MinioSupervisor
from runtime.host.s3backend.seaweed import SeaweedSupervisor
from runtime.host.s3backend.supervisor import StoreSupervisor

ENV_URL = "TERRARIUM_S3_BACKEND_URL"
ENV_ACCESS_KEY = "TERRARIUM_S3_BACKEND_ACCESS_KEY"
ENV_SECRET_KEY = "TERRARIUM_S3_BACKEND_SECRET_KEY"
ENV_REGION = "TERRARIUM_S3_BACKEND_REGION"
ENV_KIND = "TERRARIUM_S3_BACKEND_KIND"  # which store: "seaweedfs" (default) or "minio"


def external_endpoint(env: dict | None = None) -> BackendEndpoint | None:
    env = os.environ if env is None else env
    url = env.get(ENV_URL)
    if not url:
        return None
    return BackendEndpoint(url.rstrip("/"), env.get(ENV_ACCESS_KEY, ""), env.get(ENV_SECRET_KEY, ""),
                           env.get(ENV_REGION, "us-east-1"),
                           gateway_pages_listings=env.get(ENV_KIND, "").lower() == "seaweedfs")


def local_store(data_dir: Path, env: dict | None = None) -> StoreSupervisor:
    """The store Terrarium runs itself when no URL names one: SeaweedFS (embedded), or MinIO from PATH."""
    env = os.environ if env is None else env
    kind = env.get(ENV_KIND, "").lower() or "seaweedfs"
    if kind == "seaweedfs":
        return SeaweedSupervisor(data_dir / "s3backend")
    if kind == "minio":
        return MinioSupervisor(data_dir / "s3backend-minio")
    raise ValueError(f"{ENV_KIND} must be 'seaweedfs' or 'minio', not {env[ENV_KIND]!r}")


@asynccontextmanager
async def open_backend(data_dir: Path) -> AsyncIterator[tuple[Backend, StoreSupervisor | None]]:
    """The configured backend, started (a local store) without waiting for health: S3 calls wait for it, the
    rest of Terrarium does not. The supervisor is None for an external endpoint."""
    endpoint = external_endpoint()
    if endpoint is not None:
        backend = Backend(endpoint)
        try:
            yield backend, None
        finally:
            await backend.close()
        return
    supervisor = local_store(data_dir)
    backend = Backend(supervisor.prepare(), supervisor.wait_healthy)
    await supervisor.start()
    try:
        yield backend, supervisor
    finally:
        await backend.close()
        await supervisor.stop()
