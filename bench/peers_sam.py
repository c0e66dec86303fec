"""AWS SAM CLI's `sam local start-lambda` as a Lambda peer for bench/lambda.py, set up and torn down here.

    with sam_local_lambda(HANDLER_SOURCE) as peer:   # boto3 Invoke endpoint at peer.endpoint_url
        ...                                           # function name peer.function; peer.idle_memory_mb()

What it needs, and how it gets it on this host (no registry, no route out):
- **aws-sam-cli** in its own virtualenv (`$TR_SAM_VENV`, default /var/cache/terrarium/bench/sam-venv), made with
  pip on first use. Not in the project's .venv: aws-sam-cli 1.170 pins boto3/botocore < 1.44 and click 8.1, and
  would downgrade the botocore models Terrarium serves.
- **`public.ecr.aws/lambda/python:3.11-x86_64`**, AWS's base image, which SAM insists on: built by Terrarium's
  image builder from `bench/images/sam-python3.11` (Debian 12 CPython 3.11, awslambdaric, boto3, AWS's
  /lambda-entrypoint.sh), plus the Runtime Interface Emulator shipped in the aws-sam-cli wheel. SAM then builds
  its `...:3.11-rapid-x86_64` layer (RIE at /var/rapid) itself, with `--skip-pull-image`.
- **A Docker network.** dockerd here runs with `--bridge=none --iptables=false`, so SAM's container needs a
  user-defined bridge, `tr-bench-sam` (`--docker-network`), for docker-proxy to publish its RIE port on
  127.0.0.1. It is not `--internal`: Docker publishes no ports on internal networks (checked: no docker-proxy,
  empty port map), and with `--iptables=false` "internal" enforces nothing anyway (the container still gets a
  default route). Isolation is ours instead: an nftables table `tr-bench-sam` drops everything forwarded to or
  from the bridge and every new connection from it to the host, and the bridge does no masquerading.
- **The container must start on that network.** SAM creates its container on the default network and only then
  connects it to `--docker-network`; with no default bridge, dockerd 20.10 starts it with only `lo` (the veth
  is made but never moved in, so docker-proxy's connections are reset). SAM therefore runs through `LAUNCHER`,
  which makes docker-py create SAM's containers directly on `tr-bench-sam` and skips the then redundant connect;
  SAM itself is unchanged.
- **No calls out from SAM itself**: telemetry off, the weekly PyPI version check marked done in a private config
  dir, fixed fake credentials and region (so botocore never asks the instance metadata service).
Everything is removed on exit: SAM (SIGTERM, which stops its warm containers), any container left on the network,
the network, the nftables table and the images built or tagged here (the recipe's rootfs stays cached for
`terrarium images prune`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runtime.host.docker import images  # noqa: E402
from runtime.host.docker.client import connect, docker_errors  # noqa: E402
from runtime.host.docker.recipes import parse_manifest  # noqa: E402
from runtime.errors import NotFound  # noqa: E402
from runtime.sandbox.cgroups import detect  # noqa: E402

SAM_VERSION = "1.170.0"
SAM_VENV = Path(os.environ.get("TR_SAM_VENV", "/var/cache/terrarium/bench/sam-venv"))
RECIPE = Path(__file__).resolve().parent / "images" / "sam-python3.11" / "image.toml"
AWS_IMAGE = "public.ecr.aws/lambda/python:3.11-x86_64"
RAPID_IMAGE = "public.ecr.aws/lambda/python:3.11-rapid-x86_64"
NETWORK = "tr-bench-sam"
NFT_TABLE = "tr-bench-sam"
FUNCTION = "Bench"
TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  {function}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.11
      Architectures: [x86_64]
      MemorySize: 128
      Timeout: 30
"""

# Runs SAM's own CLI entry point with docker-py creating containers on TR_SAM_DOCKER_NETWORK (see the docstring).
LAUNCHER = """
import os, sys
import docker.models.containers as containers
import docker.models.networks as networks
NETWORK = os.environ["TR_SAM_DOCKER_NETWORK"]
_create, _connect = containers.ContainerCollection.create, networks.Network.connect
def create(self, image, command=None, **kwargs):
    kwargs.setdefault("network", NETWORK)
    return _create(self, image, command, **kwargs)
def connect(self, container, *args, **kwargs):
    return None if self.name == NETWORK else _connect(self, container, *args, **kwargs)
containers.ContainerCollection.create, networks.Network.connect = create, connect
from samcli.cli.main import cli
sys.argv[0] = "sam"
sys.exit(cli())
"""

Progress = Callable[[str], None]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def sam_executable(progress: Progress = _say) -> Path:
    """The `sam` of the bench's own virtualenv, installing aws-sam-cli there with pip when it is missing."""
    sam = SAM_VENV / "bin" / "sam"
    if sam.is_file():
        return sam
    progress(f"installing aws-sam-cli {SAM_VERSION} into {SAM_VENV}")
    subprocess.run([sys.executable, "-m", "venv", str(SAM_VENV)], check=True)
    subprocess.run([str(SAM_VENV / "bin" / "pip"), "install", "--quiet", f"aws-sam-cli=={SAM_VERSION}"], check=True)
    return sam


def _rie(sam: Path) -> Path:
    found = sorted(sam.parent.parent.glob("lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64"))
    if not found:
        raise NotFound(f"no aws-lambda-rie-x86_64 in the aws-sam-cli install under {sam.parent.parent}")
    return found[0]


def build_image(sam: Path, progress: Progress = _say) -> str:
    """Build the recipe with Terrarium's builder, add the RIE and tag the result as AWS's python3.11 image."""
    recipe = parse_manifest(RECIPE)
    client = connect()
    images._build_one(client, recipe, False, progress)
    with tempfile.TemporaryDirectory(prefix="tr-bench-sam-image-") as ctx:
        shutil.copy(_rie(sam), Path(ctx, "aws-lambda-rie"))
        Path(ctx, "Dockerfile").write_text(
            f"FROM {recipe.tag}\nCOPY aws-lambda-rie /usr/local/bin/aws-lambda-rie\n"
            "LABEL terrarium=1 terrarium.bench=sam\n")
        with docker_errors(f"building {AWS_IMAGE}"):
            client.images.build(path=ctx, tag=AWS_IMAGE, rm=True, forcerm=True, pull=False, network_mode="none")
        # SAM's own rapid layer (RIE at /var/rapid), made now so that SAM's first invoke measures a cold start,
        # not an image build: SAM reuses a rapid image that exists.
        Path(ctx, "Dockerfile").write_text(
            f"FROM {AWS_IMAGE}\nCOPY aws-lambda-rie /var/rapid/aws-lambda-rie\n")
        with docker_errors(f"building {RAPID_IMAGE}"):
            client.images.build(path=ctx, tag=RAPID_IMAGE, rm=True, forcerm=True, pull=False, network_mode="none")
    return recipe.tag


def remove_images(recipe_tag: str) -> None:
    client = connect()
    for tag in (RAPID_IMAGE, AWS_IMAGE, recipe_tag):
        try:
            with docker_errors(f"removing {tag}"):
                client.images.remove(tag, force=True)
        except NotFound:
            pass


NFT_RULES = f"""table inet {NFT_TABLE} {{
    chain forward {{
        type filter hook forward priority -10; policy accept;
        iifname "{NETWORK}" drop
        oifname "{NETWORK}" drop
    }}
    chain input {{
        type filter hook input priority -10; policy accept;
        iifname "{NETWORK}" ct state established,related accept
        iifname "{NETWORK}" drop
    }}
}}
"""


def _nft(args: list[str], stdin: str | None = None) -> None:
    subprocess.run(["nft", *args], input=stdin, text=True, check=True, capture_output=True)


def _remove_network(client) -> None:
    """Remove the network and every container on it. A container created on the absent default `bridge`
    network leaves a stale endpoint behind when removed (dockerd 20.10), so endpoints are force-disconnected."""
    for network in client.networks.list(names=[NETWORK]):
        network.reload()
        for container_id, endpoint in (network.attrs.get("Containers") or {}).items():
            try:
                with docker_errors(f"removing container {container_id[:12]}"):
                    client.api.remove_container(container_id, force=True)
            except NotFound:
                pass
            try:
                with docker_errors(f"disconnecting {endpoint.get('Name')}"):
                    client.api.disconnect_container_from_network(endpoint.get("Name") or container_id,
                                                                 network.id, force=True)
            except NotFound:
                pass
        network.remove()


@contextmanager
def isolated_network() -> Iterator[str]:
    """The bridge SAM's containers join: ports published on loopback only, nothing forwarded anywhere."""
    client = connect()
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)
    _nft(["-f", "-"], NFT_RULES)
    try:
        with docker_errors(f"creating network {NETWORK}"):
            _remove_network(client)
            client.networks.create(NETWORK, driver="bridge", labels={"terrarium": "1"}, options={
                "com.docker.network.bridge.name": NETWORK,
                "com.docker.network.bridge.enable_ip_masquerade": "false",
                "com.docker.network.bridge.host_binding_ipv4": "127.0.0.1"})
        yield NETWORK
    finally:
        try:
            with docker_errors(f"removing network {NETWORK}"):
                _remove_network(client)
        finally:
            subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)


def stop(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM, then SIGKILL after `grace_s`."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sam_env(config_dir: Path) -> dict[str, str]:
    """SAM's environment: no telemetry, version check already done, credentials that need no lookup."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "metadata.json").write_text(json.dumps({"telemetryEnabled": False,
                                                          "lastVersionCheck": time.time()}))
    keep = ("PATH", "HOME", "LANG", "DOCKER_HOST")
    return {**{k: v for k, v in os.environ.items() if k in keep}, "SAM_CLI_TELEMETRY": "0",
            "__SAM_CLI_APP_DIR": str(config_dir), "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def _wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sam exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"sam did not listen on {port} within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


@dataclass
class SamPeer:
    endpoint_url: str
    function: str
    log: Path

    def idle_memory_mb(self) -> float:
        """Host memory of the function's warm container (its cgroup: processes and page cache), in MiB."""
        client = connect()
        with docker_errors("listing SAM's containers"):
            found = client.containers.list(filters={"network": NETWORK})
        cgroups = detect("docker")
        sizes = [cgroups.usage_bytes(c.id) for c in found]
        return sum(sizes) / len(sizes) / 2**20 if sizes else float("nan")


@contextmanager
def sam_local_lambda(handler_source: str, *, warm_containers: str = "LAZY",
                     progress: Progress = _say) -> Iterator[SamPeer]:
    """`sam local start-lambda` serving one function (`app.handler` = `handler_source`) on 127.0.0.1.

    With LAZY warm containers the first invoke pays container create + start + Init (SAM's cold start) and
    later invokes reuse that container, one at a time (SAM's default AWS_LAMBDA_MAX_CONCURRENCY is 1)."""
    sam = sam_executable(progress)
    progress(f"building {AWS_IMAGE} for SAM")
    recipe_tag = build_image(sam, progress)
    work = Path(tempfile.mkdtemp(prefix="tr-bench-sam-"))
    proc = None
    try:
        (work / "code").mkdir()
        (work / "code" / "app.py").write_text(handler_source)
        (work / "template.yaml").write_text(TEMPLATE.format(function=FUNCTION))
        log = work / "sam.log"
        port = _free_port()
        with isolated_network() as network:
            with open(log, "w") as out:
                proc = subprocess.Popen(
                    [str(sam.parent / "python"), "-c", LAUNCHER, "local", "start-lambda", "--host", "127.0.0.1", "--port", str(port),
                     "--template", str(work / "template.yaml"), "--warm-containers", warm_containers,
                     "--skip-pull-image", "--docker-network", network, "--container-host", "127.0.0.1",
                     "--container-host-interface", "127.0.0.1"],
                    cwd=work, env={**_sam_env(work / "config"), "TR_SAM_DOCKER_NETWORK": network}, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
            try:
                _wait_listening(port, proc, log)
                yield SamPeer(f"http://127.0.0.1:{port}", FUNCTION, log)
            finally:
                stop(proc, 30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        remove_images(recipe_tag)
