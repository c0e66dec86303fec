"""Named network namespaces and running code inside one.

`run_in` executes a function on a short-lived thread that has `setns()`'d into the namespace: netlink
sockets it opens and `/proc/sys/net` it writes belong to that namespace, without pyroute2's forking
`IPRoute(netns=)` (network.md §2.6, §4.7: ~10 ms a call and unsafe in threaded programs). `setns` is
per thread, so the caller's own namespace never changes.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from pyroute2 import netns as _netns

from runtime.errors import NotFound

from . import naming

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def exists(name: str) -> bool:
    return os.path.exists(naming.netns_path(name))


def list_names() -> list[str]:
    return list(_netns.listnetns())


def create(name: str) -> bool:
    """Create the named namespace; True if it was created, False if it already existed.

    A short-lived thread `unshare()`s a new network namespace (per thread, like `setns`) and it is
    bind-mounted under /run/netns by name. pyroute2's own `netns.create` forks the interpreter,
    which is unsafe in the threaded server (network.md §2.6).
    """
    if exists(name):
        return False

    def body() -> None:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
        _netns.attach(name, "thread-self")

    _on_thread(body)
    return True


def remove(name: str) -> None:
    """Delete the named namespace; a missing one is fine."""
    if exists(name):
        _netns.remove(name)


def target_path(target: str | int) -> str:
    """A namespace given as a pid, a /proc or bind-mount path, or one of our names."""
    if isinstance(target, int):
        return f"/proc/{target}/ns/net"
    return target if target.startswith("/") else naming.netns_path(target)


def _on_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a fresh thread (whose namespace changes die with it); return or raise its outcome."""
    box: dict[str, object] = {}

    def body() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=body, name="tr-netns")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def run_in(path: str, fn: Callable[[], T]) -> T:
    """Run `fn()` in the network namespace at `path` and return its result (or raise its exception)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NotFound(f"no network namespace at {path}") from exc

    def body() -> T:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
        return fn()

    try:
        return _on_thread(body)
    finally:
        os.close(fd)


def write_sysctls(values: dict[str, str]) -> None:
    """Write `net.*` sysctls of the calling thread's namespace (call through `run_in`).

    Keys are dotted (`net.ipv4.ip_forward`) or, when a component such as an interface name may
    contain dots, already slashed (`net/ipv6/conf/eth0.5/disable_ipv6`).
    """
    for key, value in values.items():
        with open("/proc/sys/" + (key if "/" in key else key.replace(".", "/")), "w") as f:
            f.write(value)
