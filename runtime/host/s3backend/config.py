"""Which backend: an external MinIO/S3 endpoint from the environment, or the embedded SeaweedFS."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from runtime.host.s3backend.client import Backend, BackendEndpoint
from runtime.host.s3backend.seaweed import SeaweedSupervisor

ENV_URL = "TERRARIUM_S3_BACKEND_URL"
ENV_ACCESS_KEY = "TERRARIUM_S3_BACKEND_ACCESS_KEY"
ENV_SECRET_KEY = "TERRARIUM_S3_BACKEND_SECRET_KEY"
ENV_REGION = "TERRARIUM_S3_BACKEND_REGION"
ENV_KIND = "TERRARIUM_S3_BACKEND_KIND"  # "seaweedfs": its listings are paged by the gateway, as the embedded one's


def external_endpoint(env: dict | None = None) -> BackendEndpoint | None:
    env = os.environ if env is None else env
    url = env.get(ENV_URL)
    if not url:
        return None
    return BackendEndpoint(url.rstrip("/"), env.get(ENV_ACCESS_KEY, ""), env.get(ENV_SECRET_KEY, ""),
                           env.get(ENV_REGION, "us-east-1"),
                           gateway_pages_listings=env.get(ENV_KIND, "").lower() == "seaweedfs")


@asynccontextmanager
async def open_backend(data_dir: Path) -> AsyncIterator[tuple[Backend, SeaweedSupervisor | None]]:
    """The configured backend, started (embedded) without waiting for health: S3 calls wait for it, the
    rest of Terrarium does not. The supervisor is None for an external endpoint."""
    endpoint = external_endpoint()
    if endpoint is not None:
        backend = Backend(endpoint)
        try:
            yield backend, None
        finally:
            await backend.close()
        return
    supervisor = SeaweedSupervisor(data_dir / "s3backend")
    backend = Backend(supervisor.prepare(), supervisor.wait_healthy)
    await supervisor.start()
    try:
        yield backend, supervisor
    finally:
        await backend.close()
        await supervisor.stop()
