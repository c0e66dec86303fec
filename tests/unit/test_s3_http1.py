"""The backend leg's HTTP/1.1 pool against a real aiohttp server on loopback: bodies by length, chunked and
streamed both ways, HEAD, connection reuse, early release, and a pooled connection the server closed."""

from __future__ import annotations

import asyncio

from aiohttp import web

from runtime.host.s3backend.http1 import BackendConnectionError, Pool


async def _echo(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    return web.Response(body=body, headers={"X-Method": request.method, "X-Length": str(len(body)),
                                            "X-Peer-Port": str(request.transport.get_extra_info("peername")[1])})


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for piece in (b"alpha-", b"beta-", b"gamma"):
        await response.write(piece)
    await response.write_eof()
    return response


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * (3 * 1024 * 1024 + 7))


async def _closing(request: web.Request) -> web.Response:
    return web.Response(body=b"bye", headers={"Connection": "close"})


def _run(scenario) -> None:
    async def main() -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/echo", _echo)
        app.router.add_get("/chunked", _chunked)
        app.router.add_get("/big", _big)
        app.router.add_get("/closing", _closing)
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=0.3)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        pool = Pool("127.0.0.1", port)
        try:
            await scenario(pool)
        finally:
            await pool.close()
            await runner.cleanup()
    asyncio.run(main())


def test_bodies_by_length_and_chunked_and_head():
    async def scenario(pool: Pool) -> None:
        reply = await pool.request("PUT", "/echo", {"X-Test": "1"}, b"hello")
        assert (reply.status, await reply.read(), reply.headers["x-length"]) == (200, b"hello", "5")
        reply = await pool.request("GET", "/chunked", {})
        assert reply.content_length is None and await reply.read() == b"alpha-beta-gamma"
        reply = await pool.request("HEAD", "/echo", {})
        assert reply.status == 200 and reply.headers["X-Method"] == "HEAD"
        reply.release()
        reply = await pool.request("GET", "/big", {})
        pieces = [piece async for piece in reply.content.iter_chunked(1024 * 1024)]
        assert sum(map(len, pieces)) == 3 * 1024 * 1024 + 7 and max(map(len, pieces)) <= 1024 * 1024
    _run(scenario)


def test_streamed_request_bodies_with_and_without_length():
    async def pieces():
        for _ in range(4):
            yield b"p" * 100_000

    async def scenario(pool: Pool) -> None:
        reply = await pool.request("PUT", "/echo", {"Content-Length": "400000"}, pieces())
        assert reply.headers["X-Length"] == "400000"
        await reply.read()
        reply = await pool.request("PUT", "/echo", {}, pieces())  # no length: sent chunked
        assert reply.headers["X-Length"] == "400000"
        await reply.read()
    _run(scenario)


def test_connections_are_reused_only_when_read_to_the_end():
    async def scenario(pool: Pool) -> None:
        ports = []
        for _ in range(3):
            reply = await pool.request("GET", "/echo", {})
            ports.append(reply.headers["X-Peer-Port"])
            await reply.read()
        assert len(set(ports)) == 1
        reply = await pool.request("GET", "/big", {})
        reply.release()  # body unread: its connection must not be reused
        reply = await pool.request("GET", "/echo", {})
        assert reply.headers["X-Peer-Port"] != ports[0]
        await reply.read()
        reply = await pool.request("GET", "/closing", {})
        assert await reply.read() == b"bye"
        assert not pool._idle
    _run(scenario)


def test_a_connection_the_server_closed_is_replaced():
    async def scenario(pool: Pool) -> None:
        reply = await pool.request("GET", "/echo", {})
        first = reply.headers["X-Peer-Port"]
        await reply.read()
        await asyncio.sleep(0.8)  # past the server's keep-alive timeout: it hangs up the idle connection
        reply = await pool.request("PUT", "/echo", {}, b"again")
        assert await reply.read() == b"again" and reply.headers["X-Peer-Port"] != first
    _run(scenario)


def test_unreachable_backend_is_a_connection_error():
    async def main() -> None:
        pool = Pool("127.0.0.1", 9)  # discard port: nothing listens
        try:
            await pool.request("GET", "/", {})
        except BackendConnectionError:
            return
        raise AssertionError("expected BackendConnectionError")
    asyncio.run(main())


def _raw(replies: list[bytes], scenario) -> None:
    """A server that answers the n-th request on a connection with `replies[n]` byte for byte (then, when
    the list is used up, closes), for responses aiohttp's server would not send."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            if not await reader.readuntil(b"\r\n\r\n"):
                break
            writer.write(reply)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        pool = Pool("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            await scenario(pool)
        finally:
            await pool.close()
            server.close()
    asyncio.run(main())


def test_trailers_head_with_length_and_reuse_on_one_connection():
    replies = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n",
               b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"e\"\r\n\r\n",
               b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"]

    async def scenario(pool: Pool) -> None:
        reply = await pool.request("GET", "/a", {})
        assert reply.content_length is None and await reply.read() == b"hello world"
        reply = await pool.request("HEAD", "/a", {})  # a length but no body: the connection stays usable
        assert (reply.status, reply.content_length, reply.headers["ETag"]) == (200, 1000, '"e"')
        assert await reply.read() == b""
        reply = await pool.request("DELETE", "/a", {})
        assert reply.status == 204 and await reply.read() == b""
        assert len(pool._idle) == 1  # all three on one connection
    _raw(replies, scenario)


def test_a_body_ended_by_closing_the_connection():
    async def scenario(pool: Pool) -> None:
        reply = await pool.request("GET", "/a", {})
        assert reply.content_length is None and await reply.read() == b"until the end"
        assert not pool._idle
    _raw([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"], scenario)


def test_malformed_responses_are_connection_errors():
    async def expect_error(pool: Pool) -> None:
        try:
            reply = await pool.request("GET", "/a", {})
            await reply.read()
        except BackendConnectionError:
            return
        raise AssertionError("expected BackendConnectionError")

    _raw([b"HTTX/9 nonsense\r\n\r\n"], expect_error)
    _raw([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"], expect_error)
    _raw([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], expect_error)
