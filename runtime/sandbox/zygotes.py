"""The host's handle on one zygote: start it under bubblewrap, await its Init, hand it invocations.

The zygote is started from the event-loop thread (asyncio subprocess), so bwrap's --die-with-parent ties
it to Terrarium's process, never to a pool thread. Before exec, a tiny shell moves itself into the zygote's
cgroups and the process drops to the sandbox uid (Popen's `user=`/`group=`), so bwrap never runs as root.
The control channel is a SOCK_SEQPACKET pair given to the zygote as its stdin: one message per invocation,
carrying the request header and three file descriptors.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from runtime.sandbox.cgroups import Cgroups, Limits
from runtime.sandbox.layout import bwrap_argv

JOIN_AND_EXEC = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 111; shift; n=$((n-1)); done; exec "$@"'
MIB = 1 << 20


class ZygoteGone(Exception):
    """The zygote is no longer there to take an invocation."""


@dataclass
class ReadySandbox:
    """A built, confined sandbox waiting for its one request: the host ends of its three channels."""

    inv_rel: str
    channel: socket.socket
    result_r: int
    log_r: int
    address: str | None = None  # a VPC function's sandbox: its address behind the Hyperplane ENI

    def close(self) -> None:
        """Give the sandbox up unused: it sees its request socket close and exits."""
        self.channel.close()
        for fd in (self.result_r, self.log_r):
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class InitOutcome:
    init_ms: float
    log: list[str]
    error: dict | None


@dataclass
class Zygote:
    key: str
    arn: str
    fn_rel: str
    cgroups: Cgroups
    uid: int
    gid: int
    log_stream: str = ""
    proc: asyncio.subprocess.Process | None = None
    sock: socket.socket | None = None
    init: InitOutcome | None = None
    baseline_bytes: int = 0
    inflight: int = 0
    last_used: float = field(default_factory=time.monotonic)
    retired: bool = False
    dead: bool = False
    ready: deque = field(default_factory=deque)
    filling: int = 0
    tasks: set = field(default_factory=set)
    _send_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def zygote_rel(self) -> str:
        return f"{self.fn_rel}/zygote"

    def prepare_cgroups(self, memory_mb: int) -> dict[str, Path]:
        """Blocking: the function's cgroup parent and the zygote's own cgroup (limit bounds Init)."""
        self.cgroups.ensure_function(self.fn_rel, self.uid)
        self.cgroups.ensure(self.zygote_rel, Limits(memory_bytes=memory_mb * MIB), owner=self.uid)
        return self.cgroups.dirs(self.fn_rel)

    async def start(self, fn, env: dict[str, str], init_timeout_s: float, bwrap: str,
                    endpoint_dir: Path | None = None) -> InitOutcome:
        """Spawn and wait for the `ready` message. Init errors come back in the outcome, not raised."""
        fn_dirs = await asyncio.to_thread(self.prepare_cgroups, fn.memory_mb)
        argv = bwrap_argv(fn, cgroup_dirs=fn_dirs, bwrap=bwrap, endpoint_dir=endpoint_dir)
        procs_files = [str(d / "cgroup.procs") for d in self.cgroups.dirs(self.zygote_rel).values()]
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        t0 = time.monotonic()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", JOIN_AND_EXEC, "sh", str(len(procs_files)), *procs_files, *argv,
                stdin=child.fileno(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                user=self.uid, group=self.gid, extra_groups=[], close_fds=True, env=env)
        finally:
            child.close()
        parent.setblocking(False)
        self.sock = parent
        loop = asyncio.get_running_loop()
        try:
            msg = await asyncio.wait_for(loop.sock_recv(parent, 1 << 20), init_timeout_s)
        except asyncio.TimeoutError:
            msg = None
        elapsed_ms = (time.monotonic() - t0) * 1000
        if not msg:
            stderr = await self._stderr()
            oom = msg is not None and await asyncio.to_thread(self.cgroups.oom_killed, self.zygote_rel)
            await self.kill()
            if msg is None:
                error = {"errorType": "Sandbox.Timedout",
                         "errorMessage": f"Init did not finish within {init_timeout_s:.2f} seconds"}
            elif oom:
                error = {"errorType": "Runtime.OutOfMemory",
                         "errorMessage": "Runtime exited with error: signal: killed"}
            else:
                error = {"errorType": "Runtime.ExitError",
                         "errorMessage": f"Runtime exited during Init: {stderr.strip() or 'no reason'}"}
            self.init = InitOutcome(elapsed_ms, [stderr] if stderr else [], error)
            return self.init
        ready = json.loads(msg)
        lines = [line for line in ready["init_log"].split("\n") if line]
        self.init = InitOutcome(elapsed_ms, lines, ready["init_error"])
        if ready["init_error"]:
            await self.kill()
        else:
            self.baseline_bytes = await asyncio.to_thread(self.cgroups.anon_bytes, self.zygote_rel)
        return self.init

    async def _stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            return (await asyncio.wait_for(self.proc.stderr.read(65536), 1.0)).decode(errors="replace")
        except asyncio.TimeoutError:
            return ""

    def send(self, header: dict, fds: list[int]) -> None:
        """Blocking: one invocation to the zygote. Raises ZygoteGone if it cannot take it."""
        if self.dead or self.sock is None:
            raise ZygoteGone(self.key)
        data = json.dumps(header).encode()
        with self._send_lock:
            deadline = time.monotonic() + 1.0
            while True:
                try:
                    socket.send_fds(self.sock, [data], fds)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ZygoteGone(self.key) from None
                    time.sleep(0.0005)
                except OSError as e:
                    self.dead = True
                    raise ZygoteGone(self.key) from e

    async def kill(self) -> None:
        """Stop the zygote for good: close its channel, kill everything inside bwrap first so that the
        outer bwrap (our child) reaps its own child and exits, then reap it. Killing the outer one first
        would leave its children to the host's init as zombies. Idempotent."""
        self.dead = True
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        outer = self.proc.pid if self.proc is not None and self.proc.returncode is None else None
        await asyncio.to_thread(self._kill_inside, outer)
        if self.proc is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), 2.0)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await asyncio.to_thread(self.cgroups.kill, self.zygote_rel)

    def _kill_inside(self, outer: int | None) -> None:
        for pid in self.cgroups.procs(self.zygote_rel):
            if pid != outer:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    async def remove_cgroups(self) -> None:
        await asyncio.to_thread(self.cgroups.remove, self.fn_rel)
