"""The way from a sandbox (a network namespace with only `lo`) to Terrarium's API, and nowhere else.

Host side (this module): a unix socket in a directory bind-mounted read-only into every zygote at
/run/terrarium; each connection to it is relayed to Terrarium's TCP listener. Sandbox side (zygote.py,
the keeper): a listener on 127.0.0.1:<port> inside the invocation's own network namespace relays to that
socket, so `AWS_ENDPOINT_URL=http://127.0.0.1:<port>` works for boto3 in the handler while the sandbox still
has no route to any address. Callers are told apart by their SigV4 credentials (the role's), as on AWS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

SANDBOX_DIR = "/run/terrarium"
SOCKET_NAME = "endpoint.sock"


class EndpointRelay:
    """Unix socket → TCP relay to Terrarium, owned by the SandboxManager's event loop."""

    def __init__(self, directory: Path, host: str, port: int) -> None:
        self.directory = directory
        self.host, self.port = host, port
        self._server: asyncio.AbstractServer | None = None
        self._pumps: set[asyncio.Task] = set()

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    async def start(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, mode=0o755)
        os.chmod(self.directory, 0o755)
        self._server = await asyncio.start_unix_server(self._relay, path=str(self.socket_path))
        os.chmod(self.socket_path, 0o666)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        shutil.rmtree(self.directory, ignore_errors=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        pumps = [asyncio.ensure_future(self._pump(reader, up_writer)),
                 asyncio.ensure_future(self._pump(up_reader, writer))]
        self._pumps.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._pumps.difference_update(pumps)
            writer.close()
            up_writer.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass
