"""The bubblewrap command line that starts a zygote, and the environment AWS gives a function.

The sandbox's root is a tmpfs that bwrap remounts read-only once it is assembled: each top-level entry of
the runtime's rootfs is bind-mounted read-only into it (symlinks recreated), `/var` and `/var/runtime` are
rebuilt the same way so that /var/task (the code) and /var/runtime/terrarium (the runner) can be mounted
into a read-only image without writing to it. `/tmp` is writable; nothing else is.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from pathlib import Path

from runtime.sandbox.ports import FunctionSpec

RUNNER_FILE = Path(__file__).resolve().parent / "zygote.py"
RUNNER_MOUNT = "/var/runtime/terrarium"
HOST_ROOT_ENTRIES = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc")
SKIP_TOP = {"proc", "dev", "sys", "tmp", "run", "var", "mnt", "media", "home", "root", "boot", "lost+found",
            ".dockerenv", ".terrarium-complete", "srv"}
PYTHON_CANDIDATES = ("var/lang/bin/python3", "usr/local/bin/python3", "usr/bin/python3")
DEFAULT_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"


def _mirror(src_dir: Path, dest: str, skip: set[str]) -> list[str]:
    """Bind every entry of `src_dir` read-only at `dest/<entry>`; symlinks are recreated as symlinks."""
    args: list[str] = []
    for entry in sorted(os.scandir(src_dir), key=lambda e: e.name):
        if entry.name in skip:
            continue
        target = f"{dest.rstrip('/')}/{entry.name}"
        if entry.is_symlink():
            args += ["--symlink", os.readlink(entry.path), target]
        elif entry.is_dir() or entry.is_file():
            args += ["--ro-bind", entry.path, target]
    return args


def root_args(rootfs: Path) -> list[str]:
    """Bind mounts that reproduce `rootfs` read-only, leaving /var/task and /var/runtime/terrarium free.

    `Path("/")` means the host's own system directories only (usr, bin, lib*, sbin, etc): never /home,
    /root, /var or the project tree."""
    if rootfs == Path("/"):
        args = []
        for name in HOST_ROOT_ENTRIES:
            p = Path("/") / name
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), f"/{name}"]
            elif p.is_dir():
                args += ["--ro-bind", str(p), f"/{name}"]
        return args + ["--dir", "/var", "--dir", "/var/runtime"]
    args = _mirror(rootfs, "/", SKIP_TOP)
    args += ["--dir", "/var"]
    if (rootfs / "var").is_dir():
        args += _mirror(rootfs / "var", "/var", {"task", "runtime", "tmp", "run", "lock"})
    args += ["--dir", "/var/runtime"]
    if (rootfs / "var" / "runtime").is_dir():
        args += _mirror(rootfs / "var" / "runtime", "/var/runtime", {"terrarium"})
    return args


def blocked_for_sandbox(path: Path) -> Path | None:
    """bwrap resolves its bind sources as the unprivileged sandbox uid: every directory on the way must
    be searchable by others, and the directory itself listable. Returns the first one that is not."""
    path = Path(path).resolve()
    for component in [*reversed(path.parents), path]:
        mode = component.stat().st_mode
        if not mode & stat.S_IXOTH or (component == path and not mode & stat.S_IROTH):
            return component
    return None


def python_in(rootfs: Path) -> str:
    """The runtime's Python interpreter, as a path inside the sandbox."""
    for candidate in PYTHON_CANDIDATES:
        if (rootfs / candidate).exists():
            return "/" + candidate
    raise FileNotFoundError(f"no python3 in rootfs {rootfs}")


def log_stream_name(version: str, now: float | None = None) -> str:
    """A new execution environment's log stream: `YYYY/MM/DD/[$LATEST]<32 hex>`."""
    day = time.strftime("%Y/%m/%d", time.gmtime(now))
    return f"{day}/[{version}]{uuid.uuid4().hex}"


def function_env(fn: FunctionSpec, *, region: str, endpoint_url: str | None, log_stream: str = "") -> dict[str, str]:
    """The environment AWS gives a Python function: the user's variables, then the reserved ones."""
    stream = log_stream
    env = {
        "PATH": DEFAULT_PATH,
        "LANG": "en_US.UTF-8",
        "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        "PYTHONPATH": "/var/runtime",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        **fn.environment,
        "_HANDLER": fn.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TZ": ":UTC",
    }
    creds = fn.role_credentials or {}
    if creds:
        env["AWS_ACCESS_KEY"] = env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
        env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
        if creds.get("SessionToken"):
            env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def bwrap_argv(fn: FunctionSpec, *, cgroup_dirs: dict[str, Path], bwrap: str = "bwrap",
               endpoint_dir: Path | None = None) -> list[str]:
    """The zygote's command line. bwrap itself runs as the unprivileged sandbox uid (never root), so
    its user namespace maps that uid to itself and the zygote holds no capability at all. The function's
    environment is bwrap's own environment, never its arguments: argv is world-readable in /proc and
    the environment holds the role's credentials."""
    argv = [bwrap, "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "localhost"]
    argv += root_args(fn.rootfs)
    argv += ["--ro-bind", str(fn.code_dir), "/var/task",
             "--ro-bind", str(RUNNER_FILE), f"{RUNNER_MOUNT}/zygote.py",
             "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/run"]
    for name, host_dir in cgroup_dirs.items():
        argv += ["--bind", str(host_dir), f"/run/cg/{name}"]
    if endpoint_dir is not None:
        argv += ["--ro-bind", str(endpoint_dir), "/run/terrarium"]
    argv += ["--remount-ro", "/", "--chdir", "/var/task",
             python_in(fn.rootfs), "-B", f"{RUNNER_MOUNT}/zygote.py", fn.handler]
    return argv
