"""The Docker SDK seam: one way to connect, one place that turns docker-py exceptions into ours.

This package is the only importer of `docker`. Callers use `connect()` and wrap SDK calls in `docker_errors()`
so that `NotFound`, `Conflict`, `Transient` or `RealiseError` (runtime.errors) is all they ever see.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors
import requests.exceptions

from runtime.errors import Conflict, NotFound, RealiseError, Transient


@contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Map docker-py and transport errors raised inside the block, naming `what` was being done."""
    try:
        yield
    except docker.errors.NotFound as e:
        raise NotFound(f"{what}: {e.explanation or e}") from e
    except docker.errors.APIError as e:
        if e.status_code == 409:
            raise Conflict(f"{what}: {e.explanation or e}") from e
        raise RealiseError(f"{what}: {e.explanation or e}") from e
    except docker.errors.BuildError as e:
        raise RealiseError(f"{what}: {e.msg}") from e
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as e:
        raise Transient(f"{what}: Docker engine unreachable: {e}") from e


def connect(timeout: int = 600) -> docker.DockerClient:
    """A client for the local engine (DOCKER_HOST or the default socket); raises Transient if it is down."""
    with docker_errors("connecting to Docker"):
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
