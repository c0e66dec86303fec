"""Fixtures for the sandbox host tests: one SandboxManager on its own event loop, test functions on disk.

The rootfs is the host's own system directories (Path("/"): /usr, /lib*, /etc read-only), so these tests
need bubblewrap and the host's python3, never the Lambda runtime image.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.sandbox.manager import SandboxManager
from runtime.sandbox.ports import FunctionSpec

APP = '''
import json, logging, os, subprocess, sys, time

COUNTER = 0
STARTED_AT_IMPORT = os.getpid()
print("init says hello")


def echo(event, context):
    print("echo got", json.dumps(event))
    return event


def leak(event, context):
    global COUNTER
    COUNTER += 1
    seen = sorted(os.listdir("/tmp"))
    with open("/tmp/x", "w") as f:
        f.write("left behind")
    os.environ["LEAKED"] = "yes"
    return {"counter": COUNTER, "tmp": seen, "env_leak": os.environ.get("LEAKED_BEFORE")}


def sleep(event, context):
    if event.get("child"):
        subprocess.Popen(["sleep", event["child"]], start_new_session=True)
    time.sleep(event.get("seconds", 100))
    return "woke"


def spin(event, context):
    while True:
        pass


def burn(event, context):
    wall0, cpu0 = time.monotonic(), time.process_time()
    while time.monotonic() - wall0 < event["seconds"]:
        pass
    return {"cpu_share": (time.process_time() - cpu0) / (time.monotonic() - wall0)}


def allocate(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return {"allocated_mb": event["mb"]}


def boom(event, context):
    return event["missing"]


def unserialisable(event, context):
    return {"when": object()}


def huge(event, context):
    return "x" * event["bytes"]


def exits(event, context):
    sys.exit(3)


def probe(event, context):
    def attempt(path):
        try:
            with open(path, "w") as f:
                f.write("x")
            return "written"
        except OSError as e:
            return e.errno
    status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
    interfaces = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]
    return {
        "uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "cap_eff": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
        "write_task": attempt("/var/task/new.txt"), "write_etc": attempt("/etc/new.txt"),
        "write_root": attempt("/new.txt"), "write_tmp": attempt("/tmp/ok.txt"),
        "interfaces": interfaces,
        "host_paths": [p for p in ("/work", "/root", "/home", "/var/run/docker.sock", "/run/docker.sock",
                                   "/sys/fs/cgroup", "/run/cg/memory") if os.path.exists(p)],
    }


def context_env(event, context):
    keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "TZ",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "MY_VAR"]
    cc = context.client_context
    return {
        "env": {k: os.environ.get(k) for k in keys},
        "function_name": context.function_name, "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb, "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn, "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name, "remaining": context.get_remaining_time_in_millis(),
        "identity_id": context.identity.cognito_identity_id,
        "client_custom": cc.custom if cc else None,
        "client_app_title": cc.client.app_title if cc and cc.client else None,
        "cwd": os.getcwd(),
    }


def fetch(event, context):
    import urllib.request
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/ping", timeout=5) as response:
        body = response.read().decode()
    import socket
    try:
        socket.create_connection(("127.0.0.1", event["closed_port"]), timeout=1).close()
        other = "connected"
    except OSError as e:
        other = type(e).__name__
    return {"body": body, "other": other}


def logs(event, context):
    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    logger.info("informative")
    print("line one\\nline two")
    print("to stderr", file=sys.stderr)
    return None
'''

BAD_IMPORT = "import nonexistent_module_xyz\n\ndef handler(event, context):\n    return 1\n"
BAD_SYNTAX = "def handler(event, context)\n    return 1\n"
BAD_INIT = "raise ValueError('init exploded')\n"
INIT_HOG = "HOG = b'x' * (300 << 20)\n\ndef handler(event, context):\n    return len(HOG)\n"


class SandboxLab:
    """A started SandboxManager plus helpers to build FunctionSpecs over one code directory."""

    def __init__(self) -> None:
        self.code = Path(tempfile.mkdtemp(prefix="tr-sbx-code-"))
        for name, text in {"app.py": APP, "bad.py": BAD_IMPORT, "syn.py": BAD_SYNTAX,
                           "initfail.py": BAD_INIT, "inithog.py": INIT_HOG}.items():
            (self.code / name).write_text(textwrap.dedent(text))
        os.chmod(self.code, 0o755)
        for p in self.code.iterdir():
            os.chmod(p, 0o644)
        self.loop = asyncio.new_event_loop()
        self.manager = SandboxManager(cgroup_root=f"tr-t-{uuid.uuid4().hex[:8]}",
                                      endpoint_url="http://127.0.0.1:4566")
        self.run(self.manager.start())

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def fn(self, handler: str, **overrides) -> FunctionSpec:
        name = overrides.pop("name", "fn-" + handler.replace(".", "-"))
        values = dict(name=name, version="$LATEST",
                      arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}", handler=handler,
                      runtime="python3.11", code_dir=self.code, memory_mb=128, timeout_s=3.0)
        values.update(overrides)
        return FunctionSpec(**values)

    def invoke(self, fn: FunctionSpec, payload: bytes = b"{}", **kw):
        kw.setdefault("request_id", str(uuid.uuid4()))
        return self.run(self.manager.invoke(fn, payload, **kw))

    def close(self) -> None:
        try:
            self.run(self.manager.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.code, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[SandboxLab]:
    if os.geteuid() != 0:
        pytest.skip("needs root: cgroups and the sandbox uid")
    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap (apt-get install bubblewrap)")
    lab = SandboxLab()
    try:
        yield lab
    finally:
        lab.close()
