"""The Vagrant VM cannot boot here (no hypervisor), so what can be checked without one is: the Vagrantfile
validates, its provisioning script and scripts/demo pass shellcheck, and the systemd unit verifies."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.server import REPO


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package: {tool})")
    return path


def test_vagrantfile_validates():
    result = subprocess.run([need("vagrant"), "validate", "--ignore-provider"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validated successfully" in result.stdout


def test_provisioning_and_demo_pass_shellcheck(tmp_path):
    need("vagrant")
    provision = subprocess.run(
        ["ruby", "-e", 'src = File.read("Vagrantfile"); eval(src[/^VM_IP.*?^SHELL$/m]); print PROVISION'],
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
