"""A Lambda runtime image's filesystem as a plain directory, exported once per image id.

Sandboxes bind-mount the directory read-only; they never run Docker. The export goes through the docker
CLI (`docker create` + `docker export | tar -x`), so only `runtime/host/docker` imports the SDK.
The result is cached under `cache_dir/<image id>`; a half-finished export never becomes visible (it is
unpacked beside the target and renamed into place), and concurrent callers serialise on a lock file.
The directories are made traversable for the sandbox uid, which resolves the bind sources itself.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import uuid
from pathlib import Path


class RootfsError(RuntimeError):
    """The image could not be exported."""


def _docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RootfsError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def image_id(image_ref: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", image_ref).split(":", 1)[-1]


def rootfs_from_image(image_ref: str, cache_dir: Path) -> Path:
    """The exported filesystem of `image_ref`; exported on first use of each image id. Blocking."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cache_dir, 0o755)
    digest = image_id(image_ref)
    target = cache_dir / digest[:24]
    if (target / ".terrarium-complete").exists():
        return target
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".terrarium-complete").exists():
            return target
        staging = cache_dir / f".staging-{uuid.uuid4().hex[:8]}"
        staging.mkdir(mode=0o755)
        container = _docker("create", "--label", "terrarium=1", "--name", f"tr-rootfs-{uuid.uuid4().hex[:10]}",
                            image_ref, "/bin/true")
        try:
            _export(container, staging)
            (staging / ".terrarium-complete").write_text(f"{image_ref}\n{digest}\n")
            os.chmod(staging, 0o755)
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    return target


def _export(container: str, into: Path) -> None:
    export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "--numeric-owner", "-C", str(into)], stdin=export.stdout,
                           capture_output=True)
    export.stdout.close()
    export_err = export.stderr.read().decode(errors="replace")
    export.stderr.close()
    if export.wait() != 0 or untar.returncode != 0:
        raise RootfsError(f"export of {container} failed: {export_err.strip()} {untar.stderr.decode().strip()}")
