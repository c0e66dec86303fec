"""The asynchronous invocation worker: consumes the durable job topic `lambda.async`.

Job payload: {"function_arn", "payload" (JSON text), "qualifier"?, "request_id"?, "source"?, "source_arn"?,
"source_account"?} — Event invokes and S3 notifications enqueue the same shape. The worker adds
"enqueued_at" (event age) and "errors" (function errors so far) when it requeues a job. An event from an AWS
service (`source` "s3") runs only if the function's resource policy allows `<source>.amazonaws.com` to
invoke it for that `source_arn`/`source_account` (AddPermission), as on AWS; otherwise it is dropped.

Per AWS (aws-spec §2.6): a function error is retried MaximumRetryAttempts times (default 2), the n-th retry
`retry_base_s * n` later (AWS: ~1 and ~2 minutes); a throttle or a sandbox failure returns the event to the
queue with exponential backoff (1 s doubling to 5 min) without counting as an attempt; an event older than
MaximumEventAgeInSeconds is dropped. Exhausted or expired events go to the OnFailure destination, successes
to OnSuccess, each as AWS's invocation record, delivered as an asynchronous invoke of the destination
function (an invocation made for a destination triggers no destinations itself: no loops). Jobs live
in the database, so a restart loses none: a job claimed when the server stops (or crashes, or is cancelled
mid-claim) is released at the next start for immediate retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timezone

from runtime.errors import AwsError, NotFound
from runtime.sandbox.ports import InvocationResult, SandboxThrottled, SandboxUnavailable
from runtime.services._shared import arns
from runtime.services.lambda_ import naming, shapes
from runtime.services.lambda_.concurrency import DEFAULT_MAX_AGE, DEFAULT_RETRIES, event_config
from runtime.services.lambda_.service import ASYNC_TOPIC, LambdaService, Target
from runtime.state import Job

LOG = logging.getLogger(__name__)
LEASE_SECONDS = 960.0  # longer than the longest function timeout (900 s)
MAX_THROTTLE_BACKOFF = 300.0


def _iso(epoch: float) -> str:
    millis = int(epoch * 1000) % 1000
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def invocation_record(job: dict, function_arn: str, condition: str | None, invokes: int,
                      result: InvocationResult | None, version: str) -> dict:
    """AWS's destination record (aws-spec §2.6)."""
    try:
        request_payload = json.loads(job["payload"]) if job.get("payload") else {}
    except ValueError:
        request_payload = job.get("payload")
    context = {"requestId": job.get("request_id", ""), "functionArn": f"{function_arn}:{version}",
               "approximateInvokeCount": invokes}
    if condition:
        context["condition"] = condition
    record = {"version": "1.0", "timestamp": _iso(time.time()), "requestContext": context,
              "requestPayload": request_payload}
    if result is not None:
        response = {"statusCode": 200, "executedVersion": version}
        if result.function_error:
            response["functionError"] = result.function_error
        record["responseContext"] = response
        try:
            record["responsePayload"] = json.loads(result.payload) if result.payload else None
        except ValueError:
            record["responsePayload"] = result.payload.decode(errors="replace")
    return record


class AsyncWorker:
    """`workers` concurrent consumers on one event loop; `start()`/`close()` from a cleanup context."""

    def __init__(self, service: LambdaService, *, workers: int = 4, retry_base_s: float = 60.0,
                 poll_s: float = 1.0, clock=time.time) -> None:
        self.service = service
        self.store = service.store
        self.workers = workers
        self.retry_base_s = retry_base_s
        self.poll_s = poll_s
        self.clock = clock
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        released = await asyncio.to_thread(self.store.release_leases, ASYNC_TOPIC, now=self.clock())
        if released:
            LOG.info("%d asynchronous invocation(s) interrupted by the last stop are due again", released)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._consume()) for _ in range(self.workers)]

    async def close(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # a job cut off here is released by start()

    async def _consume(self) -> None:
        wakeup = self.service.async_wakeup
        while not self._stopping:
            job = await asyncio.to_thread(self.store.claim, ASYNC_TOPIC, now=self.clock(),
                                          lease_seconds=LEASE_SECONDS)
            if job is None:
                wakeup.clear()
                try:
                    await asyncio.wait_for(wakeup.wait(), self.poll_s)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                await self.process(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad job must not stop the worker; it is retried later
                LOG.exception("async invocation job %s failed", job.id)
                await asyncio.to_thread(self.store.fail, job.id, self.clock() + self.retry_base_s)

    async def process(self, job: Job) -> None:
        data = dict(job.payload)
        data.setdefault("enqueued_at", job.created)
        now = self.clock()
        try:
            found = arns.parse_lambda_function_arn(data["function_arn"])
            ref = naming.FunctionRef(found.region, found.account, found.name, data.get("qualifier") or found.qualifier)
            target = self.service.target(ref)
        except (AwsError, ValueError, KeyError):
            LOG.warning("dropping async invocation of missing function %s", data.get("function_arn"))
            await asyncio.to_thread(self.store.complete, job.id)
            return
        source = data.get("source")
        if source not in (None, "lambda", "destination") and not self.service.service_may_invoke(
                target, f"{source}.amazonaws.com", data.get("source_arn"), data.get("source_account")):
            LOG.warning("dropping %s event for %s: its resource policy does not allow %s.amazonaws.com",
                        source, target.function.id, source)
            await asyncio.to_thread(self.store.complete, job.id)
            return
        config = event_config(target.function.spec, ref.qualifier)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        max_retries = config.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        errors = data.get("errors", 0)
        if now - data["enqueued_at"] > max_age:
            await self._finish(job, data, target, config, "EventAgeExceeded", errors, None)
            return
        try:
            self.service.check_invocable(target)
            result = await self.service.run(target, data.get("payload", "").encode(),
                                            request_id=data.get("request_id"))
        except (SandboxThrottled, SandboxUnavailable, AwsError) as exc:
            delay = min(MAX_THROTTLE_BACKOFF, 2.0 ** data.get("throttles", 0))
            LOG.info("async invocation of %s deferred %.0f s: %s", target.function.id, delay, exc)
            await self._requeue(job, {**data, "throttles": data.get("throttles", 0) + 1}, now + delay)
            return
        if result.function_error is None:
            await self._finish(job, data, target, config, None, errors + 1, result)
        elif errors < max_retries:
            await self._requeue(job, {**data, "errors": errors + 1}, now + self.retry_base_s * (errors + 1))
        else:
            await self._finish(job, data, target, config, "RetriesExhausted", errors + 1, result)

    async def _requeue(self, job: Job, data: dict, not_before: float) -> None:
        def swap() -> None:
            with self.store.transaction():
                self.store.complete(job.id)
                self.store.enqueue(ASYNC_TOPIC, data, not_before=not_before)
        await asyncio.to_thread(swap)

    async def _finish(self, job: Job, data: dict, target: Target, config: dict, condition: str | None,
                      invokes: int, result: InvocationResult | None) -> None:
        key = "OnSuccess" if condition is None else "OnFailure"
        destination = (config.get("DestinationConfig") or {}).get(key, {}).get("Destination")
        if destination and data.get("source") != "destination":
            record = invocation_record(data, target.function.id, condition, invokes, result, target.version)

            def deliver() -> None:
                with self.store.transaction():
                    self.store.complete(job.id)
                    self._enqueue_destination(destination, record)
            await asyncio.to_thread(deliver)
            self.service.async_wakeup.set()
        else:
            await asyncio.to_thread(self.store.complete, job.id)

    def _enqueue_destination(self, destination: str, record: dict) -> None:
        try:
            found = arns.parse_lambda_function_arn(destination)
        except ValueError:
            LOG.warning("destination %s is not a function", destination)
            return
        function_arn = arns.lambda_function_arn(found.region, found.account, found.name)
        try:
            self.store.get(shapes.FUNCTION, function_arn)
        except NotFound:
            LOG.warning("destination function %s does not exist", destination)
            return
        self.store.enqueue(ASYNC_TOPIC, {"function_arn": function_arn, "qualifier": found.qualifier,
                                         "payload": json.dumps(record), "source": "destination",
                                         "enqueued_at": self.clock()})
