"""Function code: zips stored by content, validated at upload, unzipped once per code SHA for the sandbox.

Zips live under `<data dir>/lambda/code/<sha256 hex>.zip` (the durable copy, what GetFunction serves).
Unzipped trees live under `unzip_root/<sha256 hex>` — a directory the unprivileged sandbox uid can
traverse (the data dir usually cannot be), world-readable and never written after the rename that
publishes it, so any number of functions and servers can share one tree per code version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from runtime.errors import AwsError
from runtime.services.lambda_.errors import invalid

MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class CodeInfo:
    sha_hex: str
    sha_b64: str  # CodeSha256 as AWS shows it
    size: int


def handler_module_paths(handler: str) -> tuple[str, ...]:
    """Where the Python runtime looks for a handler's module (`pkg/mod.fn` or `pkg.mod.fn`)."""
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    return f"{module}.py", f"{module}/__init__.py"


def check_handler(handler: str) -> None:
    if "." not in handler or handler.startswith(".") or handler.endswith(".") or any(c.isspace() for c in handler):
        raise invalid(f"Handler {handler!r} is malformed: use <module>.<function>.")


class CodeStore:
    def __init__(self, data_dir: Path, unzip_root: Path) -> None:
        self.zips = Path(data_dir) / "lambda" / "code"
        self.unzip_root = Path(unzip_root)

    def validate(self, data: bytes, handler: str) -> None:
        """The zip opens, stays within Lambda's size limits and contains the handler's module."""
        if len(data) > MAX_ZIP_BYTES:
            raise AwsError("RequestEntityTooLargeException",
                           f"Zipped size must be smaller than {MAX_ZIP_BYTES} bytes", 413)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError):
            raise invalid(UNZIP_FAILED) from None
        if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
            raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
        names = {i.filename for i in infos}
        if not any(path in names for path in handler_module_paths(handler)):
            module = handler.rsplit(".", 1)[0]
            raise invalid(f"The handler module '{module}' was not found in the uploaded code "
                          f"(expected {handler_module_paths(handler)[0]} in the zip).")

    def save(self, data: bytes) -> CodeInfo:
        """Store the zip under its SHA-256 (idempotent). Blocking."""
        digest = hashlib.sha256(data)
        info = CodeInfo(digest.hexdigest(), base64.b64encode(digest.digest()).decode(), len(data))
        target = self.zip_path(info.sha_hex)
        if not target.exists():
            self.zips.mkdir(parents=True, exist_ok=True)
            staging = target.with_suffix(f".{uuid.uuid4().hex[:8]}.part")
            staging.write_bytes(data)
            staging.rename(target)
        return info

    def zip_path(self, sha_hex: str) -> Path:
        return self.zips / f"{sha_hex}.zip"

    def read(self, sha_hex: str) -> bytes:
        return self.zip_path(sha_hex).read_bytes()

    def code_dir(self, sha_hex: str) -> Path:
        """The unzipped tree of a stored zip, made on first use. Blocking."""
        target = self.unzip_root / sha_hex
        if target.is_dir():
            return target
        self.unzip_root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.unzip_root, 0o755)
        staging = self.unzip_root / f".staging-{uuid.uuid4().hex[:8]}"
        try:
            _extract(self.zip_path(sha_hex), staging)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():  # another process may have published the same tree first
                raise
        return target


def _extract(zip_path: Path, into: Path) -> None:
    """Unzip with safe paths only, directories 0755 and files 0644 (0755 if executable in the zip)."""
    into.mkdir(mode=0o755)
    os.chmod(into, 0o755)
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            relative = PurePosixPath(info.filename)
            if relative.is_absolute() or ".." in relative.parts:
                continue
            target = into.joinpath(*relative.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                os.chmod(target, 0o755)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            executable = (info.external_attr >> 16) & 0o111
            os.chmod(target, 0o755 if executable else 0o644)
    for root, dirs, _ in os.walk(into):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)

