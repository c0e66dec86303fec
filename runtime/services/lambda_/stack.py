"""Everything Lambda runs on, assembled once: the shared service, its providers, the async worker and the
plain-HTTP doors. `runtime/app.py` builds the sandbox and the IAM pieces and hands them in here.

Knobs from the environment (until they move into Settings): `TERRARIUM_LAMBDA_CACHE` (where unzipped code
and runtime root filesystems live; must be traversable by the sandbox uid; default /var/cache/terrarium/lambda),
`TERRARIUM_LAMBDA_RETRY_BASE` (seconds before the first async retry; AWS ~60), `TERRARIUM_LAMBDA_CONCURRENCY`
(the account's concurrent executions, default 1000).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from runtime.iam.credentials import SessionIssuer
from runtime.sandbox.ports import SandboxPort
from runtime.services.iam.directory import IamDirectory
from runtime.services.lambda_.async_worker import AsyncWorker
from runtime.services.lambda_.billing import Ledger
from runtime.services.lambda_.code import CodeStore
from runtime.services.lambda_.concurrency import ConcurrencyProvider
from runtime.services.lambda_.functions import FunctionsProvider
from runtime.services.lambda_.invoke import InvokeProvider
from runtime.services.lambda_.permissions import PermissionsProvider
from runtime.services.lambda_.roles import RoleCredentials
from runtime.services.lambda_.runtimes import RuntimeImages
from runtime.services.lambda_.s3code import S3CodeSource
from runtime.services.lambda_.service import LambdaService
from runtime.services.lambda_.urls import UrlsProvider
from runtime.services.lambda_.versions import VersionsProvider
from runtime.services.lambda_.web import Authorize, CredentialLookup, LambdaWeb
from runtime.services.logs.provider import LogsProvider
from runtime.state import Store


def cache_dir() -> Path:
    return Path(os.environ.get("TERRARIUM_LAMBDA_CACHE", "/var/cache/terrarium/lambda"))


def retry_base_s() -> float:
    return float(os.environ.get("TERRARIUM_LAMBDA_RETRY_BASE", "60"))


def account_concurrency() -> int:
    return int(os.environ.get("TERRARIUM_LAMBDA_CONCURRENCY", "1000"))


def cgroup_root(data_dir: Path) -> str:
    """One cgroup root per data dir, so two servers on one host never purge each other's sandboxes."""
    return "tr-l-" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]


@dataclass
class LambdaStack:
    service: LambdaService
    worker: AsyncWorker
    web: LambdaWeb
    providers: list

    @classmethod
    def build(cls, store: Store, *, region: str, endpoint: str, data_dir: Path, sandbox: SandboxPort,
              runtimes: RuntimeImages, issuer: SessionIssuer, lookup_credential: CredentialLookup,
              authorize: Authorize, root_key: tuple[str, str] | None = None,
              iam: IamDirectory | None = None) -> "LambdaStack":
        """`root_key` (access key, secret) lets CreateFunction/UpdateFunctionCode read code from Terrarium's S3;
        `iam` is the directory execution roles' policies are read from (one is made when not given)."""
        service = LambdaService(store, region=region, code=CodeStore(data_dir, cache_dir() / "code"),
                                runtimes=runtimes, sandbox=sandbox,
                                credentials=RoleCredentials(store, issuer, issuer.clock),
                                logs=LogsProvider(store), ledger=Ledger(store), function_url_base=endpoint)
        doors = LambdaWeb(service, endpoint=endpoint, lookup_credential=lookup_credential, authorize=authorize)
        s3_code = S3CodeSource(endpoint, region, *root_key) if root_key else None
        providers = [FunctionsProvider(service, doors.code_url, s3_code, iam), VersionsProvider(service),
                     PermissionsProvider(service), ConcurrencyProvider(service), InvokeProvider(service),
                     UrlsProvider(service)]
        return cls(service, AsyncWorker(service, retry_base_s=retry_base_s()), doors, providers)

    async def start(self) -> None:
        await self.service.start()
        await self.worker.start()

    async def close(self) -> None:
        await self.worker.close()
        await self.service.close()
