"""EBS volumes on the host: sparse ext4 image files under `<data dir>/volumes/`, attached as loop devices.

A volume is the file `<vol-id>.img`; a snapshot is the file `<snap-id>.img` beside it (a sparse copy). An
attached volume also has one loop device backed by its file. The file is the truth: `losetup -j` finds the
loop device a file already has, so `ensure_loop` holds across server restarts (the kernel keeps loop
devices) and re-creates what a host reboot dropped. Files are written under a temporary name and renamed,
so a crash never leaves a half-made volume under its real name. mkfs skips zeroing inode tables and the
journal: the holes of a fresh sparse file already read as zeros, and a 100 GiB volume then costs 5 MB of disk
instead of 520 MB.

Every function is blocking, idempotent, and raises only runtime.errors.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import RealiseError

GIB = 1024 ** 3
SUFFIX = ".img"


@dataclass(frozen=True)
class LoopDevice:
    name: str
    major: int
    minor: int


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RealiseError(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise RealiseError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def store_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "volumes"


def file_for(data_dir: Path, resource_id: str) -> Path:
    """The image file of a volume (`vol-…`) or snapshot (`snap-…`)."""
    return store_dir(data_dir) / f"{resource_id}{SUFFIX}"


def ensure_volume_file(path: Path, size_gib: int, source: Path | None = None) -> None:
    """A sparse file of `size_gib` GiB: a copy of `source` (a snapshot) grown to size, or a fresh ext4."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    if source is not None:
        _run(["cp", "--sparse=always", str(source), str(temporary)])
        grown = temporary.stat().st_size < size_gib * GIB
        os.truncate(temporary, max(size_gib * GIB, temporary.stat().st_size))
        if grown:
            _run(["e2fsck", "-f", "-p", str(temporary)])
            _run(["resize2fs", "-f", str(temporary)])
    else:
        with open(temporary, "wb") as handle:
            handle.truncate(size_gib * GIB)
        _run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(temporary)])
    os.replace(temporary, path)


def copy_file(source: Path, target: Path) -> None:
    """A sparse point-in-time copy (a snapshot of a volume); kept if it already exists."""
    if target.exists():
        return
    temporary = target.with_suffix(".tmp")
    _run(["cp", "--sparse=always", str(source), str(temporary)])
    os.replace(temporary, target)


def remove_file(path: Path) -> None:
    path.with_suffix(".tmp").unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def _loops() -> dict[str, str]:
    """Every loop device on the host and the file backing it."""
    out = _run(["losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"])
    found = {}
    for line in out.splitlines():
        name, _, backing = line.partition(" ")
        found[name] = backing.removesuffix(" (deleted)").replace("\\x20", " ")
    return found


def _device(name: str) -> LoopDevice:
    rdev = os.stat(name).st_rdev
    return LoopDevice(name, os.major(rdev), os.minor(rdev))


def loop_for(path: Path) -> LoopDevice | None:
    for name, backing in _loops().items():
        if backing == str(path):
            return _device(name)
    return None


def ensure_loop(path: Path) -> LoopDevice:
    """The loop device backed by `path`, set up if there is none."""
    found = loop_for(path)
    if found is not None:
        return found
    return _device(_run(["losetup", "--find", "--show", str(path)]).strip())


def remove_loop(path: Path) -> None:
    """Detach every loop device backed by `path`; none is fine."""
    for name, backing in _loops().items():
        if backing == str(path):
            _run(["losetup", "--detach", name])


def loops_under(directory: Path) -> dict[Path, str]:
    """Loop devices whose backing file lies in `directory` (this Terrarium's volumes): file -> device."""
    prefix = str(directory).rstrip("/") + "/"
    return {Path(backing): name for name, backing in _loops().items() if backing.startswith(prefix)}
