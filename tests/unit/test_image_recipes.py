"""Image recipes without Docker: manifest parsing, recipe hashing, apt source derivation, the Dockerfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import NotFound, RealiseError
from runtime.host.docker import aptsources
from runtime.host.docker.images import dockerfile
from runtime.host.docker.recipes import BUILDER_VERSION, IMAGES_DIR, parse_manifest, recipe, recipes

MANIFEST = """
name = "tiny"
kind = "lambda-runtime"
description = "a test recipe"
suite = "bookworm"
variant = "essential"
packages = ["python3"]
run = ["/usr/lib/setup"]

[python]
version = "3.11"
requirements = ["boto3==1.44.8"]
dest = "/var/runtime"

[[files]]
src = "../_shared/tool"
dest = "/usr/lib/setup"
mode = "0755"

[config]
entrypoint = ["/var/runtime/bootstrap"]
workdir = "/var/task"
env = { LANG = "C.UTF-8" }
"""


@pytest.fixture
def images(tmp_path: Path) -> Path:
    (tmp_path / "_shared").mkdir()
    (tmp_path / "_shared" / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "image.toml").write_text(MANIFEST)
    return tmp_path


def test_manifest_fields(images: Path) -> None:
    r = parse_manifest(images / "tiny" / "image.toml")
    assert (r.name, r.kind, r.suite, r.variant, r.packages) == ("tiny", "lambda-runtime", "bookworm",
                                                                  "essential", ("python3",))
    assert r.files[0].src == (images / "_shared" / "tool").resolve()
    assert (r.files[0].dest, r.files[0].mode) == ("/usr/lib/setup", 0o755)
    assert r.python is not None and r.python.requirements == ("boto3==1.44.8",)
    assert r.config.entrypoint == ("/var/runtime/bootstrap",) and r.config.env == {"LANG": "C.UTF-8"}
    assert r.tag == f"terrarium/tiny:{r.hash}" and len(r.hash) == 12


def test_hash_is_stable_and_covers_shared_files(images: Path) -> None:
    manifest = images / "tiny" / "image.toml"
    first = parse_manifest(manifest).hash
    assert parse_manifest(manifest).hash == first
    (images / "_shared" / "tool").write_text("#!/bin/sh\necho changed\n")
    assert parse_manifest(manifest).hash != first


def test_hash_covers_every_file_of_the_folder_and_the_exec_bit(images: Path) -> None:
    manifest = images / "tiny" / "image.toml"
    first = parse_manifest(manifest).hash
    extra = images / "tiny" / "notes.txt"
    extra.write_text("x")
    second = parse_manifest(manifest).hash
    assert second != first
    extra.chmod(0o755)
    assert parse_manifest(manifest).hash != second


@pytest.mark.parametrize("version", ["BUILDER_VERSION", "ROOTFS_VERSION"])
def test_hash_covers_the_builder_versions(images: Path, monkeypatch, version: str) -> None:
    from runtime.host.docker import recipes as module

    manifest = images / "tiny" / "image.toml"
    first = parse_manifest(manifest).hash
    monkeypatch.setattr(module, version, "next")
    assert parse_manifest(manifest).hash != first


def test_unrelated_shared_file_does_not_change_the_hash(images: Path) -> None:
    manifest = images / "tiny" / "image.toml"
    first = parse_manifest(manifest).hash
    (images / "_shared" / "other").write_text("not used by tiny")
    assert parse_manifest(manifest).hash == first


def test_rootfs_key_ignores_recipe_files_but_not_packages_or_sources(images: Path) -> None:
    manifest = images / "tiny" / "image.toml"
    sources = ("deb http://mirror.invalid/debian bookworm main",)
    key = parse_manifest(manifest).rootfs_key(sources)
    (images / "_shared" / "tool").write_text("#!/bin/sh\necho changed\n")
    assert parse_manifest(manifest).rootfs_key(sources) == key
    assert parse_manifest(manifest).rootfs_key(sources + ("deb http://x.invalid/d bookworm-updates main",)) != key
    manifest.write_text(MANIFEST.replace('["python3"]', '["python3", "curl"]'))
    assert parse_manifest(manifest).rootfs_key(sources) != key


@pytest.mark.parametrize("old, new, message", [
    ('kind = "lambda-runtime"', 'kind = "vm"', "kind 'vm'"),
    ('name = "tiny"', 'name = "other"', "must equal its folder name"),
    ('src = "../_shared/tool"', 'src = "../_shared/missing"', "does not exist"),
    ('variant = "essential"', 'variant = "huge"', "variant 'huge'"),
    ('description = "a test recipe"', "", "'description' is required"),
    ('packages = ["python3"]', 'packages = "python3"', "packages must be a list of strings"),
])
def test_invalid_manifests_name_the_problem(images: Path, old: str, new: str, message: str) -> None:
    (images / "tiny" / "image.toml").write_text(MANIFEST.replace(old, new))
    with pytest.raises(RealiseError, match=message):
        parse_manifest(images / "tiny" / "image.toml")


def test_unknown_recipe_is_not_found(images: Path) -> None:
    with pytest.raises(NotFound, match="known: tiny"):
        recipe("nope", images)


def test_the_repository_recipes_parse() -> None:
    by_name = {r.name: r for r in recipes(IMAGES_DIR)}
    assert {"debian-12", "python3.11", "python3.13"} <= set(by_name)
    assert by_name["debian-12"].kind == "ami" and by_name["python3.13"].suite == "trixie"
    assert all(r.config.entrypoint for r in by_name.values())
    assert BUILDER_VERSION


def test_dockerfile_layers_files_python_and_config(images: Path) -> None:
    r = parse_manifest(images / "tiny" / "image.toml")
    text = dockerfile(r, "terrarium/rootfs:bookworm-abc", with_python=True)
    assert text.splitlines() == [
        "FROM terrarium/rootfs:bookworm-abc",
        "COPY files/ /",
        "COPY python/ /var/runtime/",
        'RUN ["/bin/sh", "-ec", "/usr/lib/setup"]',
        'ENV LANG="C.UTF-8"',
        "WORKDIR /var/task",
        'ENTRYPOINT ["/var/runtime/bootstrap"]',
        "CMD []",
        'LABEL terrarium="1" terrarium.kind="lambda-runtime" terrarium.image="tiny" terrarium.suite="bookworm" '
        f'terrarium.description="a test recipe" terrarium.recipe-hash="{r.hash}" terrarium.architecture="x86_64"',
    ]


DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
"""


def test_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
        "deb-src http://one.example/debian bookworm main\n")
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "third.list").write_text("deb https://vendor.example/apt vendor-bookworm main\n")
    (tmp_path / "sources.list.d" / "off.list.disabled").write_text("deb http://off.example/d bookworm main\n")
    found = aptsources.host_sources(tmp_path)
    assert [(s.uri, s.suite) for s in found] == [
        ("http://one.example/debian", "bookworm"),
        ("http://mirror.example/debian", "bookworm"),
        ("http://mirror.example/debian", "bookworm-updates"),
        ("http://mirror.example/debian-security", "bookworm-security"),
        ("https://vendor.example/apt", "vendor-bookworm"),
    ]
    assert found[0].signed_by == "/k.gpg" and found[1].components == ("main", "contrib")


def test_sources_for_another_suite_swap_the_release_and_drop_third_parties() -> None:
    host = aptsources.parse_deb822(DEB822) + aptsources.parse_one_line(
        "deb https://vendor.example/apt vendor-bookworm main\n")
    assert aptsources.sources_for("trixie", host, "bookworm") == (
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian trixie main contrib",
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian trixie-updates main contrib",
        "deb http://mirror.example/debian-security trixie-security main",
    )


def test_sources_without_the_host_release_fail_clearly() -> None:
    host = aptsources.parse_one_line("deb http://m.example/debian bookworm-security main\n")
    with pytest.raises(RealiseError, match="no entry for release 'bookworm'"):
        aptsources.sources_for("trixie", host, "bookworm")


def test_host_codename(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n')
    assert aptsources.host_codename(os_release) == "bookworm"
