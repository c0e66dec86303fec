"""The zygote's bwrap command line and the environment AWS gives a function."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from runtime.sandbox.cgroups import CgroupsV1, CgroupsV2, detect
from runtime.sandbox.fake import RecordingSandbox
from runtime.sandbox.layout import blocked_for_sandbox, bwrap_argv, function_env, root_args
from runtime.sandbox.manager import zygote_key
from runtime.sandbox.ports import FunctionSpec

FN = FunctionSpec(name="f", version="$LATEST", arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                  handler="app.handler", runtime="python3.11", code_dir=Path("/srv/code"), memory_mb=256,
                  environment={"MY": "1", "AWS_REGION": "user-cannot-override"},
                  role_credentials={"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "SessionToken": "t"})


def test_reserved_variables_win_over_user_ones():
    env = function_env(FN, region="eu-west-1", endpoint_url="http://10.0.0.1:4566")
    assert env["MY"] == "1" and env["AWS_REGION"] == "eu-west-1" and env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_ACCESS_KEY"] == "ASIA1" and env["AWS_SESSION_TOKEN"] == "t"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == "http://10.0.0.1:4566" and env["TZ"] == ":UTC"
    assert "AWS_ENDPOINT_URL" not in function_env(FN, region="us-east-1", endpoint_url=None)


def test_host_rootfs_exposes_only_system_directories():
    args = root_args(Path("/"))
    targets = {args[i + 2] for i, a in enumerate(args) if a in ("--ro-bind", "--symlink")}
    assert targets <= {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}
    assert "/usr" in targets


def test_image_rootfs_is_mirrored_read_only(tmp_path):
    for d in ("usr/bin", "etc", "var/lang/bin", "var/runtime/lib", "var/task", "home/u", "proc"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "bin").symlink_to("usr/bin")
    args = root_args(tmp_path)
    binds = {args[i + 2]: args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"}
    assert binds["/usr"] == str(tmp_path / "usr") and binds["/var/lang"] == str(tmp_path / "var/lang")
    assert binds["/var/runtime/lib"] == str(tmp_path / "var/runtime/lib")
    assert "/var/task" not in binds and "/home" not in binds and "/proc" not in binds
    assert ["--symlink", "usr/bin", "/bin"] == args[args.index("--symlink"):args.index("--symlink") + 3]


def test_paths_the_sandbox_uid_cannot_reach_are_named(tmp_path):
    assert blocked_for_sandbox(tmp_path) is not None  # pytest's own tmp root is 0700
    base = Path(tempfile.mkdtemp(prefix="tr-unit-"))
    try:
        code = base / "outer" / "code"
        code.mkdir(parents=True)
        for d in (base, base / "outer", code):
            d.chmod(0o755)
        assert blocked_for_sandbox(code) is None
        (base / "outer").chmod(0o700)
        assert blocked_for_sandbox(code) == base / "outer"
        (base / "outer").chmod(0o755)
        code.chmod(0o711)
        assert blocked_for_sandbox(code) == code
    finally:
        shutil.rmtree(base)


def test_bwrap_argv_shape():
    argv = bwrap_argv(FN, cgroup_dirs={"memory": Path("/sys/fs/cgroup/memory/tr-l/tr-f")})
    assert not any("ASIA1" in a or a == "--setenv" for a in argv)  # credentials never in a readable argv
    assert argv[0] == "bwrap" and "--unshare-net" in argv and argv[argv.index("--cap-drop") + 1] == "ALL"
    assert argv[argv.index("/srv/code") - 1] == "--ro-bind" and argv[argv.index("/srv/code") + 1] == "/var/task"
    assert ["--bind", "/sys/fs/cgroup/memory/tr-l/tr-f", "/run/cg/memory"] == argv[
        argv.index("/run/cg/memory") - 2:argv.index("/run/cg/memory") + 1]
    assert argv[-4:] == ["/usr/bin/python3", "-B", "/var/runtime/terrarium/zygote.py", "app.handler"]
    assert argv.index("--remount-ro") > argv.index("--proc")


def test_zygote_key_ignores_rotating_credentials_only():
    rotated = FunctionSpec(**{**FN.__dict__, "role_credentials": {"AccessKeyId": "ASIA2", "SecretAccessKey": "x"}})
    resized = FunctionSpec(**{**FN.__dict__, "memory_mb": 512})
    assert zygote_key(rotated) == zygote_key(FN) != zygote_key(resized)


def test_cgroup_version_detection(tmp_path):
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "cgroup.procs").write_text("")
    assert isinstance(detect("tr-x", tmp_path), CgroupsV1)
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    v2 = detect("tr-x", tmp_path)
    assert isinstance(v2, CgroupsV2) and v2.dirs("tr-f/zygote") == {"unified": tmp_path / "tr-x/tr-f/zygote"}


async def _fake_round_trip():
    fake = RecordingSandbox()
    result = await fake.invoke(FN, b'{"a": 1}', request_id="rid")
    await fake.invalidate(FN.arn)
    return fake, result


def test_recording_fake_echoes_and_records():
    import asyncio
    fake, result = asyncio.run(_fake_round_trip())
    assert result.payload == b'{"a": 1}' and result.logs[0] == "START RequestId: rid Version: $LATEST"
    assert fake.invokes[0].request_id == "rid" and fake.invalidated == [FN.arn]
