"""What every Lambda provider module shares: lookups, activation (Pending -> Active), and running an invocation.

`LambdaService` is opened by a cleanup context (`start()`/`close()`): it owns the background tasks that
activate functions and the one task that writes finished invocations to CloudWatch Logs and the billing
ledger, so a response never waits for those writes. Activation prepares what an invocation needs (the
unzipped code, the runtime's rootfs, a VPC function's Hyperplane ENIs realised on the host) and then flips
State/LastUpdateStatus; functions left Pending or InProgress by a previous run are activated again at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from runtime.api.context import RequestContext
from runtime.errors import AwsError, NotFound
from runtime.iam import policy as engine
from runtime.iam.authorizer import parsed
from runtime.sandbox.ports import FunctionSpec, InvocationResult, SandboxPort
from runtime.services.lambda_ import naming, shapes, vpc_access
from runtime.services.lambda_.billing import Ledger
from runtime.services.lambda_.code import CodeStore
from runtime.services.lambda_.errors import conflict, function_not_found
from runtime.services.lambda_.naming import LATEST, FunctionRef
from runtime.services.lambda_.roles import RoleCredentials
from runtime.services.lambda_.runtimes import RuntimeImages
from runtime.services.logs.provider import LogsProvider
from runtime.state import Record, Store

LOG = logging.getLogger(__name__)
ASYNC_TOPIC = "lambda.async"
ENI_READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class Target:
    """A resolved invocation target: the function, the configuration that runs, and the version it is."""

    function: Record
    config: Record
    version: str
    invoked_arn: str


class LambdaService:
    def __init__(self, store: Store, *, region: str, code: CodeStore, runtimes: RuntimeImages,
                 sandbox: SandboxPort, credentials: RoleCredentials, logs: LogsProvider, ledger: Ledger,
                 function_url_base: str) -> None:
        self.store = store
        self.region = region
        self.code = code
        self.runtimes = runtimes
        self.sandbox = sandbox
        self.credentials = credentials
        self.logs = logs
        self.ledger = ledger
        self.function_url_base = function_url_base.rstrip("/")
        self.async_wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._sink: asyncio.Queue | None = None
        self._sink_task: asyncio.Task | None = None
        self._streams: set[tuple[str, str, str]] = set()
        self._code_dirs: dict[str, Path] = {}
        self._rootfs: dict[str, Path] = {}

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.async_wakeup = asyncio.Event()  # bound to the running loop
        self._sink = asyncio.Queue()
        self._sink_task = asyncio.get_running_loop().create_task(self._drain_sink())
        for record in self.store.list(shapes.FUNCTION):
            if record.status.get("State") == "Pending" or record.status.get("LastUpdateStatus") == "InProgress":
                self.schedule_activation(record.id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sink is not None and self._sink_task is not None:
            await self._sink.put(None)
            await self._sink_task

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------------------- lookups

    def function(self, ref: FunctionRef) -> Record:
        try:
            return self.store.get(shapes.FUNCTION, ref.arn)
        except NotFound:
            raise function_not_found(ref.arn) from None

    def target(self, ref: FunctionRef) -> Target:
        """The configuration a qualifier selects: $LATEST, a published version, or an alias's version."""
        function = self.function(ref)
        qualifier = ref.qualifier or LATEST
        if qualifier == LATEST:
            return Target(function, function, LATEST, ref.qualified_arn if ref.qualifier else ref.arn)
        version = qualifier
        if not qualifier.isdigit():
            try:
                alias = self.store.get(shapes.ALIAS, ref.qualified_arn)
            except NotFound:
                raise function_not_found(ref.qualified_arn) from None
            version = alias.spec["FunctionVersion"]
        if version == LATEST:
            return Target(function, function, LATEST, ref.qualified_arn)
        try:
            config = self.store.get(shapes.VERSION, f"{ref.arn}:{version}")
        except NotFound:
            raise function_not_found(ref.qualified_arn) from None
        return Target(function, config, version, ref.qualified_arn)

    def resource_policy(self, ctx: RequestContext, resource_arn: str) -> str | None:
        """The function's resource policy governing `resource_arn` (the IAM engine's hook), as JSON text."""
        try:
            ref = naming.parse(ctx.region, ctx.account, resource_arn)
        except AwsError:  # not a function ARN ("*"): no resource policy applies
            return None
        try:
            function = self.store.get(shapes.FUNCTION, ref.arn)
        except NotFound:
            return None
        statements = function.spec.get("Policy", {}).get(ref.qualifier or LATEST)
        return json.dumps(policy_document(statements)) if statements else None

    def service_may_invoke(self, target: Target, service_principal: str, source_arn: str | None,
                           source_account: str | None) -> bool:
        """Does the function's resource policy let an AWS service (s3.amazonaws.com) invoke it for this source?
        Evaluated by the IAM engine with aws:SourceArn / aws:SourceAccount, as AWS does for event sources."""
        ref = naming.parse(self.region, target.function.account, target.invoked_arn)
        statements = target.function.spec.get("Policy", {}).get(ref.qualifier or LATEST)
        if not statements:
            return False
        keys = {k: v for k, v in (("aws:SourceArn", source_arn), ("aws:SourceAccount", source_account)) if v}
        request = engine.RequestContext(service_principal, "", "lambda:InvokeFunction", (target.invoked_arn,), keys)
        policy = parsed(json.dumps(policy_document(statements)), "resource")
        return engine.evaluate(request, (), policy) is engine.Decision.ALLOW

    # ---------------------------------------------------------------------------- activation

    def schedule_activation(self, function_arn: str) -> None:
        self._spawn(self._activate(function_arn))

    async def _activate(self, function_arn: str) -> None:
        try:
            record = self.store.get(shapes.FUNCTION, function_arn)
        except NotFound:
            return
        spec = record.spec
        try:
            await asyncio.to_thread(self.code.code_dir, spec["CodeHex"])
            await asyncio.to_thread(self.runtimes.rootfs, spec["Runtime"])
        except Exception as exc:  # noqa: BLE001 - any preparation failure is the function's Failed state
            LOG.warning("activating %s failed: %s", function_arn, exc)
            self._set_status(function_arn, {"State": "Failed", "StateReason": str(exc)[:500],
                                            "StateReasonCode": "InternalError", "LastUpdateStatus": "Failed",
                                            "LastUpdateStatusReason": str(exc)[:500],
                                            "LastUpdateStatusReasonCode": "InternalError"})
            return
        if not await self._network_ready(spec.get("HyperplaneEnis") or []):
            reason = "Lambda was not able to create its network interfaces in the function's VPC in time."
            self._set_status(function_arn, {"State": "Failed", "StateReason": reason,
                                            "StateReasonCode": "InternalError", "LastUpdateStatus": "Failed",
                                            "LastUpdateStatusReason": reason,
                                            "LastUpdateStatusReasonCode": "InternalError"})
            return
        await self.sandbox.invalidate(function_arn)
        self._set_status(function_arn, {"State": "Active", "StateReason": None, "StateReasonCode": None,
                                        "LastUpdateStatus": "Successful", "LastUpdateStatusReason": None,
                                        "LastUpdateStatusReasonCode": None})

    async def _network_ready(self, eni_ids: list[str]) -> bool:
        """A VPC function stays Pending until its Hyperplane ENIs are realised on the host, as on AWS."""
        deadline = time.monotonic() + ENI_READY_TIMEOUT_S
        while not vpc_access.ready(self.store, eni_ids):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def _set_status(self, function_arn: str, patch: dict) -> None:
        try:
            self.store.update_status(shapes.FUNCTION, function_arn, patch)
        except NotFound:
            pass

    # ---------------------------------------------------------------------------- invoke

    @staticmethod
    def check_invocable(target: Target) -> None:
        status = target.function.status
        if target.version == LATEST and status.get("State") != "Active":
            raise conflict("The operation cannot be performed at this time. The function is currently in the "
                           f"following state: {status.get('State', 'Pending')}")
        if target.version == LATEST and status.get("LastUpdateStatus") == "InProgress":
            raise conflict("The operation cannot be performed at this time. An update is in progress for "
                           f"resource: {target.function.id}")

    async def function_spec(self, target: Target) -> FunctionSpec:
        """The sandbox's view of the target. Paths and credentials come from in-memory caches after the first
        call, so a warm invocation makes no thread hop and no store write here."""
        spec = target.config.spec
        account = target.function.account
        code_dir = self._code_dirs.get(spec["CodeHex"])
        if code_dir is None:
            code_dir = self._code_dirs[spec["CodeHex"]] = await asyncio.to_thread(self.code.code_dir, spec["CodeHex"])
        rootfs = self._rootfs.get(spec["Runtime"])
        if rootfs is None:
            rootfs = self._rootfs[spec["Runtime"]] = await asyncio.to_thread(self.runtimes.rootfs, spec["Runtime"])
        creds = self.credentials.cached(spec["Role"], spec["FunctionName"])
        if creds is None:
            creds = await asyncio.to_thread(self.credentials.for_function, account, spec["Role"],
                                            spec["FunctionName"])
        return FunctionSpec(name=spec["FunctionName"], version=target.version, arn=target.function.id,
                            handler=spec["Handler"], runtime=spec["Runtime"], code_dir=code_dir,
                            memory_mb=spec["MemorySize"], timeout_s=spec["Timeout"],
                            environment=dict(spec.get("Environment") or {}),
                            ephemeral_mb=spec.get("EphemeralStorage", 512), role_credentials=creds,
                            rootfs=rootfs, code_sha256=spec["CodeHex"],
                            reserved_concurrency=target.function.spec.get("ReservedConcurrency"),
                            vpc_eni=_sandbox_eni(target))

    async def run(self, target: Target, payload: bytes, *, request_id: str | None = None,
                  client_context: str | None = None) -> InvocationResult:
        """Run one invocation in the sandbox; its log lines and usage are recorded after it returns.
        Raises SandboxThrottled / SandboxUnavailable from the sandbox."""
        fn = await self.function_spec(target)
        request_id = request_id or str(uuid.uuid4())
        started_ms = int(time.time() * 1000)
        result = await self.sandbox.invoke(fn, payload, request_id=request_id, client_context=client_context,
                                           invoked_arn=target.invoked_arn)
        if self._sink is not None:
            self._sink.put_nowait((target.function.account, fn, result,
                                   event_times(result, started_ms, int(time.time() * 1000))))
        return result

    async def _drain_sink(self) -> None:
        assert self._sink is not None
        while True:
            item = await self._sink.get()
            if item is None:
                return
            batch = [item]
            while not self._sink.empty():
                more = self._sink.get_nowait()
                if more is None:
                    await asyncio.to_thread(self._record_all, batch)
                    return
                batch.append(more)
            try:
                await asyncio.to_thread(self._record_all, batch)
            except Exception:  # noqa: BLE001 - a failed log write must not stop later ones
                LOG.exception("recording %d invocations failed", len(batch))

    def _record_all(self, batch: list) -> None:
        """Blocking: a batch of finished invocations -> one log write per stream, one ledger write per function."""
        by_stream: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
        usage: dict[tuple[str, str], list[int]] = {}
        for account, fn, result, times in batch:
            group = f"/aws/lambda/{fn.name}"
            stream = result.log_stream_name or f"{time.strftime('%Y/%m/%d')}/[{fn.version}]{uuid.uuid4().hex}"
            by_stream.setdefault((account, group, stream), []).extend(zip(times, result.logs))
            usage.setdefault((account, fn.name), []).append((fn.memory_mb, result.billed_ms, fn.ephemeral_mb))
        for (account, group, stream), events in by_stream.items():
            if (account, group, stream) not in self._streams:
                self.logs.ensure_stream(account, self.region, group, stream)
                self._streams.add((account, group, stream))
            self.logs.write(account, group, stream, events)
        for (account, name), rows in usage.items():
            self.ledger.record_many(account, name, rows)

    def enqueue_async(self, function_arn: str, payload: bytes, *, qualifier: str | None = None,
                      request_id: str | None = None, **extra) -> str:
        """Queue an Event invocation (durable); the async worker runs it. Returns its request id."""
        request_id = request_id or str(uuid.uuid4())
        self.store.enqueue(ASYNC_TOPIC, {"function_arn": function_arn, "payload": payload.decode("utf-8"),
                                         "qualifier": qualifier, "request_id": request_id,
                                         **{k: v for k, v in extra.items() if v is not None}})
        self.async_wakeup.set()
        return request_id


def _sandbox_eni(target: Target) -> str | None:
    """The Hyperplane ENI the target's sandboxes join: the first subnet's, for a VPC configuration. (A published
    version shares the function's current ENIs.)"""
    if not target.config.spec.get("VpcConfig"):
        return None
    enis = target.function.spec.get("HyperplaneEnis") or []
    return enis[0] if enis else None


def event_times(result: InvocationResult, started_ms: int, ended_ms: int) -> list[int]:
    """The CloudWatch timestamp (epoch ms) of each of `result.logs`.

    The sandbox's own times win when it gives one per line (`log_times`: when each line was read from the
    handler's output). Otherwise only what the service saw: the Init lines and START at the call's start, every
    later line (the handler's output, END, REPORT) at its end — never later than the line was written."""
    if result.log_times and len(result.log_times) == len(result.logs):
        return list(result.log_times)
    start = next((i for i, line in enumerate(result.logs) if line.startswith("START RequestId: ")), -1)
    return [started_ms if i <= start else ended_ms for i in range(len(result.logs))]


def policy_document(statements: list[dict]) -> dict:
    return {"Version": "2012-10-17", "Id": "default", "Statement": statements}

