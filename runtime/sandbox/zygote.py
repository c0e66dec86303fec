"""Terrarium's in-sandbox runner: one fork-server ("zygote") per function version.

Runs inside bubblewrap as the unprivileged sandbox uid, with the Python of the function's rootfs, so it
imports nothing but the standard library (it is bind-mounted at /var/runtime/terrarium, never installed).

Life cycle:
  1. Init: import the handler module once (AWS's Init phase), with stdout/stderr captured into a memfd.
     Report `{"kind": "ready", "init_ms", "init_log", "init_error"}` on the control socket (stdin).
     An init error is reported and the zygote exits: the host retries Init on the next invocation.
  2. Serve: each control message asks for one sandbox: a JSON header (cgroup, /tmp size, endpoint port)
     plus three fds (a request socket, the result pipe, the log pipe). The zygote forks; the child builds a
     fresh sandbox and the zygote goes straight back to `recvmsg`, so sandboxes are built concurrently.
     A built sandbox waits, fully confined, for exactly one request on its request socket (a JSON header
     plus the event as a memfd), so the host can keep a few ready ahead of the invocations that will use
     them; an unused sandbox sees its socket close and exits.

Per invocation (child of the zygote, "keeper"):
  join the invocation's memory and pids cgroups (created and chowned by the host) → unshare user, mount,
  pid, ipc, uts and net namespaces (the nested user namespace gives the capabilities to mount, over nothing
  but these new namespaces) → private fresh /tmp tmpfs of EphemeralStorage size → fork the handler process,
  PID 1 of the new pid namespace → wait for it and report its exit status.
Handler process: mount its own /proc, join the cpu cgroup (the CPU cap is for the handler, not for
building the sandbox), hide /run/cg, drop every capability, set no_new_privs, then wait for the request,
run the handler with AWS's environment and context object and write the result record.

Records on the result pipe, each a JSON header line optionally followed by `len` raw bytes:
  {"kind": "result", "ok": bool, "duration_ns": int, "len": n}  + payload (result JSON or AWS error JSON)
  {"kind": "log", "len": n}                                     + one log event (AWS error log entry)
  {"kind": "setup_error", "message": str}
  {"kind": "exit", "status": int}   (keeper: the handler process's exit code, negative = signal)
When the handler process (pid-namespace init) exits, the kernel kills whatever it left behind.
"""

from __future__ import annotations

import ctypes
import fcntl
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import struct
import sys
import time
import traceback

CTRL_FD = 0  # the control socket is the zygote's stdin
CG_MOUNT = "/run/cg"
ENDPOINT_SOCKET = "/run/terrarium/endpoint.sock"
RUNNER_FILE = os.path.abspath(__file__)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_request_id = ""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _mount(source: str, target: str, fstype: str, flags: int, data: str | None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                       ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _record(fd: int, header: dict, body: bytes = b"") -> None:
    if body:
        header = {**header, "len": len(body)}
    _write_all(fd, json.dumps(header).encode() + b"\n" + body)


def _loopback_up() -> None:
    """A new network namespace has `lo` down; AWS sandboxes have it up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _drop_capabilities() -> None:
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)
    _check(_libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


# ---------------------------------------------------------------------------------------------- errors

class _Fault(Exception):
    """A runtime-classified failure (AWS `Runtime.*` error types)."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def make_error(message: str, error_type: str, trace: list[str], request_id: str) -> dict:
    return {"errorMessage": message or "", "errorType": error_type or "", "requestId": request_id,
            "stackTrace": trace}


def _user_trace(tb) -> list[str]:
    """The stack trace as awslambdaric reports it: plain (file, line, name, text) frames, so no caret
    lines, with the runner's own leading frames removed."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] != RUNNER_FILE:
            frames = frames[i:]
            break
    return traceback.format_list(frames)


def error_log_entry(error: dict) -> str:
    """awslambdaric's text-format error log: one event, indentation turned into no-break spaces."""
    head = "[ERROR]"
    if error.get("errorType"):
        head += " " + error["errorType"]
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    return "\n".join(lines)


def load_handler(handler: str):
    """awslambdaric's `_get_handler`: the same fault types and messages."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        raise _Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}",
                     ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'") from None


# --------------------------------------------------------------------------------------------- context

class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, data: dict | None) -> None:
        data = data or {}
        self.cognito_identity_id = data.get("cognitoIdentityId")
        self.cognito_identity_pool_id = data.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, data: dict) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, data: dict) -> None:
        self.client = Client(data["client"]) if data.get("client") else None
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The handler's `context`, attribute for attribute as awslambdaric's."""

    def __init__(self, request_id: str, arn: str, deadline_ms: int, client_context: dict | None,
                 identity: dict | None) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.identity = CognitoIdentity(identity)
        self.client_context = ClientContext(client_context) if client_context else None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: str) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn}])")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


def _setup_logging() -> None:
    """The Python runtime's root log handler: `[LEVEL]\\t<UTC time>\\t<request id>\\t<message>`."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


# ------------------------------------------------------------------------------------------ invocation

def _run_handler(handler, req: dict, event_fd: int, result_fd: int) -> None:
    global _request_id
    request_id = req["request_id"]
    _request_id = request_id
    os.environ.clear()
    os.environ.update(req["env"])
    with os.fdopen(event_fd, "rb") as f:
        raw = f.read()
    t0 = time.monotonic_ns()
    try:
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
        client_context = json.loads(req["client_context"]) if req.get("client_context") else None
        context = LambdaContext(request_id, req["invoked_arn"], req["deadline_ms"], client_context,
                                req.get("identity"))
        result = handler(event, context)
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as e:
            raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {e}") from None
        ok = True
    except _Fault as e:
        error = make_error(e.message, e.error_type, e.trace, request_id)
        body, ok = json.dumps(error).encode(), False
    except Exception as e:
        error = make_error(str(e), type(e).__name__, _user_trace(e.__traceback__), request_id)
        body, ok = json.dumps(error).encode(), False
    duration = time.monotonic_ns() - t0
    sys.stdout.flush()
    sys.stderr.flush()
    if not ok:
        _record(result_fd, {"kind": "log"}, error_log_entry(json.loads(body)).encode())
    _record(result_fd, {"kind": "result", "ok": ok, "duration_ns": duration}, body)


def _handler_process(handler, req: dict, request_fd: int, result_fd: int, log_fd: int) -> None:
    """Finish the sandbox, then wait (fully confined) for the one request this sandbox will ever run."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    for name in req.get("join_late", ()):
        _write(f"{CG_MOUNT}/{name}/{req['cgroup']}/cgroup.procs", "0")
    _mount("tmpfs", CG_MOUNT, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    os.chdir(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"))
    _drop_capabilities()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    channel = socket.socket(fileno=request_fd)
    msg, fds, _, _ = socket.recv_fds(channel, 1 << 20, 1)
    channel.close()
    if not msg or not fds:
        os._exit(0)  # the host discarded this ready sandbox unused
    os.set_inheritable(result_fd, False)  # the handler's subprocesses inherit stdout/stderr, not this
    _run_handler(handler, {**req, **json.loads(msg)}, fds[0], result_fd)


def _keeper(handler, req: dict, request_fd: int, result_fd: int, log_fd: int) -> None:
    """The invocation's first process: build the namespaces, start the handler process, report its end."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, CTRL_FD)
    os.close(devnull)
    try:
        for name in req["join"]:
            _write(f"{CG_MOUNT}/{name}/{req['cgroup']}/cgroup.procs", "0")
        uid, gid = os.getuid(), os.getgid()
        _unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        _mount("none", "/", "", MS_REC | MS_PRIVATE, None)
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={req['tmp_mb']}m,mode=1777")
        _loopback_up()
        listener = _endpoint_listener(req.get("endpoint_port"))
        pid = os.fork()
    except BaseException as e:
        _record(result_fd, {"kind": "setup_error", "message": f"{type(e).__name__}: {e}"})
        os._exit(127)
    if pid == 0:
        code = 0
        try:
            if listener is not None:
                listener.close()
            _handler_process(handler, req, request_fd, result_fd, log_fd)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:
            _record(result_fd, {"kind": "setup_error", "message": f"{type(e).__name__}: {e}"})
            code = 127
        os._exit(code)
    os.close(request_fd)
    os.close(log_fd)
    if listener is not None:
        _relay_until_exit(pid, listener)
    _, status = os.waitpid(pid, 0)
    _record(result_fd, {"kind": "exit", "status": os.waitstatus_to_exitcode(status)})
    os._exit(0)


def _endpoint_listener(port: int | None) -> socket.socket | None:
    """Terrarium's API at 127.0.0.1:<port> inside the invocation's network namespace (see endpoint.py)."""
    if not port:
        return None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    return listener


def _relay_until_exit(pid: int, listener: socket.socket) -> None:
    """The keeper's loop while the handler runs: relay each connection to the host's endpoint socket,
    return when the handler process exits (its pidfd becomes readable)."""
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ, None)
    sel.register(listener, selectors.EVENT_READ, listener)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                return
            if key.data is listener:
                conn, _ = listener.accept()
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    upstream.connect(ENDPOINT_SOCKET)
                except OSError:
                    conn.close()
                    upstream.close()
                    continue
                for a, b in ((conn, upstream), (upstream, conn)):
                    a.settimeout(30)
                    sel.register(a, selectors.EVENT_READ, b)
                continue
            src, dst = key.fileobj, key.data
            try:
                data = src.recv(1 << 16)
                if data:
                    dst.sendall(data)
                    continue
            except OSError:
                pass
            for sock in (src, dst):
                try:
                    sel.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()


# -------------------------------------------------------------------------------------------- zygote

def _init(handler_name: str):
    """The Init phase: import the handler with stdout/stderr captured. Returns (handler | _Fault, log)."""
    capture = os.memfd_create("init-log")
    saved = os.dup(1), os.dup(2)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    try:
        handler = load_handler(handler_name)
    except _Fault as e:
        handler = e
    except Exception as e:
        handler = _Fault(type(e).__name__, str(e), _user_trace(e.__traceback__))
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(saved[0], 1)
    os.dup2(saved[1], 2)
    os.lseek(capture, 0, os.SEEK_SET)
    with os.fdopen(capture, "rb") as f:
        log = f.read(1 << 16).decode(errors="replace")
    return handler, log


def main() -> None:
    handler_name = sys.argv[1]
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(RUNNER_FILE)]
    layers = [f"/opt/python/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages", "/opt/python"]
    sys.path[:0] = [os.environ.get("LAMBDA_TASK_ROOT", "/var/task")] + [p for p in layers if os.path.isdir(p)]
    sys.stdout.reconfigure(line_buffering=True, write_through=True)
    sys.stderr.reconfigure(line_buffering=True, write_through=True)
    _setup_logging()
    ctrl = socket.socket(fileno=CTRL_FD)
    t0 = time.monotonic_ns()
    handler, init_log = _init(handler_name)
    init_ms = (time.monotonic_ns() - t0) / 1e6
    init_error = None
    if isinstance(handler, _Fault):
        init_error = make_error(handler.message, handler.error_type, handler.trace, "")
        init_log += error_log_entry(init_error) + "\n"
    ctrl.send(json.dumps({"kind": "ready", "init_ms": init_ms, "init_log": init_log,
                          "init_error": init_error}).encode())
    if init_error:
        os._exit(1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 3)
        if not msg:
            os._exit(0)
        req = json.loads(msg)
        if os.fork() == 0:
            try:
                _keeper(handler, req, *fds)
            finally:
                os._exit(126)
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    main()
