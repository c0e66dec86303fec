"""A MinIO server that Terrarium starts from a `minio` binary on PATH (`TERRARIUM_S3_BACKEND_KIND=minio`
without a URL), for users who want MinIO without running it themselves. Its data lives in
`<data dir>/s3backend-minio/data`; `StoreSupervisor` keeps its life cycle, ports, keys and health.

Invariants beyond the supervisor's: the API and the console listen on 127.0.0.1 only, the browser and the
update check are off, and the root user is Terrarium's generated identity (passed in the environment,
never on the command line, where other local users could read it).
"""

from __future__ import annotations

import os
from pathlib import Path

from runtime.host.s3backend.client import BackendEndpoint
from runtime.host.s3backend.supervisor import StoreSupervisor, find_binary


class MinioSupervisor(StoreSupervisor):
    NAME = "MinIO"
    LOG_FILE = "minio.log"
    PORT_NAMES = ("api", "console")

    def __init__(self, directory: Path, *, binary: str | None = None) -> None:
        super().__init__(directory, binary or find_binary(
            "minio", "TERRARIUM_S3_BACKEND_KIND=minio needs a `minio` server binary on PATH"))

    def _endpoint(self, identity: dict) -> BackendEndpoint:
        return BackendEndpoint(f"http://127.0.0.1:{self.ports['api']}", identity["accessKey"], identity["secretKey"])

    def command(self) -> list[str]:
        return [self.binary, "server", str(self.directory / "data"), "--address", f"127.0.0.1:{self.ports['api']}",
                "--console-address", f"127.0.0.1:{self.ports['console']}"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "MINIO_ROOT_USER": self.endpoint.access_key,
                "MINIO_ROOT_PASSWORD": self.endpoint.secret_key, "MINIO_BROWSER": "off", "MINIO_UPDATE": "off"}
