"""The supported-operations table is the running server's own: `GET /_terrarium/operations` (the gateway's
dispatcher after every cleanup context registered its providers, S3 included) equals what the offline
registry behind `terrarium operations` and the README builds; and the gateway answers every operation the
table leaves out with 501 NotImplemented."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runtime import operations_table
from tests.server import REPO


def live_table(server) -> list[dict]:
    with urllib.request.urlopen(f"{server.endpoint}/_terrarium/operations", timeout=10) as reply:
        return json.loads(reply.read())


def test_live_registry_equals_the_offline_table(server):
    assert live_table(server) == operations_table.table(operations_table.registry())


def test_cli_json_for_one_service_matches_the_route(server):
    result = subprocess.run([sys.executable, "-m", "runtime", "operations", "lambda", "--json"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert "Invoke" in row["Operations"]
    assert row == next(r for r in live_table(server) if r["Service"] == "lambda")


def minimal_input(shape, depth: int = 0):
    """The smallest value of `shape` that passes the model's checks (required members, lengths, ranges, enums)."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":  # a present structure needs one member to appear on the wire at all
        names = (shape.required_members or list(shape.members)[:1]) if depth else shape.required_members
        return {name: minimal_input(shape.members[name], depth + 1) for name in names}
    if kind == "list":
        return [minimal_input(shape.member, depth + 1) for _ in range(max(meta.get("min", 0), 1))]
    if kind == "string":
        return shape.enum[0] if shape.enum else "x" * max(meta.get("min", 0), 1)
    if kind in ("integer", "long"):
        return int(meta.get("min", 1))
    if kind == "map":
        return {minimal_input(shape.key, depth + 1): minimal_input(shape.value, depth + 1)}
    return {"boolean": False, "blob": b"x", "timestamp": datetime.now(timezone.utc)}.get(kind, 1.0)


@pytest.mark.parametrize("service", ["sts", "logs"])
def test_every_unlisted_operation_answers_not_implemented(server, service):
    """Each operation of the model the table leaves out, called with valid parameters, answers 501."""
    [row] = operations_table.table(operations_table.registry(), service)
    client = server.client(service, config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    model = client.meta.service_model
    answered = {}
    for name in sorted(set(model.operation_names) - set(row["Operations"])):
        operation = model.operation_model(name)
        params = minimal_input(operation.input_shape) if operation.input_shape else {}
        with pytest.raises(ClientError) as caught:
            client._make_api_call(name, params)
        answered[name] = (caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
                          caught.value.response["Error"]["Message"])
    wrong = {name: answer for name, answer in answered.items() if answer[0] != 501}
    assert answered and wrong == {}
