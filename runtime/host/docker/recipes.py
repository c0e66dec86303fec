"""Image recipes: the manifests under `images/<name>/image.toml`, parsed and hashed without touching Docker.

A recipe's hash covers every file that can change the image: all files of its folder, every file its manifest
copies in (shared files live in `images/_shared/`), `BUILDER_VERSION` and `ROOTFS_VERSION`. (The host's apt
sources are not in it: the same recipe keeps its tag, and its AMI id, across hosts and mirrors.) The image tag is
`terrarium/<name>:<hash>`, so a changed recipe gets a new tag and an unchanged one is never rebuilt.

The root filesystem key is narrower (suite, variant, packages, apt sources, `ROOTFS_VERSION`): changing an init
script rebuilds only the thin layer on top, never the debootstrap.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import NotFound, RealiseError

BUILDER_VERSION = "2"
ROOTFS_VERSION = "2"
KINDS = ("ami", "lambda-runtime")
VARIANTS = ("essential", "minbase", "apt", "required", "important", "standard")
IMAGES_DIR = Path(__file__).resolve().parents[3] / "images"
REPOSITORY = "terrarium"
HASH_LEN = 12


@dataclass(frozen=True)
class RecipeFile:
    """One file copied into the image: `src` is relative to the recipe folder, `dest` absolute in the image."""

    src: Path
    dest: str
    mode: int


@dataclass(frozen=True)
class PythonDeps:
    """Python distributions downloaded on the host with pip for `version`, then copied to `dest` in the image."""

    version: str
    requirements: tuple[str, ...]
    dest: str

    def key(self) -> str:
        blob = json.dumps([self.version, sorted(self.requirements)]).encode()
        return hashlib.sha256(blob).hexdigest()[:HASH_LEN]


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    stopsignal: str = ""


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: str
    description: str
    suite: str
    variant: str
    packages: tuple[str, ...]
    files: tuple[RecipeFile, ...]
    run: tuple[str, ...]
    config: ImageConfig
    python: PythonDeps | None
    folder: Path
    hash: str

    @property
    def repository(self) -> str:
        return f"{REPOSITORY}/{self.name}"

    @property
    def tag(self) -> str:
        return f"{self.repository}:{self.hash}"

    def rootfs_key(self, sources: tuple[str, ...]) -> str:
        """Key of the debootstrapped tarball: everything mmdebstrap sees, nothing it doesn't."""
        blob = json.dumps([ROOTFS_VERSION, self.suite, self.variant, sorted(self.packages), list(sources)])
        return hashlib.sha256(blob.encode()).hexdigest()[:HASH_LEN]


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RealiseError(f"{what} must be a list of strings")
    return tuple(value)


def _required(doc: dict, key: str, where: Path) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise RealiseError(f"{where}: '{key}' is required and must be a non-empty string")
    return value


def parse_manifest(path: Path) -> Recipe:
    """Parse and validate one `image.toml`; raises RealiseError naming the file on any mistake."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise RealiseError(f"{path}: {e}") from e
    folder = path.parent
    name = _required(doc, "name", path)
    if name != folder.name:
        raise RealiseError(f"{path}: name '{name}' must equal its folder name '{folder.name}'")
    kind = _required(doc, "kind", path)
    if kind not in KINDS:
        raise RealiseError(f"{path}: kind '{kind}' is not one of {', '.join(KINDS)}")
    variant = doc.get("variant", "minbase")
    if variant not in VARIANTS:
        raise RealiseError(f"{path}: variant '{variant}' is not one of {', '.join(VARIANTS)}")
    files = []
    for entry in doc.get("files", []):
        src, dest = entry.get("src"), entry.get("dest")
        if not isinstance(src, str) or not isinstance(dest, str) or not dest.startswith("/"):
            raise RealiseError(f"{path}: each [[files]] needs 'src' and an absolute 'dest'")
        source = (folder / src).resolve()
        if not source.is_file():
            raise RealiseError(f"{path}: file '{src}' does not exist")
        files.append(RecipeFile(source, dest, int(entry.get("mode", "0644"), 8)))
    python = None
    if (py := doc.get("python")) is not None:
        python = PythonDeps(_required(py, "version", path), _strings(py.get("requirements", []),
                            f"{path}: python.requirements"), _required(py, "dest", path))
    cfg = doc.get("config", {})
    env = cfg.get("env", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise RealiseError(f"{path}: config.env values must be strings")
    config = ImageConfig(
        entrypoint=_strings(cfg.get("entrypoint", []), f"{path}: config.entrypoint"),
        cmd=_strings(cfg.get("cmd", []), f"{path}: config.cmd"),
        env=dict(env),
        workdir=cfg.get("workdir", ""),
        stopsignal=cfg.get("stopsignal", ""),
    )
    return Recipe(
        name=name,
        kind=kind,
        description=_required(doc, "description", path),
        suite=_required(doc, "suite", path),
        variant=variant,
        packages=_strings(doc.get("packages", []), f"{path}: packages"),
        files=tuple(files),
        run=_strings(doc.get("run", []), f"{path}: run"),
        config=config,
        python=python,
        folder=folder,
        hash=recipe_hash(folder, [f.src for f in files]),
    )


def recipe_hash(folder: Path, extra: list[Path]) -> str:
    """Hash of the builder versions, the folder's files and `extra` files (path relative to images/, exec bit,
    content)."""
    paths = {p.resolve() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    paths.update(p.resolve() for p in extra)
    root = folder.resolve().parent
    h = hashlib.sha256(f"builder {BUILDER_VERSION} rootfs {ROOTFS_VERSION}\n".encode())
    for p in sorted(paths):
        rel = p.relative_to(root) if p.is_relative_to(root) else p
        data = p.read_bytes()
        h.update(f"{rel}\0{p.stat().st_mode & 0o111:o}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:HASH_LEN]


def recipes(images_dir: Path = IMAGES_DIR) -> list[Recipe]:
    """Every recipe under `images_dir` (folders holding an image.toml), sorted by name."""
    return [parse_manifest(p) for p in sorted(images_dir.glob("*/image.toml"))]


def recipe(name: str, images_dir: Path = IMAGES_DIR) -> Recipe:
    path = images_dir / name / "image.toml"
    if not path.is_file():
        known = ", ".join(r.name for r in recipes(images_dir))
        raise NotFound(f"no image recipe '{name}' (known: {known})")
    return parse_manifest(path)
