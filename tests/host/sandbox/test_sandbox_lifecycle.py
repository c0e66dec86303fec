"""SandboxManager life cycle on the real host: leftovers purged at start, idle zygotes reaped, nothing
left after close; cold-start billing; the image export used for real rootfs directories."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from runtime.sandbox.cgroups import detect
from runtime.sandbox.manager import SandboxManager
from runtime.sandbox.rootfs import rootfs_from_image

pytestmark = pytest.mark.host


def test_start_purges_leftovers_and_close_leaves_nothing(lab):
    root = f"tr-t-{uuid.uuid4().hex[:8]}"
    cgroups = detect(root)
    cgroups.ensure("tr-f-old/tr-i-1")
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        (cgroups.dirs("tr-f-old/tr-i-1")["memory" if cgroups.version == 1 else "unified"] / "cgroup.procs"
         ).write_text(str(sleeper.pid))
        manager = SandboxManager(cgroup_root=root)
        lab.run(manager.start())
        assert sleeper.wait(timeout=5) == -9
        assert not any(d.exists() for d in cgroups.dirs("").values())
        result = lab.run(manager.invoke(lab.fn("app.echo", name="lifecycle"), b'{"k": 1}', request_id="r1"))
        assert json.loads(result.payload) == {"k": 1}
        assert any(d.exists() for d in cgroups.dirs("").values())
        lab.run(manager.close())
        assert not any(d.exists() for d in cgroups.dirs("").values())
    finally:
        sleeper.kill()
        sleeper.wait()
        cgroups.purge()


def test_idle_zygotes_are_reaped(lab):
    manager = SandboxManager(cgroup_root=f"tr-t-{uuid.uuid4().hex[:8]}", idle_ttl_s=0.3)
    try:
        lab.run(manager.start())
        fn = lab.fn("app.echo", name="reaped")
        lab.run(manager.invoke(fn, b"{}", request_id="r1"))
        assert manager.zygote_count() == 1
        deadline = time.monotonic() + 5
        while manager.zygote_count() and time.monotonic() < deadline:
            lab.run(__import__("asyncio").sleep(0.1))
        assert manager.zygote_count() == 0
        assert lab.run(manager.invoke(fn, b"{}", request_id="r2")).init_duration_ms is not None
    finally:
        lab.run(manager.close())


def test_cold_start_bills_init_and_reports_it_once(lab):
    fn = lab.fn("app.echo", name="cold-billing")
    cold = lab.invoke(fn)
    assert cold.init_duration_ms > 0
    assert cold.billed_ms == math.ceil(round(cold.duration_ms + cold.init_duration_ms, 2))
    warm = lab.invoke(fn)
    assert warm.init_duration_ms is None and warm.billed_ms == max(1, math.ceil(warm.duration_ms))


def _docker_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _docker_available(), reason="needs a running Docker engine")
def test_rootfs_from_image_exports_once(tmp_path):
    tarball = tmp_path / "fs.tar"
    (tmp_path / "src" / "etc").mkdir(parents=True)
    (tmp_path / "src" / "etc" / "marker").write_text("terrarium")
    with tarfile.open(tarball, "w") as tar:
        tar.add(tmp_path / "src", arcname=".")
    ref = f"terrarium/rootfs-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "import", "--change", "LABEL terrarium=1", str(tarball), ref], check=True,
                   capture_output=True)
    try:
        first = rootfs_from_image(ref, tmp_path / "cache")
        assert (first / "etc" / "marker").read_text() == "terrarium"
        (first / "etc" / "second-call-keeps-this").write_text("")
        assert rootfs_from_image(ref, tmp_path / "cache") == first
        assert (first / "etc" / "second-call-keeps-this").exists()
    finally:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)


def test_handler_reaches_terrarium_through_the_endpoint_relay(lab):
    async def answer(reader, writer):
        request = await reader.readuntil(b"\r\n\r\n")
        body = b"pong " + request.split(b" ")[1]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def scenario():
        import asyncio
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        manager = SandboxManager(cgroup_root=f"tr-t-{uuid.uuid4().hex[:8]}", endpoint_url=f"http://127.0.0.1:{port}")
        await manager.start()
        try:
            fn = lab.fn("app.fetch", name="relay")
            result = await manager.invoke(fn, json.dumps({"closed_port": port + 1}).encode(), request_id="r1")
            return port, result
        finally:
            await manager.close()
            server.close()
            await server.wait_closed()

    port, result = lab.run(scenario())
    assert json.loads(result.payload) == {"body": "pong /ping", "other": "ConnectionRefusedError"}, result.payload
