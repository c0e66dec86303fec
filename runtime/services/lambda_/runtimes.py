"""Supported runtimes, and where each one's root filesystem comes from.

`RuntimeImages` turns a runtime name into the exported rootfs of its image (`terrarium/<runtime>:<hash>`),
through two callables injected by the composition root (services never import the host layer): `image_ref`
names the image to use and `export` turns it into a directory. The result is cached per runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

SUPPORTED = ("python3.11", "python3.13")


class RuntimeImages:
    def __init__(self, image_ref: Callable[[str], str], export: Callable[[str], Path]) -> None:
        self.image_ref = image_ref
        self.export = export
        self._cache: dict[str, Path] = {}
        self._lock = threading.Lock()

    def rootfs(self, runtime: str) -> Path:
        """The runtime's filesystem directory. Blocking (the first call per runtime exports the image)."""
        with self._lock:
            found = self._cache.get(runtime)
            if found is None:
                found = self._cache[runtime] = self.export(self.image_ref(runtime))
            return found


class HostRuntime:
    """The host's own /usr as every runtime's filesystem: for machines without the runtime images."""

    def rootfs(self, runtime: str) -> Path:
        return Path("/")


def pick_image(runtime: str, current: Callable[[str], object], list_built: Callable[[], list]) -> str:
    """The image tag for a runtime: the build of its current recipe, else the newest build of that name
    (a recipe edited but not yet rebuilt keeps the last good image serving)."""
    try:
        return current(runtime).tag
    except Exception:  # noqa: BLE001 - NotFound from the docker layer: fall back to an older build
        built = [b for b in list_built() if b.name == runtime and b.tag]
        if not built:
            raise
        return built[-1].tag
