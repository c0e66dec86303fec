"""Run the netfilter command-line tools inside a network namespace.

`nsenter --net` is the cheapest way in (network.md §5.1: 2.4 ms, against 3.1 ms for `ip netns exec`,
which also remounts /sys). Failures become `RealiseError` carrying the tool's stderr.
"""

from __future__ import annotations

import subprocess

from runtime.errors import RealiseError


def run_in(netns_path: str, argv: list[str], stdin: str | None = None) -> str:
    """Run `argv` with its network namespace set to `netns_path`; return stdout."""
    proc = subprocess.run(["nsenter", f"--net={netns_path}", *argv], input=stdin, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        raise RealiseError(f"{argv[0]} in {netns_path} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def read_in(netns_path: str, commands: dict[str, list[str]]) -> dict[str, str | None]:
    """Run read-only commands concurrently in the namespace; name -> stdout, or None if it failed."""
    procs = {name: subprocess.Popen(["nsenter", f"--net={netns_path}", *argv], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
             for name, argv in commands.items()}
    out: dict[str, str | None] = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate()
        out[name] = stdout if proc.returncode == 0 else None
    return out
