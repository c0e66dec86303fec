"""The metadata server's HTTP contract, served on a loopback socket (the VPC namespace socket is exercised by
the EC2 host tests)."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from runtime.host.imds.server import TOKEN_HEADER, TOKEN_TTL_HEADER, ImdsServer, InstanceMetadata


class Source:
    def __init__(self, meta: InstanceMetadata) -> None:
        self.meta = meta
        self.calls: list[tuple[str, str]] = []

    def lookup(self, vpc_id, private_ip):
        self.calls.append((vpc_id, private_ip))
        return vars(self.meta) if private_ip == "127.0.0.1" else None


def metadata(**overrides) -> InstanceMetadata:
    values = dict(instance_id="i-0123456789abcdef0", user_data=b"#!/bin/sh\necho hi\n",
                  meta_data={"instance-id": "i-0123456789abcdef0", "local-ipv4": "10.0.0.5",
                             "placement": {"availability-zone": "us-east-1a"}},
                  identity_document={"instanceId": "i-0123456789abcdef0", "region": "us-east-1"})
    values.update(overrides)
    return InstanceMetadata(**values)


async def _session(meta: InstanceMetadata, body, clock=None):
    server = ImdsServer(Source(meta), **({"clock": clock} if clock else {}))
    await server.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    await server.serve("vpc-1", sock)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            await body(http, server)
    finally:
        await server.close()


def run(meta, body, clock=None):
    asyncio.run(_session(meta, body, clock))


async def fetch(http, method, path, headers=None):
    async with http.request(method, path, headers=headers or {}) as reply:
        return reply.status, await reply.read()


def test_v1_tree_listing_and_leaves():
    async def body(http, server):
        assert await fetch(http, "GET", "/latest/meta-data/") == (200, b"instance-id\nlocal-ipv4\nplacement/")
        assert await fetch(http, "GET", "/latest/meta-data/local-ipv4") == (200, b"10.0.0.5")
        assert await fetch(http, "GET", "/latest/meta-data/placement/availability-zone") == (200, b"us-east-1a")
        assert (await fetch(http, "GET", "/latest/meta-data/public-ipv4"))[0] == 404
        assert await fetch(http, "GET", "/latest/user-data") == (200, b"#!/bin/sh\necho hi\n")
        status, doc = await fetch(http, "GET", "/latest/dynamic/instance-identity/document")
        assert status == 200 and json.loads(doc)["instanceId"] == "i-0123456789abcdef0"
    run(metadata(), body)


def test_v2_token_flow_and_required_tokens():
    async def body(http, server):
        assert (await fetch(http, "GET", "/latest/meta-data/instance-id"))[0] == 401
        assert (await fetch(http, "PUT", "/latest/api/token"))[0] == 400
        assert (await fetch(http, "PUT", "/latest/api/token", {TOKEN_TTL_HEADER: "0"}))[0] == 400
        assert (await fetch(http, "PUT", "/latest/api/token", {TOKEN_TTL_HEADER: "21601"}))[0] == 400
        assert (await fetch(http, "PUT", "/latest/api/token",
                            {TOKEN_TTL_HEADER: "60", "X-Forwarded-For": "1.2.3.4"}))[0] == 403
        assert (await fetch(http, "PUT", "/2021-03-23/api/token", {TOKEN_TTL_HEADER: "60"}))[0] == 403
        status, token = await fetch(http, "PUT", "/latest/api/token", {TOKEN_TTL_HEADER: "60"})
        assert status == 200
        assert await fetch(http, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: token.decode()}) == \
            (200, b"i-0123456789abcdef0")
        assert (await fetch(http, "GET", "/latest/meta-data/instance-id", {TOKEN_HEADER: "forged"}))[0] == 401
    run(metadata(http_tokens="required"), body)


def test_tokens_expire_and_are_bound_to_the_instance():
    now = [1_000_000.0]

    async def body(http, server):
        _, token = await fetch(http, "PUT", "/latest/api/token", {TOKEN_TTL_HEADER: "5"})
        assert (await fetch(http, "GET", "/latest/meta-data/", {TOKEN_HEADER: token.decode()}))[0] == 200
        now[0] += 6
        assert (await fetch(http, "GET", "/latest/meta-data/", {TOKEN_HEADER: token.decode()}))[0] == 401
        other = server._token("i-0aaaaaaaaaaaaaaaa", int(now[0]) + 100)
        assert (await fetch(http, "GET", "/latest/meta-data/", {TOKEN_HEADER: other}))[0] == 401
    run(metadata(), body, clock=lambda: now[0])


def test_many_tokens_all_validate():
    """Regression: the binary MAC may contain ':' and must not be split on it."""
    async def body(http, server):
        for _ in range(100):
            _, token = await fetch(http, "PUT", "/latest/api/token", {TOKEN_TTL_HEADER: "60"})
            assert (await fetch(http, "GET", "/latest/meta-data/", {TOKEN_HEADER: token.decode()}))[0] == 200
    run(metadata(), body)


def test_disabled_endpoint_and_unknown_caller():
    async def body(http, server):
        assert (await fetch(http, "GET", "/latest/meta-data/"))[0] == 403
    run(metadata(http_endpoint="disabled"), body)
