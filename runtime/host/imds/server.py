"""IMDS over HTTP: IMDSv2 session tokens, IMDSv1 where allowed, and the metadata tree as AWS serves it.

The server listens on one socket per VPC (created inside the VPC's namespace by the network realiser), so a
connection's peer address plus the VPC it arrived on identifies the calling ENI; the `MetadataSource` port
(implemented by the EC2 service) turns that into the instance's metadata. Tokens are stateless: an HMAC over
the instance id and expiry with a per-process key, so they are bound to one instance and die with it, and a
restart of Terrarium invalidates them as a reboot of the metadata service would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from aiohttp import web

LOG = logging.getLogger(__name__)

TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL = 21600
MAC_BYTES = hashlib.sha256().digest_size


@dataclass
class InstanceMetadata:
    instance_id: str
    meta_data: dict                      # the tree under /latest/meta-data/ (leaves are str)
    user_data: bytes | None = None
    identity_document: dict = field(default_factory=dict)
    http_tokens: str = "optional"        # "required" = IMDSv2 only
    http_endpoint: str = "enabled"


class MetadataSource(Protocol):
    def lookup(self, vpc_id: str, private_ip: str) -> dict | None:
        """The caller's metadata as a dict of `InstanceMetadata`'s fields, or None for an unknown caller.

        A plain dict, so the service that implements this port needs nothing from the host layer."""


def listing(tree: dict) -> str:
    return "\n".join(f"{k}/" if isinstance(v, dict) else k for k, v in tree.items())


def walk(tree: dict, parts: list[str]):
    node = tree
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class ImdsServer:
    """One aiohttp runner per VPC, so every handler knows which VPC's socket the caller came in on."""

    def __init__(self, source: MetadataSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._runners: dict[str, web.AppRunner] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        for vpc_id in list(self._runners):
            await self.stop(vpc_id)

    async def serve(self, vpc_id: str, sock: socket.socket) -> None:
        """Idempotent: a VPC already served keeps its listener and `sock` is closed."""
        if vpc_id in self._runners:
            sock.close()
            return
        async def handle(request: web.Request) -> web.Response:
            return await self._handle(vpc_id, request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runners[vpc_id] = runner

    async def stop(self, vpc_id: str) -> None:
        runner = self._runners.pop(vpc_id, None)
        if runner is not None:
            await runner.cleanup()

    def serving(self) -> set[str]:
        return set(self._runners)

    def serve_from_thread(self, vpc_id: str, make_socket: Callable[[], socket.socket]) -> None:
        """For realisers running in worker threads: open the VPC's socket unless it is served already."""
        if vpc_id in self._runners or self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.serve(vpc_id, make_socket()), self._loop).result(10)

    def stop_from_thread(self, vpc_id: str) -> None:
        if vpc_id in self._runners and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(vpc_id), self._loop).result(10)

    def _token(self, instance_id: str, expires: int) -> str:
        body = f"{instance_id}:{expires}".encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body + b":" + mac).decode()

    def _token_valid(self, token: str, instance_id: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(token.encode())
            body, mac = raw[:-MAC_BYTES - 1], raw[-MAC_BYTES:]  # the MAC is binary: split by length
            owner, expires = body.decode().rsplit(":", 1)
        except (ValueError, UnicodeDecodeError):
            return False
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        return hmac.compare_digest(mac, expected) and owner == instance_id and int(expires) > self.clock()

    async def _handle(self, vpc_id: str, request: web.Request) -> web.Response:
        found = await asyncio.to_thread(self.source.lookup, vpc_id, request.remote or "")
        meta = InstanceMetadata(**found) if found is not None else None
        if meta is None:
            return web.Response(status=404, text="Not Found")
        if meta.http_endpoint != "enabled":
            return web.Response(status=403, text="Forbidden")
        if request.method == "PUT":
            return self._put_token(request, meta)
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="Method Not Allowed")
        token = request.headers.get(TOKEN_HEADER)
        if token is not None:
            if not self._token_valid(token, meta.instance_id):
                return web.Response(status=401, text="Unauthorized")
        elif meta.http_tokens == "required":
            return web.Response(status=401, text="Unauthorized")
        return self._get(request.path, meta)

    def _put_token(self, request: web.Request, meta: InstanceMetadata) -> web.Response:
        if request.path != "/latest/api/token":
            return web.Response(status=403 if request.path.endswith("/api/token") else 404, text="Forbidden")
        if "X-Forwarded-For" in request.headers:
            return web.Response(status=403, text="Forbidden")
        try:
            ttl = int(request.headers[TOKEN_TTL_HEADER])
        except (KeyError, ValueError):
            return web.Response(status=400, text="Bad Request")
        if not 1 <= ttl <= MAX_TTL:
            return web.Response(status=400, text="Bad Request")
        token = self._token(meta.instance_id, int(self.clock()) + ttl)
        return web.Response(text=token, headers={TOKEN_TTL_HEADER: str(ttl)})

    def _get(self, path: str, meta: InstanceMetadata) -> web.Response:
        root = {"latest": {"meta-data": meta.meta_data, "dynamic": {
            "instance-identity": {"document": json.dumps(meta.identity_document, indent=2)}}}}
        if meta.user_data is not None:
            root["latest"]["user-data"] = meta.user_data
        parts = [p for p in path.split("/") if p]
        node = walk(root, parts)
        if node is None:
            return web.Response(status=404, text="Not Found")
        if isinstance(node, dict):
            return web.Response(text=listing(node))
        if isinstance(node, bytes):
            return web.Response(body=node, content_type="application/octet-stream")
        return web.Response(text=node)
