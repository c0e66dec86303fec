"""The Vagrant VM cannot boot here (no hypervisor), so what can be checked without one is: the Vagrantfile
validates, its provisioning script and scripts/demo pass shellcheck, and the systemd unit verifies."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.server import REPO


def need(tool: str) -> str:
    """The tool's path. scripts/test installs these (TR_TEST_APT_PACKAGES in scripts/lib/prereqs.sh), so in
    CI a missing one is a failure; a developer's bare pytest run skips instead."""
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (scripts/test installs it: TR_TEST_APT_PACKAGES)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def test_vagrantfile_validates():
    env = {**os.environ, "VAGRANT_CHECKPOINT_DISABLE": "1"}  # no version check against the outside world
    result = subprocess.run([need("vagrant"), "validate", "--ignore-provider"], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validated successfully" in result.stdout


def test_provisioning_and_demo_pass_shellcheck(tmp_path):
    provision = subprocess.run(
        [need("ruby"), "-e", 'src = File.read("Vagrantfile"); eval(src[/^VM_IP.*?^SHELL$/m]); print PROVISION'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "systemctl enable --now terrarium.service" in provision
    script = tmp_path / "provision.sh"
    script.write_text(provision)
    for path in (script, REPO / "scripts" / "demo"):
        result = subprocess.run([need("shellcheck"), "-s", "bash", "-S", "warning", str(path)], capture_output=True,
                                text=True)
        assert result.returncode == 0, f"{path}:\n{result.stdout}"


def test_systemd_unit_verifies(tmp_path):
    analyze = need("systemd-analyze")
    unit = tmp_path / "terrarium.service"
    unit.write_text((REPO / "scripts" / "terrarium.service").read_text().replace("/opt/terrarium", str(REPO)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "terrarium.service" in line]
    assert problems == [], problems
