"""Build Terrarium's images (AMIs, Lambda runtimes) without any registry, and list what is built.

For each recipe (see `recipes.py`):
  1. root filesystem: `mmdebstrap` from the host's apt sources into a tarball cached under
     `<cache>/rootfs/<suite>-<key>.tar`, imported once as `terrarium/rootfs:<suite>-<key>`;
  2. Python distributions (Lambda runtimes): `pip install --target` on the host, cached under `<cache>/pip/`;
  3. the recipe layer: a Dockerfile `FROM` the rootfs that copies the recipe files and Python packages and runs
     the recipe's set-up commands, built by the engine's legacy builder with `--network none`.
No step runs a container with network access. The result is tagged `terrarium/<name>:<recipe hash>` and labelled
`terrarium=1`, `terrarium.kind`, `terrarium.image`; a tag that exists is never rebuilt unless forced.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from runtime.errors import Conflict, NotFound, RealiseError
from runtime.host.docker import aptsources
from runtime.host.docker.client import connect, docker_errors
from runtime.host.docker.recipes import REPOSITORY, Recipe, recipe, recipes

CACHE_DIR = Path(os.environ.get("TERRARIUM_IMAGE_CACHE", "/var/cache/terrarium"))
ROOTFS_REPOSITORY = f"{REPOSITORY}/rootfs"
ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
# Trimmed from every rootfs (as Debian's slim container images do); copyright files are kept.
DPKG_EXCLUDES = ("/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*",
                 "/usr/share/doc/*")
# Merged /usr set up by mmdebstrap itself where the suite needs it (bookworm): otherwise apt satisfies
# init-system-helpers with `usrmerge`, which drags 46 MB of perl into every image.
MERGED_USR_HOOK = Path("/usr/share/mmdebstrap/hooks/maybe-merged-usr")
# Host keys must be made per instance at first boot, never shipped in the image.
CUSTOMIZE_HOOKS = ('rm -f "$1"/etc/ssh/ssh_host_*', 'rm -rf "$1"/var/cache/apt/archives/*.deb')

Progress = Callable[[str], None]

__all__ = ["BuiltImage", "Recipe", "build", "current", "list_built", "prune", "recipes"]


@dataclass(frozen=True)
class BuiltImage:
    """An image in the local engine built from a recipe (any hash, current or not)."""

    name: str
    kind: str
    tag: str
    image_id: str
    created: str
    size: int
    suite: str
    description: str
    recipe_hash: str
    architecture: str


def _builder_tag(labels: dict[str, str]) -> str | None:
    """The one tag this builder gives an image with these labels. Images built `FROM` ours inherit the labels
    but carry other tags: they are not ours to list or prune."""
    kind = labels.get("terrarium.kind")
    if kind in ("ami", "lambda-runtime"):
        return f"{REPOSITORY}/{labels.get('terrarium.image')}:{labels.get('terrarium.recipe-hash')}"
    if kind == "rootfs":
        return f"{ROOTFS_REPOSITORY}:{labels.get('terrarium.suite')}-{labels.get('terrarium.rootfs-key')}"
    return None


def _iso8601(created: int | str) -> str:
    """Docker's creation time (epoch seconds in listings, RFC 3339 with nanoseconds in inspect) as AWS writes
    an image's CreationDate."""
    if isinstance(created, str):
        when = datetime.fromisoformat(created[:19]).replace(tzinfo=timezone.utc)
    else:
        when = datetime.fromtimestamp(created, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _built_image(labels: dict[str, str], repo_tags: list[str], image_id: str, created: int | str,
                 size: int) -> BuiltImage | None:
    tag = _builder_tag(labels)
    if labels.get("terrarium.kind") == "rootfs" or tag not in repo_tags:
        return None
    return BuiltImage(
        name=labels["terrarium.image"],
        kind=labels["terrarium.kind"],
        tag=tag,
        image_id=image_id,
        created=_iso8601(created),
        size=int(size),
        suite=labels.get("terrarium.suite", ""),
        description=labels.get("terrarium.description", ""),
        recipe_hash=labels["terrarium.recipe-hash"],
        architecture=labels.get("terrarium.architecture", ARCHITECTURE),
    )


def list_built() -> list[BuiltImage]:
    """Every recipe image in the engine (label terrarium=1), by name then creation time. One API call."""
    client = connect()
    with docker_errors("listing images"):
        found = client.api.images(filters={"label": "terrarium=1"})
    built = [_built_image(i.get("Labels") or {}, i.get("RepoTags") or [], i["Id"], i["Created"], i["Size"])
             for i in found]
    return sorted((b for b in built if b is not None), key=lambda b: (b.name, b.created))


def _inspect(client, tag: str) -> BuiltImage:
    with docker_errors(f"inspecting {tag}"):
        attrs = client.api.inspect_image(tag)
    built = _built_image((attrs.get("Config") or {}).get("Labels") or {}, attrs.get("RepoTags") or [],
                         attrs["Id"], attrs["Created"], attrs["Size"])
    if built is None:
        raise NotFound(f"{tag} exists but is not a recipe image")
    return built


def current(name: str) -> BuiltImage:
    """The image built from recipe `name` as its files are now; NotFound if it has not been built."""
    return _inspect(connect(), recipe(name).tag)


@contextmanager
def _build_lock(progress: Progress) -> Iterator[None]:
    """One builder at a time per host (two test runs may start together)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another image build to finish ({CACHE_DIR / 'build.lock'})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run_streaming(argv: list[str], progress: Progress, prefix: str) -> None:
    """Run a host command, passing each output line to `progress`; RealiseError with its tail on failure."""
    tail: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace") as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-20:]
            progress(f"  {prefix}{line}")
    if proc.returncode != 0:
        raise RealiseError(f"{argv[0]} exited with {proc.returncode}:\n" + "\n".join(tail))


def _rootfs_tarball(r: Recipe, sources: tuple[str, ...], key: str, progress: Progress) -> Path:
    tarball = CACHE_DIR / "rootfs" / f"{r.suite}-{key}.tar"
    if tarball.is_file():
        progress(f"  rootfs {tarball.name}: cached")
        return tarball
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".tar.partial")
    argv = ["mmdebstrap", f"--variant={r.variant}", "--aptopt=APT::Install-Recommends \"false\""]
    if r.packages:
        argv.append("--include=" + ",".join(r.packages))
    argv += [f"--dpkgopt=path-exclude={p}" for p in DPKG_EXCLUDES]
    argv += ["--dpkgopt=path-include=/usr/share/doc/*/copyright"]
    if MERGED_USR_HOOK.is_dir():
        argv.append(f"--hook-dir={MERGED_USR_HOOK}")
    argv += [f"--customize-hook={h}" for h in CUSTOMIZE_HOOKS]
    argv += ["--format=tar", r.suite, str(partial), *sources]
    progress(f"  mmdebstrap {r.suite} ({r.variant}, {len(r.packages)} packages) from the host's apt sources")
    started = time.monotonic()
    try:
        _run_streaming(argv, progress, "mmdebstrap: ")
        partial.rename(tarball)
    finally:
        partial.unlink(missing_ok=True)
    progress(f"  rootfs {tarball.name}: {tarball.stat().st_size / 2**20:.0f} MiB in {time.monotonic() - started:.1f} s")
    return tarball


def _rootfs_image(client, r: Recipe, progress: Progress) -> str:
    """Tag of the imported root filesystem for `r`, debootstrapping and importing it when missing."""
    sources = aptsources.sources_for(r.suite, aptsources.host_sources(), aptsources.host_codename())
    key = r.rootfs_key(sources)
    tag = f"{ROOTFS_REPOSITORY}:{r.suite}-{key}"
    with docker_errors(f"looking up {tag}"):
        if client.api.images(name=tag):
            progress(f"  rootfs image {tag}: present")
            return tag
    tarball = _rootfs_tarball(r, sources, key, progress)
    started = time.monotonic()
    changes = [f"LABEL terrarium=1 terrarium.kind=rootfs terrarium.suite={r.suite} terrarium.rootfs-key={key}"]
    with docker_errors(f"importing {tarball}"):
        client.api.import_image_from_file(str(tarball), repository=ROOTFS_REPOSITORY, tag=f"{r.suite}-{key}",
                                          changes=changes)
    progress(f"  docker import -> {tag} in {time.monotonic() - started:.1f} s")
    return tag


def _python_deps(r: Recipe, progress: Progress) -> Path | None:
    """Host-side `pip install --target` of the recipe's Python requirements, cached by version + requirements."""
    if r.python is None:
        return None
    target = CACHE_DIR / "pip" / f"py{r.python.version}-{r.python.key()}"
    if target.is_dir():
        progress(f"  python packages {target.name}: cached")
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    progress(f"  pip: {' '.join(r.python.requirements)} for CPython {r.python.version} (on the host)")
    started = time.monotonic()
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--target", str(partial), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", r.python.version, "--platform", f"manylinux2014_{platform.machine()}",
            *r.python.requirements]
    try:
        _run_streaming(argv, progress, "pip: ")
        shutil.rmtree(partial / "bin", ignore_errors=True)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    progress(f"  python packages {target.name}: {time.monotonic() - started:.1f} s")
    return target


def dockerfile(r: Recipe, base: str, with_python: bool) -> str:
    """The recipe layer: copy files (and Python packages), run set-up, set the config and labels.

    ENV and LABEL are single instructions: the legacy builder makes one container per instruction.
    """
    lines = [f"FROM {base}"]
    if r.files:
        lines.append("COPY files/ /")
    if with_python and r.python is not None:
        lines.append(f"COPY python/ {r.python.dest}/")
    if r.run:
        lines.append("RUN " + json.dumps(["/bin/sh", "-ec", " && ".join(r.run)]))
    if r.config.env:
        lines.append("ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(r.config.env.items())))
    if r.config.workdir:
        lines.append(f"WORKDIR {r.config.workdir}")
    if r.config.stopsignal:
        lines.append(f"STOPSIGNAL {r.config.stopsignal}")
    lines.append("ENTRYPOINT " + json.dumps(list(r.config.entrypoint)))
    lines.append("CMD " + json.dumps(list(r.config.cmd)))
    lines.append("LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in labels(r).items()))
    return "\n".join(lines) + "\n"


def labels(r: Recipe) -> dict[str, str]:
    return {
        "terrarium": "1",
        "terrarium.kind": r.kind,
        "terrarium.image": r.name,
        "terrarium.suite": r.suite,
        "terrarium.description": r.description,
        "terrarium.recipe-hash": r.hash,
        "terrarium.architecture": ARCHITECTURE,
    }


def _build_layer(client, r: Recipe, base: str, pydeps: Path | None, progress: Progress) -> None:
    with tempfile.TemporaryDirectory(prefix="tr-image-") as tmp:
        ctx = Path(tmp)
        for f in r.files:
            dest = ctx / "files" / f.dest.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f.src, dest)
            dest.chmod(f.mode)
        if pydeps is not None:
            shutil.copytree(pydeps, ctx / "python")
        (ctx / "Dockerfile").write_text(dockerfile(r, base, pydeps is not None))
        started = time.monotonic()
        with docker_errors(f"building {r.tag}"):
            for chunk in client.api.build(path=str(ctx), tag=r.tag, rm=True, forcerm=True, pull=False,
                                          network_mode="none", decode=True,
                                          use_config_proxy=False):
                if "error" in chunk:
                    raise RealiseError(f"building {r.tag}: {chunk['error'].strip()}")
                for line in chunk.get("stream", "").splitlines():
                    if line.startswith("Step ") or line.startswith("Successfully tagged"):
                        progress(f"  build: {line.rstrip()}")
        progress(f"  layer built in {time.monotonic() - started:.1f} s")


def _build_one(client, r: Recipe, force: bool, progress: Progress) -> BuiltImage:
    with docker_errors(f"looking up {r.tag}"):
        present = bool(client.api.images(name=r.tag))
    if present and not force:
        progress(f"{r.name}: {r.tag} is up to date")
        return _inspect(client, r.tag)
    progress(f"{r.name}: building {r.tag} ({r.kind}, Debian {r.suite})")
    started = time.monotonic()
    base = _rootfs_image(client, r, progress)
    pydeps = _python_deps(r, progress)
    _build_layer(client, r, base, pydeps, progress)
    built = _inspect(client, r.tag)
    progress(f"{r.name}: {r.tag} built in {time.monotonic() - started:.1f} s, {built.size / 1e6:.0f} MB")
    return built


def build(name: str | None = None, *, progress: Progress = print, force: bool = False) -> list[BuiltImage]:
    """Build recipe `name` (all recipes when None) unless its current tag exists (or `force`).

    When every tag exists, no lock is taken: a cached run never waits behind another checkout's build.
    """
    chosen = [recipe(name)] if name else recipes()
    client = connect()
    if not force:
        with docker_errors("looking up recipe images"):
            if all(client.api.images(name=r.tag) for r in chosen):
                return [_build_one(client, r, force, progress) for r in chosen]
    with _build_lock(progress):
        return [_build_one(client, r, force, progress) for r in chosen]


def prune(*, progress: Progress = print, dry_run: bool = False) -> list[str]:
    """Remove recipe images whose hash is no longer current, and rootfs images and tarballs no recipe needs.

    Images still used by a container are kept (the engine refuses; reported, not raised). With `dry_run`,
    only say what would go.
    """
    wanted = {r.tag for r in recipes()}
    sources_cache: dict[str, tuple[str, ...]] = {}
    codename, host = aptsources.host_codename(), aptsources.host_sources()
    rootfs_keys = set()
    for r in recipes():
        sources = sources_cache.setdefault(r.suite, aptsources.sources_for(r.suite, host, codename))
        rootfs_keys.add(f"{r.suite}-{r.rootfs_key(sources)}")
    client = connect()
    removed = []
    with docker_errors("listing images"):
        found = client.api.images(filters={"label": "terrarium=1"})
    for img in found:
        tag = _builder_tag(img.get("Labels") or {})
        if tag is None or tag not in (img.get("RepoTags") or []):
            continue
        is_rootfs = tag.startswith(f"{ROOTFS_REPOSITORY}:")
        if (tag.split(":", 1)[1] in rootfs_keys) if is_rootfs else (tag in wanted):
            continue
        if dry_run:
            removed.append(tag)
            continue
        try:
            with docker_errors(f"removing {tag}"):
                client.api.remove_image(tag)
            removed.append(tag)
            progress(f"removed {tag}")
        except (RealiseError, Conflict) as e:
            progress(f"kept {tag}: {e}")
    for tarball in (CACHE_DIR / "rootfs").glob("*.tar"):
        if tarball.stem not in rootfs_keys:
            if not dry_run:
                tarball.unlink()
                progress(f"removed {tarball}")
            removed.append(str(tarball))
    return removed


def _cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime.host.docker.images", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build recipes (all, or NAME)")
    b.add_argument("name", nargs="?")
    b.add_argument("--missing", action="store_true", help="only recipes whose current tag does not exist")
    sub.add_parser("list", help="list built images")
    p = sub.add_parser("prune", help="remove images and caches of outdated recipes")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    args = parser.parse_args(argv)
    if args.command == "build":
        started = time.monotonic()
        say = lambda line: print(line, flush=True)  # noqa: E731
        build(args.name, progress=say, force=not args.missing)
        say(f"images ready in {time.monotonic() - started:.1f} s")
    elif args.command == "list":
        rows = [(b.name, b.kind, b.suite, b.tag, f"{b.size / 1e6:.0f} MB", b.created[:19]) for b in list_built()]
        head = ("NAME", "KIND", "SUITE", "TAG", "SIZE", "CREATED")
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        for row in (head, *rows):
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    else:
        for item in prune(dry_run=args.dry_run):
            if args.dry_run:
                print(f"would remove {item}")
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
