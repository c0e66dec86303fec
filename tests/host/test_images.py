"""Real image builds and real containers: the AMI's init and the Lambda runtime's bootstrap.

The session fixture builds whatever recipe has no image for its current hash (a cold build takes about a
minute per Debian suite; a cached run is a no-op). AMI containers start with `--network none`; a test then plugs
a veth into the container as eth0, with the far end in a throwaway namespace `tr-ti-*` that serves a metadata
stub at 169.254.169.254. Traffic never leaves namespaces this test created. The Lambda runtime is driven through
a Runtime API server on a unix socket bind-mounted into a `--network none` container.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socketserver
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from runtime.host.docker import images

pytestmark = pytest.mark.host

IMDS_STUB = textwrap.dedent('''
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    config = json.load(open(sys.argv[1]))
    log = open(sys.argv[2], "a", buffering=1)
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def answer(self, status, body=b""):
            self.send_response(status); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def do_PUT(self):
            log.write(f"PUT {self.path}\\n")
            if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.answer(200, b"stub-token")
            self.answer(400)
        def do_GET(self):
            log.write(f"GET {self.path} {self.headers.get('X-aws-ec2-metadata-token')}\\n")
            if self.headers.get("X-aws-ec2-metadata-token") != "stub-token":
                return self.answer(401)
            value = config.get(self.path)
            self.answer(404) if value is None else self.answer(200, value.encode())
    ThreadingHTTPServer(("169.254.169.254", 80), H).serve_forever()
''')

USER_DATA = """#!/bin/sh
echo "hello from user data as $(id -un)"
date +%s%N >>/var/tmp/user-data-runs
nohup python3 -m http.server 8080 --bind 0.0.0.0 >/var/tmp/http.log 2>&1 &
"""


def sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="session")
def built() -> dict[str, images.BuiltImage]:
    return {b.name: b for b in images.build(progress=print)}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def logs(name: str) -> str:
    """Container output as written (no newline translation: AWS's error log line joins lines with CR)."""
    r = subprocess.run(["docker", "logs", name], capture_output=True, timeout=30)
    return (r.stdout + r.stderr).decode(errors="replace")


@pytest.fixture
def container_name():
    name = f"tr-test-{secrets.token_hex(4)}"
    yield name
    sh("docker", "rm", "-f", name, check=False)


# --------------------------------------------------------------------------------------------------- AMIs

class Instance:
    """An AMI container plus the test's side of its network: namespace, veth, metadata stub, SSH key."""

    ADDR = "169.254.10.2"

    def __init__(self, name: str, image: str, tmp: Path, user_data: str = USER_DATA) -> None:
        self.name, self.image, self.tmp = name, image, tmp
        self.netns = f"tr-ti-{secrets.token_hex(3)}"
        self.stub: subprocess.Popen | None = None
        self.key = tmp / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key))
        self.config = tmp / "imds.json"
        self.config.write_text(json.dumps({
            "/latest/meta-data/instance-id": "i-0123456789abcdef0",
            "/latest/meta-data/public-keys/0/openssh-key": (tmp / "id_ed25519.pub").read_text(),
            "/latest/user-data": user_data,
        }))
        self.imds_log = tmp / "imds.log"

    def start(self) -> None:
        sh("docker", "run", "-d", "--name", self.name, "--network", "none", "--hostname", "ip-169-254-10-2",
           self.image)
        sh("ip", "netns", "add", self.netns)
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        # The stub's address lives on lo so it survives re-plugging; ARP answers for it on the veth.
        sh("ip", "-n", self.netns, "addr", "add", "169.254.169.254/32", "dev", "lo")
        stub = self.tmp / "imds_stub.py"
        stub.write_text(IMDS_STUB)
        self.stub = subprocess.Popen(["ip", "netns", "exec", self.netns, sys.executable, str(stub),
                                      str(self.config), str(self.imds_log)])

    def plug(self) -> None:
        """Give the (re)started container an eth0, as the VPC realiser will."""
        pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", self.name).stdout.strip()
        host_end, guest_end = f"{self.netns}h", f"{self.netns}g"
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", guest_end)
        sh("ip", "link", "set", host_end, "netns", self.netns)
        sh("ip", "-n", self.netns, "addr", "add", "169.254.0.1/16", "dev", host_end)
        sh("ip", "-n", self.netns, "link", "set", host_end, "up")
        sh("ip", "link", "set", guest_end, "netns", pid)
        inside = ["nsenter", f"--net=/proc/{pid}/ns/net", "ip"]
        sh(*inside, "link", "set", guest_end, "name", "eth0")
        sh(*inside, "addr", "add", f"{self.ADDR}/16", "dev", "eth0")
        sh(*inside, "link", "set", "eth0", "up")

    def unplug(self) -> None:
        sh("ip", "-n", self.netns, "link", "del", f"{self.netns}h", check=False)

    def ssh(self, command: str) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.netns, "ssh", "-i", str(self.key), "-o", "BatchMode=yes",
                  "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                  "-o", "ConnectTimeout=5", f"admin@{self.ADDR}", command, check=False)

    def exec(self, *argv: str) -> str:
        return sh("docker", "exec", self.name, *argv).stdout

    def close(self) -> None:
        if self.stub is not None:
            self.stub.terminate()
            self.stub.wait(5)
        sh("docker", "rm", "-f", self.name, check=False)
        sh("ip", "netns", "del", self.netns, check=False)


@pytest.fixture(params=["debian-12", "debian-13"])
def any_instance(request, built, container_name, tmp_path):
    if request.param not in built:
        pytest.skip(f"no {request.param} recipe")
    inst = Instance(container_name, built[request.param].tag, tmp_path)
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture
def instance(built, container_name, tmp_path):
    inst = Instance(container_name, built["debian-12"].tag, tmp_path)
    try:
        yield inst
    finally:
        inst.close()


def boots_finished(inst: Instance) -> int:
    return logs(inst.name).count("terrarium-init: boot finished")


def test_ami_boots_with_imds_key_and_user_data_once(any_instance: Instance) -> None:
    instance = any_instance
    instance.start()
    assert wait_for(lambda: "waiting for eth0" in logs(instance.name), 10, "init to wait for eth0")
    assert instance.exec("cat", "/proc/1/cmdline").split("\0")[:2] == ["/usr/bin/python3", "/usr/sbin/terrarium-init"]
    assert boots_finished(instance) == 0
    instance.plug()
    wait_for(lambda: boots_finished(instance) == 1, 30, "first boot to finish")

    console = logs(instance.name)
    assert "hello from user data as root" in console
    assert "hello from user data as root" in instance.exec("cat", "/var/log/cloud-init-output.log")
    imds_requests = instance.imds_log.read_text().splitlines()
    assert imds_requests[0] == "PUT /latest/api/token"
    assert "GET /latest/user-data stub-token" in imds_requests

    who = instance.ssh("id -un; sudo -n id -u; python3 -c 'print(6 * 7)'")
    assert who.returncode == 0, who.stderr
    assert who.stdout.split() == ["admin", "0", "42"]
    web = instance.ssh("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/")
    assert web.stdout == "200", "the web server started by user data answers"

    sh("docker", "stop", "-t", "10", instance.name)
    exit_code = sh("docker", "inspect", "-f", "{{.State.ExitCode}}", instance.name).stdout.strip()
    assert exit_code == "0", "init stops on SIGTERM (137 would mean Docker had to kill it)"
    sh("docker", "start", instance.name)
    instance.unplug()
    instance.plug()
    wait_for(lambda: boots_finished(instance) == 2, 30, "second boot to finish")
    assert len(instance.exec("cat", "/var/tmp/user-data-runs").split()) == 1, "user data ran exactly once"
    assert instance.ssh("true").returncode == 0, "the key still works after a restart"


CLOUD_CONFIG = """#cloud-config
write_files:
  - path: /etc/terrarium-test.conf
    content: "hello=world\\n"
    permissions: "0600"
  - path: /home/admin/note.txt
    encoding: b64
    content: aGVsbG8=
    owner: admin:admin
    permissions: 0640
  - path: /etc/broken.conf
    owner: nobody-such-user
runcmd:
  - echo "runcmd says hi"
  - [sh, -c, "echo from a list > /var/tmp/runcmd-list"]
packages: [nginx]
"""


def test_ami_runs_the_cloud_config_subset(built, container_name, tmp_path) -> None:
    inst = Instance(container_name, built["debian-12"].tag, tmp_path, user_data=CLOUD_CONFIG)
    try:
        inst.start()
        inst.plug()
        wait_for(lambda: boots_finished(inst) == 1, 30, "first boot to finish")
        assert inst.exec("stat", "-c", "%a %U %n", "/etc/terrarium-test.conf", "/home/admin/note.txt").split("\n")[:2] \
            == ["600 root /etc/terrarium-test.conf", "640 admin /home/admin/note.txt"]
        assert inst.exec("cat", "/etc/terrarium-test.conf") == "hello=world\n"
        assert inst.exec("cat", "/home/admin/note.txt") == "hello"
        assert inst.exec("cat", "/var/tmp/runcmd-list") == "from a list\n"
        output = inst.exec("cat", "/var/log/cloud-init-output.log")
        assert "runcmd says hi" in output and "runcmd says hi" in logs(inst.name)
        assert "ignored: packages" in output
        assert "write_files entry {'path': '/etc/broken.conf'" in output, "a bad entry is reported, the rest runs"
    finally:
        inst.close()


def test_ami_reaps_orphans_and_powers_off_from_inside(instance: Instance) -> None:
    instance.start()
    wait_for(lambda: "waiting for eth0" in logs(instance.name), 10, "init to start")
    sh("docker", "exec", instance.name, "sh", "-c", "(sleep 0.2 &) ; (sleep 0.3 &) ; exit 0")
    time.sleep(1.0)
    states = instance.exec("ps", "-eo", "stat=,comm=")
    assert not [line for line in states.splitlines() if line.strip().startswith("Z")], states
    sh("docker", "exec", instance.name, "poweroff", check=False)  # the exec may itself be stopped by init
    wait_for(lambda: sh("docker", "inspect", "-f", "{{.State.Running}}", instance.name).stdout.strip() == "false",
             10, "the container to stop after poweroff")
    assert sh("docker", "inspect", "-f", "{{.State.ExitCode}}", instance.name).stdout.strip() == "0"


def test_ami_reboot_from_inside_exits_with_the_reboot_code(instance: Instance) -> None:
    instance.start()
    wait_for(lambda: "waiting for eth0" in logs(instance.name), 10, "init to start")
    sh("docker", "exec", instance.name, "reboot", check=False)
    code = wait_for(lambda: sh("docker", "wait", instance.name).stdout.strip(), 10, "the container to exit")
    assert code == "129"


@pytest.mark.parametrize("name", ["debian-12", "debian-13"])
def test_ami_contents(built, name: str) -> None:
    if name not in built:
        pytest.skip(f"no {name} recipe")
    script = "python3 -c 'import json, http.server, venv; print(1)' && id admin && sudo -V >/dev/null && " \
             "ls /usr/sbin/sshd /usr/bin/curl /usr/bin/ping /usr/sbin/ip /usr/bin/ps && ls /etc/ssh/ | grep -c host"
    r = sh("docker", "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", built[name].tag, "-c", script,
           check=False)
    assert r.returncode == 1 and r.stdout.splitlines()[-1] == "0", "tools present and no baked-in host keys"
    assert built[name].size < 250e6


# ------------------------------------------------------------------------------------------- Lambda runtime

class RuntimeApi:
    """A Runtime API (2018-06-01) server on a unix socket: queue events, collect what the runtime posts."""

    def __init__(self, socket_path: Path) -> None:
        self.events: queue.Queue[tuple[str, bytes, dict[str, str]]] = queue.Queue()
        self.posts: queue.Queue[tuple[str, str, dict, dict[str, str]]] = queue.Queue()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def reply(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                assert self.path == "/2018-06-01/runtime/invocation/next", self.path
                request_id, body, headers = api.events.get()
                self.reply(200, body, {"Lambda-Runtime-Aws-Request-Id": request_id, **headers})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.split("/")
                kind = "init-error" if self.path.endswith("/init/error") else parts[-1]
                request_id = "" if kind == "init-error" else parts[-2]
                api.posts.put((kind, request_id, json.loads(body), dict(self.headers)))
                self.reply(202, b'{"status":"OK"}')

            def address_string(self) -> str:
                return "unix"

        self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, event: object, headers: dict[str, str] | None = None, timeout: float = 30):
        request_id = secrets.token_hex(8)
        base = {"Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                "Content-Type": "application/json"}
        self.events.put((request_id, json.dumps(event).encode(), {**base, **(headers or {})}))
        return request_id, self.posts.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HANDLERS = textwrap.dedent('''
    import os, sys
    import boto3

    def context(event, context):
        print("log line from the handler")
        return {
            "event": event,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(),
            "identity": context.identity.cognito_identity_id,
            "client": context.client_context and context.client_context.client.app_title,
            "custom": context.client_context and context.client_context.custom,
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "boto3": boto3.__file__,
            "python": "%d.%d" % sys.version_info[:2],
            "cwd": os.getcwd(),
        }

    def fail(event, context):
        raise ValueError("boom " + event["why"])
''')


@pytest.fixture
def runtime_api(tmp_path):
    sock_dir = tmp_path / "rapi"
    sock_dir.mkdir()
    api = RuntimeApi(sock_dir / "runtime.sock")
    try:
        yield api, sock_dir
    finally:
        api.close()


def run_runtime(image: str, name: str, sock_dir: Path, task: Path, handler: str) -> None:
    sh("docker", "run", "-d", "--name", name, "--network", "none", "--read-only", "--tmpfs", "/tmp",
       "-v", f"{task}:/var/task:ro", "-v", f"{sock_dir}:/run/rapi",
       "-e", "AWS_LAMBDA_RUNTIME_API=unix:/run/rapi/runtime.sock", "-e", f"_HANDLER={handler}",
       "-e", "AWS_LAMBDA_FUNCTION_NAME=fn", "-e", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
       "-e", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "-e", "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn",
       "-e", "AWS_LAMBDA_LOG_STREAM_NAME=2026/11/28/[$LATEST]0123", image)


@pytest.fixture
def task(tmp_path) -> Path:
    d = tmp_path / "task"
    d.mkdir()
    (d / "app.py").write_text(HANDLERS)
    os.chmod(d, 0o755)
    return d


RUNTIMES = [("python3.11", "3.11"), ("python3.13", "3.13")]


@pytest.mark.parametrize("runtime, version", RUNTIMES)
def test_bootstrap_runs_a_handler_with_the_full_context(built, runtime_api, task, container_name, runtime, version):
    api, sock_dir = runtime_api
    run_runtime(built[runtime].tag, container_name, sock_dir, task, "app.context")
    client_context = {"client": {"app_title": "terrarium-test"}, "custom": {"k": "v"}, "env": {}}
    request_id, (kind, posted_id, body, _) = api.invoke(
        {"hello": "world"}, {"Lambda-Runtime-Client-Context": json.dumps(client_context),
                             "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1"})})
    assert (kind, posted_id) == ("response", request_id)
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == "fn" and body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn"
    assert body["memory_limit_in_mb"] == "128" and body["aws_request_id"] == request_id
    assert body["log_group_name"] == "/aws/lambda/fn" and body["log_stream_name"] == "2026/11/28/[$LATEST]0123"
    assert 50_000 < body["remaining"] <= 60_000
    assert (body["identity"], body["client"], body["custom"]) == ("id-1", "terrarium-test", {"k": "v"})
    assert body["trace"].startswith("Root=1-5759e988")
    assert body["boto3"] == "/var/runtime/boto3/__init__.py" and body["python"] == version
    assert body["cwd"] == "/var/task"
    assert "log line from the handler" in logs(container_name)

    second_id, (kind, posted_id, body, _) = api.invoke({"n": 2})
    assert (kind, posted_id, body["event"]) == ("response", second_id, {"n": 2}), "the runtime loops"
    assert (body["identity"], body["client"]) == (None, None)


@pytest.mark.parametrize("runtime, version", RUNTIMES)
def test_bootstrap_reports_an_unhandled_exception_in_aws_shape(built, runtime_api, task, container_name, runtime,
                                                               version):
    api, sock_dir = runtime_api
    run_runtime(built[runtime].tag, container_name, sock_dir, task, "app.fail")
    request_id, (kind, posted_id, body, headers) = api.invoke({"why": "now"})
    line = HANDLERS.splitlines().index('    raise ValueError("boom " + event["why"])') + 1
    assert (kind, posted_id) == ("error", request_id)
    assert body == {
        "errorMessage": "boom now",
        "errorType": "ValueError",
        "requestId": request_id,
        "stackTrace": [f'  File "/var/task/app.py", line {line}, in fail\n    raise ValueError("boom " + event["why"])\n'],
    }
    assert headers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    assert "[ERROR] ValueError: boom now\rTraceback (most recent call last):" in logs(container_name)
    next_id, (kind, _, _, _) = api.invoke({"why": "again"})
    assert kind == "error", "an unhandled exception does not end the runtime"


@pytest.mark.parametrize("runtime, version", RUNTIMES)
@pytest.mark.parametrize("handler, expected", [
    ("app.nope", {"errorMessage": "Handler 'nope' missing on module 'app'",
                  "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}),
    ("missing_module.handler", {"errorMessage": "Unable to import module 'missing_module': "
                                                "No module named 'missing_module'",
                                "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}),
    ("nodot", {"errorMessage": "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)",
               "errorType": "Runtime.MalformedHandlerName", "requestId": "", "stackTrace": []}),
    ("sys.exit", {"errorMessage": "Cannot use built-in module sys as a handler module",
                  "errorType": "Runtime.BuiltInModuleConflict", "requestId": "", "stackTrace": []}),
])
def test_bootstrap_reports_init_errors_in_aws_shape(built, runtime_api, task, container_name, runtime, version,
                                                    handler, expected):
    api, sock_dir = runtime_api
    run_runtime(built[runtime].tag, container_name, sock_dir, task, handler)
    kind, request_id, body, headers = api.posts.get(timeout=30)
    assert (kind, request_id, body) == ("init-error", "", expected)
    assert headers["Lambda-Runtime-Function-Error-Type"] == expected["errorType"]
    assert sh("docker", "wait", container_name, timeout=30).stdout.strip() == "1"


@pytest.mark.parametrize("runtime, version", RUNTIMES)
def test_bootstrap_reports_a_syntax_error_in_aws_shape(built, runtime_api, task, container_name, runtime, version):
    api, sock_dir = runtime_api
    (task / "broken.py").write_text("def handler(event, context)\n    return 1\n")
    run_runtime(built[runtime].tag, container_name, sock_dir, task, "broken.handler")
    kind, _, body, _ = api.posts.get(timeout=30)
    assert kind == "init-error" and body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'broken': ")
    assert body["stackTrace"] == ['  File "/var/task/broken.py" Line 1\n    def handler(event, context)\n']


def test_lambda_images_are_small_and_labelled(built) -> None:
    for name in ("python3.11", "python3.13"):
        b = built[name]
        assert b.kind == "lambda-runtime" and b.size < 250e6 and b.tag == f"terrarium/{name}:{b.recipe_hash}"
    assert {b.name for b in images.list_built()} >= {"debian-12", "python3.11", "python3.13"}


def test_a_second_build_is_a_cache_hit(built) -> None:
    again = images.build(progress=lambda _: None)
    assert {b.name: b.image_id for b in again} == {n: b.image_id for n, b in built.items()}


def _derive(base: str, tag: str, dockerfile_tail: str) -> None:
    subprocess.run(["docker", "build", "-q", "--network", "none", "-t", tag, "-"], check=True, capture_output=True,
                   input=f"FROM {base}\n{dockerfile_tail}\n".encode(), timeout=120)


def test_prune_selects_outdated_images_only(built) -> None:
    """A dry run: a real prune here could remove images another checkout of the repository is testing."""
    stale, derived = "terrarium/debian-12:000000000000", "terrarium/debian-12:derived-by-a-user"
    _derive(built["debian-12"].tag, stale, "LABEL terrarium.recipe-hash=000000000000")
    _derive(built["debian-12"].tag, derived, "ENV DERIVED=1")
    try:
        selected = images.prune(progress=lambda _: None, dry_run=True)
        assert stale in selected, "an image of an outdated recipe hash goes"
        assert derived not in selected, "an image built FROM ours inherits our labels but is not ours"
        assert not {b.tag for b in built.values()} & set(selected)
        assert {b.tag for b in images.list_built()} >= {stale} and derived not in {b.tag for b in images.list_built()}
        assert sh("docker", "image", "inspect", stale, check=False).returncode == 0, "a dry run removes nothing"
    finally:
        sh("docker", "rmi", stale, derived, check=False)
