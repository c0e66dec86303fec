"""SandboxManager: the real SandboxPort. One zygote per function version, one fresh sandbox per invocation.

Sandboxes are built ahead: each zygote keeps `warm_sandboxes` of them ready (cgroup made, namespaces
entered, /tmp mounted, capabilities dropped), each used by exactly one invocation, so an invocation only
hands its request to a waiting process. Per invocation the host:
  before: takes a ready sandbox (or builds one now), sends the request and the event (memfd), and tops
          the pool up in the background;
  during: reads the result and log pipes on the event loop; at the deadline SIGKILLs everything in the
          invocation's memory cgroup;
  after:  once the result record is in and the handler's output has ended (or the result pipe closed
          without one: a crash, an OOM kill), reads the cgroup's peak and OOM counter and answers; the
          keeper's exit and the cgroup's removal happen after the response.
Duration is what the handler process measured around the handler (it shares a process with user code,
so a handler could under-report itself), clamped to what the host saw from request to result; Max
Memory Used = the zygote's anonymous memory (shared, copy-on-write) + the invocation cgroup's peak, and
the invocation's memory limit is MemorySize minus that shared part.
With `endpoint_url`, sandboxes reach Terrarium (and only it) at http://127.0.0.1:<port> through
EndpointRelay (endpoint.py); AWS_ENDPOINT_URL says so.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import os
import pwd
import shutil
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runtime.errors import NotFound, RealiseError
from runtime.host.net import hyperplane
from runtime.sandbox import report
from runtime.sandbox.cgroups import Cgroups, cpu_vcpus, detect
from runtime.sandbox.endpoint import EndpointRelay
from runtime.sandbox.layout import blocked_for_sandbox, function_env, log_stream_name
from runtime.sandbox.ports import FunctionSpec, InvocationResult, SandboxThrottled, SandboxUnavailable
from runtime.sandbox.zygotes import MIB, ReadySandbox, Zygote, ZygoteGone

DEFAULT_SANDBOX_UID = 993  # the uid AWS Lambda's sbx_user1051 has
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
MAX_LOG_BYTES = 1 << 20
MIN_INVOCATION_MEMORY = 8 * MIB
KILL_GRACE_S = 2.0
MAX_WARM = 16


@dataclass
class _Drained:
    """What a pipe delivered; `marks` are (bytes kept so far, epoch seconds) after each read, so a byte's
    arrival time is that of the first mark covering it."""

    data: bytes
    truncated: int
    marks: tuple[tuple[int, float], ...] = ()


class _Drain:
    """Reads a non-blocking pipe on the event loop until EOF, keeping at most `cap` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap = fd, cap
        self.buf = bytearray()
        self.dropped = 0
        self.marks: list[tuple[int, float]] = []
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[_Drained] = self.loop.create_future()
        self.on_chunk = None
        os.set_blocking(fd, False)
        self.loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            while chunk := os.read(self.fd, 1 << 16):
                room = self.cap - len(self.buf)
                self.buf += chunk[:room]
                self.dropped += max(0, len(chunk) - room)
                self.marks.append((len(self.buf), time.time()))
        except BlockingIOError:
            if self.on_chunk is not None:
                self.on_chunk()
            return
        self.close()

    def snapshot(self) -> _Drained:
        """What has arrived so far, after reading whatever is waiting in the pipe."""
        if not self.done.done():
            self._readable()
        return self.done.result() if self.done.done() else _Drained(bytes(self.buf), self.dropped, tuple(self.marks))

    def close(self) -> None:
        if not self.done.done():
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.done.set_result(_Drained(bytes(self.buf), self.dropped, tuple(self.marks)))


@dataclass
class _Running:
    request_id: str
    arn: str
    version: str
    inv_rel: str
    started: float
    eni: str | None
    address: str | None


@dataclass
class _Records:
    result: dict | None = None
    body: bytes = b""
    error_logs: tuple[str, ...] = ()
    exit_status: int | None = None
    setup_error: str | None = None


def _records(data: bytes | bytearray, partial: bool = False):
    """(header, body) pairs from the result pipe, complete ones only (with `partial`, also a last one
    whose body was cut short). Stops at anything malformed: user code shares the process that writes
    these, so the stream is parsed, never trusted."""
    pos = 0
    while (nl := data.find(b"\n", pos)) >= 0:
        try:
            header = json.loads(data[pos:nl])
            size = int(header.get("len", 0))
            kind = header["kind"]
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        end = nl + 1 + size
        if size < 0 or not isinstance(kind, str):
            return
        if len(data) < end:
            if partial:
                yield header, bytes(data[nl + 1:end])
            return
        yield header, bytes(data[nl + 1:end])
        pos = end


def _has_result(data: bytes | bytearray) -> bool:
    """Whether a complete result record has arrived (the handler's outcome is known)."""
    return any(header["kind"] == "result" for header, _ in _records(data))


def _parse_records(data: bytes) -> _Records:
    rec = _Records()
    logs: list[str] = []
    for header, body in _records(data, partial=True):
        kind = header["kind"]
        complete = len(body) == header.get("len", 0)
        if kind == "result" and isinstance(header.get("duration_ns"), int) and (
                complete or header["len"] > MAX_RESPONSE_BYTES):  # cut short by the drain's cap
            rec.result, rec.body = header, body
        elif not complete:
            break
        elif kind == "log":
            logs.append(body.decode(errors="replace"))
        elif kind == "exit" and isinstance(header.get("status"), int):
            rec.exit_status = header["status"]
        elif kind == "setup_error":
            rec.setup_error = str(header.get("message"))
    rec.error_logs = tuple(logs)
    return rec


def zygote_key(fn: FunctionSpec) -> str:
    """Everything that shapes Init except the rotating role credentials."""
    basis = json.dumps([fn.arn, fn.version, fn.code_sha256, fn.handler, fn.runtime, str(fn.code_dir),
                        fn.memory_mb, fn.timeout_s, sorted(fn.environment.items()), fn.ephemeral_mb,
                        str(fn.rootfs), fn.vpc_eni])
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


class SandboxManager:
    """Implements SandboxPort. Use `async with SandboxManager(...)` or `start()`/`close()`."""

    def __init__(self, *, region: str = "us-east-1", endpoint_url: str | None = None, relay_endpoint: bool = True,
                 cgroup_root: str = "tr-lambda", sandbox_user: int | str = DEFAULT_SANDBOX_UID,
                 account_concurrency: int = 1000, idle_ttl_s: float = 600.0, init_timeout_s: float = 10.0,
                 bill_init: bool = True, bwrap: str = "bwrap", cgroups: Cgroups | None = None,
                 warm_sandboxes: int = 2, cpu_limit: bool = True) -> None:
        if not cgroup_root.startswith("tr-"):
            raise ValueError("cgroup_root must carry the tr- prefix")
        self.region = region
        self.endpoint_url = endpoint_url
        self._relay: EndpointRelay | None = None
        self._endpoint_port: int | None = None
        if endpoint_url and relay_endpoint:
            target = urlsplit(endpoint_url)
            self._endpoint_port = target.port or 80
            self.endpoint_url = f"http://127.0.0.1:{self._endpoint_port}"
            self._relay = EndpointRelay(Path("/run") / cgroup_root, target.hostname, self._endpoint_port)
        self.uid, self.gid = _resolve_user(sandbox_user)
        self.account_concurrency = account_concurrency
        self.idle_ttl_s = idle_ttl_s
        self.init_timeout_s = init_timeout_s
        self.bill_init = bill_init
        self.warm_sandboxes = warm_sandboxes
        self.cpu_limit = cpu_limit
        self.bwrap = shutil.which(bwrap) or bwrap
        self.cgroups = cgroups or detect(cgroup_root)
        self._zygotes: dict[str, Zygote] = {}
        self._starting: dict[str, asyncio.Task] = {}
        self._inflight_by_fn: dict[str, int] = defaultdict(int)
        self._inflight = 0
        self._running: dict[str, _Running] = {}
        self._ids = itertools.count(1)
        self._reaper: asyncio.Task | None = None
        self._background_tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> "SandboxManager":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        """Remove what a previous run left under our cgroup root, then start the idle reaper."""
        if shutil.which(self.bwrap) is None:
            raise SandboxUnavailable(f"{self.bwrap} not found: install bubblewrap")
        await asyncio.to_thread(self.cgroups.purge)
        if self._relay is not None:
            await self._relay.start()
        self._reaper = asyncio.get_running_loop().create_task(self._reap_idle())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            try:
                await self._reaper
            except asyncio.CancelledError:
                pass
            self._reaper = None
        for task in list(self._starting.values()):
            task.cancel()
        for zygote in list(self._zygotes.values()):
            await self._discard(zygote)
        self._zygotes.clear()
        await asyncio.gather(*self._background_tasks, return_exceptions=True)
        if self._relay is not None:
            await self._relay.close()
        await asyncio.to_thread(self.cgroups.purge)

    async def invalidate(self, function_arn: str) -> None:
        for key, zygote in list(self._zygotes.items()):
            if zygote.arn == function_arn:
                del self._zygotes[key]
                zygote.retired = True
                if zygote.inflight == 0:
                    await self._discard(zygote)

    # ---------------------------------------------------------------------------------------- invoke

    async def invoke(self, fn: FunctionSpec, payload: bytes, *, request_id: str,
                     client_context: str | None = None, deadline_ms: int | None = None,
                     invoked_arn: str | None = None) -> InvocationResult:
        if fn.reserved_concurrency is not None and self._inflight_by_fn[fn.arn] >= fn.reserved_concurrency:
            raise SandboxThrottled("ReservedFunctionConcurrentInvocationLimitExceeded", "Rate Exceeded.")
        if self._inflight >= self.account_concurrency:
            raise SandboxThrottled("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")
        self._inflight += 1
        self._inflight_by_fn[fn.arn] += 1
        try:
            return await self._invoke(fn, payload, request_id, client_context, deadline_ms,
                                      invoked_arn or fn.arn)
        finally:
            self._inflight -= 1
            self._inflight_by_fn[fn.arn] -= 1
            if not self._inflight_by_fn[fn.arn]:
                del self._inflight_by_fn[fn.arn]

    async def _invoke(self, fn, payload, request_id, client_context, deadline_ms, invoked_arn):
        t_start = time.monotonic()
        for attempt in range(2):
            zygote, cold = await self._zygote_for(fn)
            env = function_env(fn, region=self.region, endpoint_url=self.endpoint_url,
                               log_stream=zygote.log_stream)
            if zygote.init.error:
                return self._init_failure(fn, zygote, request_id)
            zygote.inflight += 1
            try:
                return await self._run(fn, zygote, cold, env, payload, request_id, client_context,
                                       deadline_ms, invoked_arn, t_start)
            except ZygoteGone:
                if self._zygotes.get(zygote.key) is zygote:
                    del self._zygotes[zygote.key]
                if attempt:
                    raise SandboxUnavailable(f"zygote for {fn.arn} died twice") from None
            finally:
                zygote.inflight -= 1
                zygote.last_used = time.monotonic()
                if (zygote.retired or zygote.dead) and zygote.inflight == 0:
                    await self._discard(zygote)
        raise AssertionError("unreachable")

    async def _zygote_for(self, fn: FunctionSpec) -> tuple[Zygote, bool]:
        """The function's live zygote, starting it (once, however many callers wait) if needed."""
        key = zygote_key(fn)
        zygote = self._zygotes.get(key)
        if zygote is not None and zygote.proc is not None and zygote.proc.returncode is not None:
            zygote.dead = True  # bwrap exited: the zygote was killed from outside (or crashed)
        if zygote is not None and not zygote.dead:
            return zygote, False
        if zygote is not None and zygote.inflight == 0:
            del self._zygotes[key]
            self._background(self._discard(zygote), None)
        task = self._starting.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._start_zygote(fn, key))
            self._starting[key] = task
            task.add_done_callback(lambda _t: self._starting.pop(key, None))
            zygote = await asyncio.shield(task)
            return zygote, True
        return await asyncio.shield(task), False

    async def _start_zygote(self, fn: FunctionSpec, key: str) -> Zygote:
        for source in (fn.code_dir, fn.rootfs):
            if (blocked := blocked_for_sandbox(source)) is not None:
                raise SandboxUnavailable(f"{blocked} is not readable by the sandbox uid (needs o+rx): "
                                         f"cannot mount {source}")
        zygote = Zygote(key=key, arn=fn.arn, fn_rel=f"tr-f-{key[:10]}-{next(self._ids)}", cgroups=self.cgroups,
                        uid=self.uid, gid=self.gid, log_stream=log_stream_name(fn.version))
        env = function_env(fn, region=self.region, endpoint_url=self.endpoint_url, log_stream=zygote.log_stream)
        try:
            outcome = await zygote.start(fn, env, self.init_timeout_s, self.bwrap,
                                         self._relay.directory if self._relay else None)
        except OSError as e:
            await zygote.kill()
            await zygote.remove_cgroups()
            raise SandboxUnavailable(f"cannot start the sandbox of {fn.arn}: {e}") from e
        if outcome.error:
            await zygote.remove_cgroups()
        else:
            self._zygotes[key] = zygote
        return zygote

    async def _discard(self, zygote: Zygote) -> None:
        await zygote.kill()
        await asyncio.gather(*zygote.tasks, return_exceptions=True)
        while zygote.ready:
            zygote.ready.popleft().close()
        await zygote.remove_cgroups()

    def _init_failure(self, fn: FunctionSpec, zygote: Zygote, request_id: str) -> InvocationResult:
        """Init failed: AWS answers the pending invocation with the init error and retries Init next time."""
        error = dict(zygote.init.error)
        error_type = error.get("errorType")
        init_ms = zygote.init.init_ms
        logs = [*zygote.init.log, report.start_line(request_id, fn.version), report.end_line(request_id),
                report.report_line(request_id, duration_ms=init_ms, billed_ms=report.billed_ms(init_ms, None, False),
                                   memory_mb=fn.memory_mb, max_used_mb=0, status="error", error_type=error_type)]
        return InvocationResult(payload=json.dumps(error).encode(), function_error="Unhandled",
                                log_tail=report.log_tail(logs), logs=logs, duration_ms=round(init_ms, 2),
                                billed_ms=report.billed_ms(init_ms, None, False), max_memory_mb=0,
                                init_duration_ms=None, timed_out=False, error_type=error_type,
                                memory_size_mb=fn.memory_mb, log_stream_name=zygote.log_stream)

    # ------------------------------------------------------------------------------ ready sandboxes

    def _build(self, zygote: Zygote, fn: FunctionSpec) -> ReadySandbox:
        """Blocking: an invocation cgroup, a request socket and two pipes; the zygote builds the sandbox
        in them and leaves it waiting, confined, for one request."""
        inv_rel = f"{zygote.fn_rel}/tr-i-{next(self._ids)}"
        memory = max(MIN_INVOCATION_MEMORY, fn.memory_mb * MIB - zygote.baseline_bytes)
        self.cgroups.ensure_invocation(inv_rel, memory, self.uid,
                                       cpu_vcpus(fn.memory_mb) if self.cpu_limit else None)
        host_end, sandbox_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        log_r, log_w = os.pipe2(os.O_CLOEXEC)
        header = {"cgroup": inv_rel.rsplit("/", 1)[1], "tmp_mb": fn.ephemeral_mb,
                  "join": self.cgroups.invocation_controllers(), "join_late": self.cgroups.late_controllers(),
                  "endpoint_port": self._endpoint_port}
        try:
            zygote.send(header, [sandbox_end.fileno(), result_w, log_w])
        except BaseException:
            host_end.close()
            os.close(result_r)
            os.close(log_r)
            self.cgroups.remove(inv_rel)
            raise
        finally:
            sandbox_end.close()
            os.close(result_w)
            os.close(log_w)
        sandbox = ReadySandbox(inv_rel, host_end, result_r, log_r)
        if fn.vpc_eni:
            try:
                sandbox.address = self._plug(inv_rel, fn.vpc_eni)
            except BaseException:
                self._abandon(sandbox)
                raise
        return sandbox

    def _plug(self, inv_rel: str, eni_id: str) -> str:
        """Blocking: a VPC function's sandbox gets its `eth0` into the function's Hyperplane ENI, before it
        can receive its request. The sandbox's first process (the keeper, whose parent is the zygote, outside
        the invocation cgroup) is the one whose namespace gets the link."""
        deadline = time.monotonic() + hyperplane.PLUG_TIMEOUT_S
        while True:
            pids = set(self.cgroups.procs(inv_rel))
            keeper = next((p for p in pids if _parent(p) not in pids), None)
            if keeper is not None:
                break
            if time.monotonic() > deadline:
                raise SandboxUnavailable(f"the sandbox {inv_rel} did not start")
            time.sleep(0.0005)
        try:
            return hyperplane.plug_sandbox(eni_id, keeper)
        except (NotFound, RealiseError) as e:
            raise SandboxUnavailable(f"cannot connect the sandbox to {eni_id}: {e}") from e

    def _abandon(self, sandbox: ReadySandbox) -> None:
        """Blocking: an unused ready sandbox goes away (its request socket closes; its cgroup is killed)."""
        sandbox.close()
        self.cgroups.remove(sandbox.inv_rel)

    async def _take(self, zygote: Zygote, fn: FunctionSpec) -> ReadySandbox:
        """A ready sandbox for this invocation (built now if none is waiting); then top the pool up to
        `warm_sandboxes`, or to the function's current concurrency if higher (at most MAX_WARM)."""
        sandbox = zygote.ready.popleft() if zygote.ready else await asyncio.to_thread(self._build, zygote, fn)
        target = min(MAX_WARM, max(self.warm_sandboxes, zygote.inflight)) if self.warm_sandboxes else 0
        missing = target - len(zygote.ready) - zygote.filling
        for _ in range(max(0, missing)):
            zygote.filling += 1
            self._background(self._fill(zygote, fn), zygote)
        return sandbox

    async def _fill(self, zygote: Zygote, fn: FunctionSpec) -> None:
        try:
            sandbox = await asyncio.to_thread(self._build, zygote, fn)
        except ZygoteGone:
            return
        finally:
            zygote.filling -= 1
        if zygote.dead or zygote.retired:
            await asyncio.to_thread(self._abandon, sandbox)
        else:
            zygote.ready.append(sandbox)

    @staticmethod
    def _send_request(sandbox: ReadySandbox, header: dict, payload: bytes) -> None:
        """Blocking: the event in a memfd and the request header, to the sandbox's own socket. If the
        sandbox died while being built, its result pipe says why."""
        event = os.memfd_create("event", os.MFD_CLOEXEC)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(event, view):]
            os.lseek(event, 0, os.SEEK_SET)
            socket.send_fds(sandbox.channel, [json.dumps(header).encode()], [event])
        except OSError:
            pass
        finally:
            os.close(event)
            sandbox.channel.close()

    def _background(self, coro, zygote: Zygote | None) -> None:
        """Work off the response path (pool refills, cgroup removal, discarding a dead zygote). close()
        awaits all of it; _discard() awaits what belongs to its zygote."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        if zygote is not None:
            zygote.tasks.add(task)
            task.add_done_callback(zygote.tasks.discard)

    async def _kill_until_closed(self, inv_rel: str, closed: asyncio.Future) -> None:
        """SIGKILL the invocation's cgroup until its pipes close. Repeated, because a keeper that was
        still being forked when the deadline fired joins the cgroup only afterwards."""
        give_up = time.monotonic() + KILL_GRACE_S
        while not closed.done() and time.monotonic() < give_up:
            await asyncio.to_thread(self.cgroups.kill, inv_rel)
            try:
                await asyncio.wait_for(asyncio.shield(closed), 0.05)
            except asyncio.TimeoutError:
                pass

    def _kill_and_measure(self, inv_rel: str) -> tuple[int, bool]:
        """Blocking: one SIGKILL pass over the invocation's cgroup (the handler process is its pid
        namespace's init, so the kernel takes the rest down with it), then peak and OOM counter."""
        self.cgroups.signal_all(inv_rel)
        return self._measure(inv_rel)

    def _measure(self, inv_rel: str) -> tuple[int, bool]:
        """Blocking: peak and OOM counter. Final once the pipes are closed: the handler is gone."""
        return self.cgroups.peak_bytes(inv_rel), self.cgroups.oom_killed(inv_rel)

    async def _retire(self, inv_rel: str, drains: tuple[_Drain, ...], closed: asyncio.Future,
                      timed_out: bool) -> None:
        """After the response: let the keeper exit (or kill it), then remove the cgroup. A timed-out
        sandbox is killed until its pipes close (a keeper still being built joins its cgroup late)."""
        try:
            await asyncio.wait_for(asyncio.shield(closed), 0 if timed_out else KILL_GRACE_S)
        except asyncio.TimeoutError:
            await self._kill_until_closed(inv_rel, closed)
        for drain in drains:
            drain.close()
        await asyncio.to_thread(self._remove_when_empty, inv_rel)

    def _remove_when_empty(self, inv_rel: str) -> None:
        """Blocking: wait for the last exiting process, then remove the cgroup."""
        if not self.cgroups.wait_empty(inv_rel, KILL_GRACE_S):
            self.cgroups.kill(inv_rel)
        self.cgroups.remove(inv_rel)


    async def _run(self, fn, zygote, cold, env, payload, request_id, client_context, deadline_ms, invoked_arn,
                   t_start):
        sandbox = await self._take(zygote, fn)
        inv_rel = sandbox.inv_rel
        self._running[request_id] = _Running(request_id, fn.arn, fn.version, inv_rel, time.time(), fn.vpc_eni,
                                             sandbox.address)
        try:
            return await self._run_taken(fn, zygote, cold, env, payload, request_id, client_context, deadline_ms,
                                         invoked_arn, t_start, sandbox)
        finally:
            self._running.pop(request_id, None)

    async def _run_taken(self, fn, zygote, cold, env, payload, request_id, client_context, deadline_ms, invoked_arn,
                         t_start, sandbox: ReadySandbox) -> InvocationResult:
        inv_rel = sandbox.inv_rel
        now_ms = time.time() * 1000
        deadline_ms = int(deadline_ms if deadline_ms is not None else now_ms + fn.timeout_s * 1000)
        header = {"request_id": request_id, "invoked_arn": invoked_arn, "deadline_ms": deadline_ms,
                  "client_context": client_context, "env": env}
        result_drain = _Drain(sandbox.result_r, MAX_RESPONSE_BYTES + 2 * MAX_LOG_BYTES)
        log_drain = _Drain(sandbox.log_r, MAX_LOG_BYTES)
        t_send = time.monotonic()
        await asyncio.to_thread(self._send_request, sandbox, header, payload)
        timed_out = False
        remaining_s = max(0.0, deadline_ms / 1000 - time.time())
        both = asyncio.gather(result_drain.done, log_drain.done)
        settled = asyncio.get_running_loop().create_future()

        t_result: list[float] = []

        def settle(*_) -> None:
            """The outcome is known once the result record is in and the handler's output has ended
            (the keeper's exit record and namespace teardown can follow after the response), or
            when the result pipe closes without a result (a crash or an OOM kill)."""
            if settled.done():
                return
            if not t_result and _has_result(result_drain.buf):
                t_result.append(time.monotonic())
            if result_drain.done.done() or (t_result and log_drain.done.done()):
                settled.set_result(None)

        result_drain.on_chunk = settle
        result_drain.done.add_done_callback(settle)
        log_drain.done.add_done_callback(settle)
        try:
            await asyncio.wait_for(asyncio.shield(settled), remaining_s)
        except asyncio.TimeoutError:
            timed_out = True
        t_done, wall_done = time.monotonic(), time.time()
        if timed_out:
            # SIGKILL everything now and answer at once; reaping and cgroup removal follow in _retire.
            peak, oom = await asyncio.to_thread(self._kill_and_measure, inv_rel)
        else:
            if not log_drain.done.done():
                try:
                    await asyncio.wait_for(asyncio.shield(log_drain.done), KILL_GRACE_S)
                except asyncio.TimeoutError:
                    await self._kill_until_closed(inv_rel, both)
            peak, oom = await asyncio.to_thread(self._measure, inv_rel)
        output = log_drain.snapshot()
        results = result_drain.snapshot()
        self._background(self._retire(inv_rel, (result_drain, log_drain), both, timed_out), zygote)
        if not timed_out and not results.data and not output.data and await asyncio.to_thread(
                lambda: not self.cgroups.procs(zygote.zygote_rel)):
            zygote.dead = True  # the sandbox vanished without a word because its zygote was killed
            raise ZygoteGone(zygote.key)
        host_ms = ((t_result[0] if t_result else t_done) - t_send) * 1000
        return self._result(fn, zygote, cold, request_id, results, output, peak, oom, timed_out,
                            host_ms=host_ms, elapsed_s=t_done - t_start, wall_done=wall_done)

    def _result(self, fn, zygote, cold, request_id, results: _Drained, output: _Drained, peak: int, oom: bool,
                timed_out: bool, host_ms: float, elapsed_s: float, wall_done: float) -> InvocationResult:
        rec = _parse_records(results.data)
        init_ms = zygote.init.init_ms if cold else None
        logs = list(zygote.init.log) if cold else []
        logs.append(report.start_line(request_id, fn.version))
        wall_start = wall_done - elapsed_s
        times = [wall_start] * len(logs) + report.line_times(output.data, output.marks, wall_done)
        logs += report.split_output(output.data)
        if output.truncated:
            logs.append(f"[Terrarium] {output.truncated} bytes of output dropped (log limit {MAX_LOG_BYTES})")
        logs += rec.error_logs
        status = error_type = None
        function_error = None
        if timed_out:
            duration_ms = fn.timeout_s * 1000.0
            payload = report.timeout_payload(request_id, fn.timeout_s)
            logs.append(report.timeout_log_line(request_id, elapsed_s))
            function_error, status, error_type = "Unhandled", "timeout", "Sandbox.Timedout"
        elif rec.result is not None:
            duration_ms = max(0.0, min(rec.result["duration_ns"] / 1e6, host_ms))
            payload = rec.body
            if not rec.result["ok"]:
                function_error = "Unhandled"
                error_type = json.loads(payload).get("errorType")
            elif (size := rec.result.get("len", 0)) > MAX_RESPONSE_BYTES:
                payload = report.response_too_large_payload(size, MAX_RESPONSE_BYTES)
                function_error, error_type = "Unhandled", "Function.ResponseSizeTooLarge"
        else:
            duration_ms = host_ms
            error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
            reason = rec.setup_error if rec.setup_error else report.exit_reason(
                rec.exit_status if rec.exit_status is not None else (-9 if oom else None))
            if rec.setup_error:
                error_type = "Sandbox.SetupError"
            payload = report.exit_payload(request_id, error_type, reason)
            logs.append(f"RequestId: {request_id} Error: {reason}\n{error_type}")
            function_error, status = "Unhandled", "error"
        max_used = min(fn.memory_mb, math.ceil((zygote.baseline_bytes + peak) / MIB))
        billed = report.billed_ms(duration_ms, init_ms, self.bill_init)
        logs.append(report.end_line(request_id))
        logs.append(report.report_line(request_id, duration_ms=duration_ms, billed_ms=billed,
                                       memory_mb=fn.memory_mb, max_used_mb=max_used, init_ms=init_ms,
                                       status=status, error_type=error_type if status == "error" else None))
        return InvocationResult(payload=payload, function_error=function_error, log_tail=report.log_tail(logs),
                                logs=logs, duration_ms=round(duration_ms, 2), billed_ms=billed,
                                max_memory_mb=max_used, init_duration_ms=round(init_ms, 2) if cold else None,
                                timed_out=timed_out, error_type=error_type, memory_size_mb=fn.memory_mb,
                                log_stream_name=zygote.log_stream,
                                log_times=tuple(int(t * 1000) for t in
                                                times + [wall_done] * (len(logs) - len(times))))

    # ------------------------------------------------------------------------------------------ idle

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.idle_ttl_s / 2))
            now = time.monotonic()
            for key, zygote in list(self._zygotes.items()):
                if zygote.inflight == 0 and now - zygote.last_used > self.idle_ttl_s:
                    del self._zygotes[key]
                    await self._discard(zygote)

    async def activity(self) -> dict:
        """Execution environments (one per zygote: function, version, pid, memory held, warm sandboxes) and
        in-flight invocations (request id, function, start, the processes in the invocation's cgroup, and for a
        VPC function its Hyperplane ENI and address), for `terrarium ps`."""
        zygotes = list(self._zygotes.values())
        running = list(self._running.values())

        def measure():
            return ([self.cgroups.usage_bytes(z.fn_rel) for z in zygotes],
                    [self.cgroups.procs(r.inv_rel) for r in running])
        sizes, pids = await asyncio.to_thread(measure)
        environments = [{"FunctionArn": z.arn, "LogStream": z.log_stream, "Pid": z.proc.pid if z.proc else None,
                         "MemoryBytes": size, "Inflight": z.inflight, "WarmSandboxes": len(z.ready)}
                        for z, size in zip(zygotes, sizes)]
        invocations = [{"RequestId": r.request_id, "FunctionArn": r.arn, "Version": r.version,
                        "StartedAt": r.started, "Pids": procs, "NetworkInterfaceId": r.eni, "Address": r.address}
                       for r, procs in zip(running, pids)]
        return {"environments": environments, "invocations": invocations}

    def zygote_count(self) -> int:
        return len(self._zygotes)

    async def idle_memory_bytes(self) -> dict[str, int]:
        """Host memory each live function holds between invocations (zygote + ready sandboxes), from
        its cgroup: what an idle function costs the host."""
        zygotes = list(self._zygotes.values())
        sizes = await asyncio.to_thread(lambda: [self.cgroups.usage_bytes(z.fn_rel) for z in zygotes])
        return {z.arn: size for z, size in zip(zygotes, sizes)}


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("PPid:")), None)
    except OSError:
        return None


def _resolve_user(user: int | str) -> tuple[int, int]:
    if isinstance(user, int):
        try:
            return user, pwd.getpwuid(user).pw_gid
        except KeyError:
            return user, user
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
