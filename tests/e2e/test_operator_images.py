"""`terrarium images`: the built AMIs and Lambda runtimes, a cached build that reports each recipe up to date,
an unknown recipe failing with exit code 1, and a prune dry run that removes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.server import REPO

pytestmark = pytest.mark.host


def images(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", "images", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_list_and_cached_build():
    listed = images("list", "--json")
    assert listed.returncode == 0, listed.stderr
    built = json.loads(listed.stdout)
    assert {"debian-12", "python3.11"} <= {b["name"] for b in built}
    assert {b["kind"] for b in built} <= {"ami", "lambda-runtime"}
    cached = images("build", "--missing", "--json")
    assert cached.returncode == 0, cached.stderr
    ready = json.loads(cached.stdout)
    assert {b["tag"] for b in ready} <= {b["tag"] for b in built}
    assert all("up to date" in line for line in cached.stderr.splitlines())
    table = images("list")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == ["Name", "Kind", "Suite"]


def test_unknown_recipe_fails():
    result = images("build", "no-such-recipe")
    assert result.returncode == 1 and "no image recipe 'no-such-recipe'" in result.stderr


def test_prune_dry_run_removes_nothing():
    before = json.loads(images("list", "--json").stdout)
    result = images("prune", "--dry-run", "--json")
    assert result.returncode == 0 and isinstance(json.loads(result.stdout), list)
    assert json.loads(images("list", "--json").stdout) == before
