"""Per-function and per-invocation cgroups, on cgroup v1 (separate controller hierarchies) or v2.

Layout, under every controller used (v1) or the unified tree (v2):
    <root>/                 e.g. tr-lambda, owned by one SandboxManager
      <fn>/                 tr-f-<hash>: bind-mounted into that function's zygote at /run/cg/<name>
        zygote              the zygote's processes; memory limit = MemorySize (bounds Init), no CPU cap
        <inv>               tr-i-<n>: one invocation: memory limit, pids.max 1024, CPU cap of
                            MemorySize/1769 vCPU; cgroup.procs chowned to the sandbox uid by the host, so
                            the sandbox joins memory and pids itself before its first allocation, and cpu
                            once it is built (the cap is for the handler, not for building the sandbox)
Invocation cgroups are siblings of the zygote's, never children, so concurrent invocations and Init never
share a limit. Each v1 migration was measured here at up to several ms, which is why sandboxes are built
ahead of their invocation (manager.py): the joins are off the request path.
All functions are synchronous and blocking; callers run them in a thread.
Removal is idempotent: missing directories are fine, processes are killed first.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
V1_OPTIONAL = ("pids", "cpu")
PIDS_MAX = 1024
MB_PER_VCPU = 1769
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    memory_bytes: int | None = None
    pids_max: int | None = None
    cpu_max_vcpus: float | None = None  # hard cap (CFS quota per period)


def cpu_vcpus(memory_mb: int) -> float:
    """AWS's CPU share: 1,769 MB is one vCPU, proportionally below and above."""
    return memory_mb / MB_PER_VCPU


def _cpu_quota_us(vcpus: float) -> int:
    """CFS quota per 100 ms period; the same again may be saved up as burst while the sandbox waits for
    its request, so a short handler runs at full speed and only a sustained one is held to its share."""
    return max(1000, int(CPU_PERIOD_US * vcpus))


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _rmdir(path: Path) -> None:
    for attempt in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or attempt == 49:
                raise
            time.sleep(0.002)


def _stat_field(text: str, key: str) -> int:
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return 0


class Cgroups:
    """The host side of the cgroup layout above. `v1()`/`v2()`/`detect()` pick the hierarchy."""

    version: int

    def __init__(self, root: str) -> None:
        self.root = root

    # -- layout, implemented per version
    def dirs(self, rel: str) -> dict[str, Path]:
        """Controller name → host directory of `<root>/<rel>` (the names the zygote sees under /run/cg)."""
        raise NotImplementedError

    def invocation_controllers(self) -> list[str]:
        """The controller names a sandbox joins first thing (under /run/cg/<name>/<inv>/cgroup.procs)."""
        raise NotImplementedError

    def late_controllers(self) -> list[str]:
        """Controllers the handler process joins once its sandbox is built, just before it waits for its
        request: the CPU cap then applies to the handler, not to building the sandbox."""
        return []

    def _apply(self, rel: str, limits: Limits) -> None:
        raise NotImplementedError

    def peak_bytes(self, rel: str) -> int:
        raise NotImplementedError

    def oom_killed(self, rel: str) -> bool:
        raise NotImplementedError

    def anon_bytes(self, rel: str) -> int:
        raise NotImplementedError

    def usage_bytes(self, rel: str) -> int:
        """Current memory charged to `<root>/<rel>` and everything below it."""
        raise NotImplementedError

    def _procs_file(self, rel: str) -> Path:
        return self.dirs(rel)["memory" if self.version == 1 else "unified"] / "cgroup.procs"

    # -- common operations
    def ensure(self, rel: str, limits: Limits | None = None, owner: int | None = None,
               only: list[str] | None = None) -> None:
        """Create `<root>/<rel>` (parents too) in every controller or `only` those, apply limits, hand
        its cgroup.procs to `owner`. Idempotent."""
        dirs = {k: v for k, v in self.dirs(rel).items() if only is None or k in only}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        self._prepare_parents(rel)
        if limits:
            self._apply(dirs, limits)
        if owner is not None:
            for d in dirs.values():
                os.chown(d / "cgroup.procs", owner, -1)

    def ensure_invocation(self, rel: str, memory_bytes: int, owner: int, cpu_vcpus: float | None) -> None:
        """One invocation: memory limit, 1,024 processes/threads, optionally a CPU cap."""
        self.ensure(rel, Limits(memory_bytes=memory_bytes, pids_max=PIDS_MAX, cpu_max_vcpus=cpu_vcpus), owner,
                    only=self.invocation_controllers() + self.late_controllers())

    def _prepare_parents(self, rel: str) -> None:
        """v2 needs controllers enabled down the tree; v1 needs nothing."""

    def ensure_function(self, rel: str, uid: int) -> None:
        """The per-function parent. On v2, moving a process between two siblings needs write access to
        their common parent's cgroup.procs, so the sandbox uid gets it (the parent itself can hold no
        process: its controllers are enabled for its children). No CPU weight here: a weight below the
        default made a 128 MB function wait behind every other host process; the per-invocation cap is
        AWS's model."""
        self.ensure(rel, owner=uid if self.version == 2 else None)

    def procs(self, rel: str) -> list[int]:
        try:
            return [int(p) for p in _read(self._procs_file(rel)).split()]
        except FileNotFoundError:
            return []

    def signal_all(self, rel: str) -> None:
        """One SIGKILL pass, without waiting for the processes to be gone."""
        for pid in self.procs(rel):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill(self, rel: str, timeout_s: float = 2.0) -> None:
        """SIGKILL every process in the cgroup until it is empty (v1 has no cgroup.kill)."""
        deadline = time.monotonic() + timeout_s
        while pids := self.procs(rel):
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"cgroup {rel} still has processes {pids}")
            time.sleep(0.0005)

    def wait_empty(self, rel: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.procs(rel):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        return True

    def remove(self, rel: str) -> None:
        """Kill what is inside, then remove `<root>/<rel>` and every cgroup below it, deepest first."""
        for d in self.dirs(rel).values():
            if not d.exists():
                continue
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                self._kill_dir(sub)
                _rmdir(sub)
            self._kill_dir(d)
            _rmdir(d)

    @staticmethod
    def _kill_dir(d: Path) -> None:
        for _ in range(4000):
            try:
                pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
            except FileNotFoundError:
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.0005)

    def purge(self) -> None:
        """Remove the whole root: leftovers of a previous run are garbage."""
        self.remove("")


class CgroupsV1(Cgroups):
    version = 1

    def __init__(self, root: str, fs: Path = CGROUP_FS) -> None:
        super().__init__(root)
        self.fs = fs
        self.controllers = ["memory"] + [c for c in V1_OPTIONAL if (fs / c / "cgroup.procs").exists()]

    def dirs(self, rel: str) -> dict[str, Path]:
        return {c: self.fs / c / self.root / rel if rel else self.fs / c / self.root for c in self.controllers}

    def invocation_controllers(self) -> list[str]:
        return ["memory"] + (["pids"] if "pids" in self.controllers else [])

    def late_controllers(self) -> list[str]:
        return ["cpu"] if "cpu" in self.controllers else []

    def _apply(self, d: dict[str, Path], limits: Limits) -> None:
        if "memory" in d and limits.memory_bytes:
            _write(d["memory"] / "memory.limit_in_bytes", str(limits.memory_bytes))
            if (d["memory"] / "memory.memsw.limit_in_bytes").exists():
                _write(d["memory"] / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        if "pids" in d and limits.pids_max:
            _write(d["pids"] / "pids.max", str(limits.pids_max))
        if "cpu" in d and limits.cpu_max_vcpus:
            quota = _cpu_quota_us(limits.cpu_max_vcpus)
            _write(d["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(d["cpu"] / "cpu.cfs_quota_us", str(quota))
            if (d["cpu"] / "cpu.cfs_burst_us").exists():
                _write(d["cpu"] / "cpu.cfs_burst_us", str(quota))

    def peak_bytes(self, rel: str) -> int:
        return int(_read(self.dirs(rel)["memory"] / "memory.max_usage_in_bytes"))

    def oom_killed(self, rel: str) -> bool:
        return _stat_field(_read(self.dirs(rel)["memory"] / "memory.oom_control"), "oom_kill") > 0

    def anon_bytes(self, rel: str) -> int:
        return _stat_field(_read(self.dirs(rel)["memory"] / "memory.stat"), "rss")

    def usage_bytes(self, rel: str) -> int:
        return int(_read(self.dirs(rel)["memory"] / "memory.usage_in_bytes"))


class CgroupsV2(Cgroups):
    version = 2

    def __init__(self, root: str, fs: Path = CGROUP_FS) -> None:
        super().__init__(root)
        self.fs = fs

    def dirs(self, rel: str) -> dict[str, Path]:
        return {"unified": self.fs / self.root / rel if rel else self.fs / self.root}

    def _prepare_parents(self, rel: str) -> None:
        """Enable memory/pids/cpu for the children of every level above `rel` (no processes live there)."""
        path = self.fs / self.root
        parts = [p for p in rel.split("/") if p][:-1]
        for level in [path] + [path.joinpath(*parts[:i + 1]) for i in range(len(parts))]:
            available = set(_read(level / "cgroup.controllers").split())
            wanted = [c for c in ("memory", "pids", "cpu") if c in available]
            enabled = set(_read(level / "cgroup.subtree_control").split())
            if missing := [c for c in wanted if c not in enabled]:
                _write(level / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))

    def invocation_controllers(self) -> list[str]:
        return ["unified"]

    def _apply(self, dirs: dict[str, Path], limits: Limits) -> None:
        d = dirs["unified"]
        if limits.memory_bytes:
            _write(d / "memory.max", str(limits.memory_bytes))
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", "0")
        if limits.pids_max and (d / "pids.max").exists():
            _write(d / "pids.max", str(limits.pids_max))
        if limits.cpu_max_vcpus and (d / "cpu.max").exists():
            quota = _cpu_quota_us(limits.cpu_max_vcpus)
            _write(d / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            if (d / "cpu.max.burst").exists():
                _write(d / "cpu.max.burst", str(quota))

    def peak_bytes(self, rel: str) -> int:
        peak = self.dirs(rel)["unified"] / "memory.peak"
        return int(_read(peak)) if peak.exists() else int(_read(peak.with_name("memory.current")))

    def oom_killed(self, rel: str) -> bool:
        return _stat_field(_read(self.dirs(rel)["unified"] / "memory.events"), "oom_kill") > 0

    def anon_bytes(self, rel: str) -> int:
        return _stat_field(_read(self.dirs(rel)["unified"] / "memory.stat"), "anon")

    def usage_bytes(self, rel: str) -> int:
        return int(_read(self.dirs(rel)["unified"] / "memory.current"))

    def signal_all(self, rel: str) -> None:
        kill_file = self.dirs(rel)["unified"] / "cgroup.kill"
        if kill_file.exists():
            _write(kill_file, "1")
        else:
            super().signal_all(rel)

    def kill(self, rel: str, timeout_s: float = 2.0) -> None:
        self.signal_all(rel)
        super().kill(rel, timeout_s)


def detect(root: str, fs: Path = CGROUP_FS) -> Cgroups:
    """v2 when the unified hierarchy at `fs` offers the memory controller, else v1 (memory is required)."""
    controllers = fs / "cgroup.controllers"
    if controllers.exists() and "memory" in controllers.read_text().split():
        return CgroupsV2(root, fs)
    if (fs / "memory" / "cgroup.procs").exists():
        return CgroupsV1(root, fs)
    raise RuntimeError(f"no memory cgroup controller under {fs}")
