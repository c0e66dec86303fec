"""The composition root: the only module that knows every part and wires them together.

Long-lived resources are opened by aiohttp cleanup contexts in dependency order (account -> store ->
gateway) and closed in reverse when the server stops, so a SIGTERM always leaves a consistent data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging

from aiohttp import web

from runtime.api.dispatch import Dispatcher
from runtime.api.gateway import Gateway
from runtime import operations_table
from runtime.config import Settings
from runtime.iam import account as accounts
from runtime.iam.authorizer import PolicyAuthorizer
from runtime.iam.credentials import CredentialResolver, SessionIssuer, offset_clock
from runtime.control import docker_events, image_catalog
from runtime.control.instances import InstanceRealiser
from runtime.control.images import ImageRealiser
from runtime.control.volumes import VolumeRealiser
from runtime.control.reconciler import Reconciler
from runtime.control.lambda_net import HyperplaneRealiser
from runtime.control.vpc_net import VpcNetRealiser
from runtime.errors import TerrariumError
from runtime.host.docker import containers
from runtime.host.net import realise
from runtime.host.imds.server import ImdsServer
from runtime.services.ec2.metadata import InstanceMetadataSource
from runtime.services.ec2.images import ImagesProvider
from runtime.services.ec2.ami_builds import AmiBuildsProvider
from runtime.services.ec2.volumes import VolumesProvider
from runtime.services.ec2.instance_types import InstanceTypesProvider
from runtime.services.ec2.instances import InstancesProvider
from runtime.services.ec2.keypairs import KeyPairsProvider
from runtime.services.ec2.regions import RegionsProvider
from runtime.services import vpc
from runtime.services.logs.provider import LogsProvider
from runtime.services.iam.account import AccountProvider
from runtime.services.iam.directory import IamDirectory
from runtime.services.iam.policies import PoliciesProvider
from runtime.services.iam.roles import RolesProvider
from runtime.services.iam.simulate import SimulationProvider
from runtime.services.iam.users import UsersProvider
from runtime.services.sts.provider import StsProvider
from runtime.host.docker import images as docker_images
from runtime.sandbox.manager import SandboxManager
from runtime.sandbox.ports import SandboxUnavailable
from runtime.sandbox.rootfs import rootfs_from_image
from runtime.services.lambda_ import stack as lambda_stack
from runtime.services.lambda_ import web as lambda_web
from runtime.services.lambda_.runtimes import RuntimeImages, pick_image
from runtime.services.lambda_.unavailable import UnavailableSandbox
from runtime.host.s3backend import open_backend
from runtime.services.s3.access import S3Access
from runtime.services.s3.attributes import AttributesProvider
from runtime.services.s3.buckets import BucketsProvider
from runtime.services.s3.cors import BucketCors
from runtime.services.s3.objects import ObjectsProvider
from runtime.services.s3.ownership import OwnershipProvider
from runtime.services.s3.lifecycle import LifecycleRunner, lifecycle_interval
from runtime.services.s3.storage_meter import StorageMeter, storage_interval
from runtime.services.s3.unconfigured import UnconfiguredProvider
from runtime.services.s3.post import PostObjectHandler
from runtime.services.s3.website import WebsiteServer
from runtime.state import SqliteStore, Store

LOG = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
ACCOUNT = web.AppKey("account", accounts.Account)
STORE = web.AppKey("store", Store)
GATEWAY = web.AppKey("gateway", Gateway)
RECONCILER = web.AppKey("reconciler", Reconciler)
LAMBDA = web.AppKey("lambda", lambda_stack.LambdaStack)

MAX_REQUEST_BYTES = 80 * 1024 * 1024  # a 50 MB Lambda zip, base64-encoded in JSON
IMAGE_RESYNC_S = 60
MAX_HEADER_BYTES = 64 * 1024  # large enough that oversized headers still get an AWS-shaped answer


def build_dispatcher(settings: Settings, store: Store,
                     lambda_: lambda_stack.LambdaStack | None = None) -> Dispatcher:
    dispatcher = Dispatcher()
    clock = offset_clock()
    directory = IamDirectory(store)
    dispatcher.register("sts", StsProvider(store, SessionIssuer(store, clock)))
    dispatcher.register("iam", UsersProvider(store, directory, clock))
    dispatcher.register("iam", RolesProvider(store, directory, clock))
    dispatcher.register("iam", PoliciesProvider(store, directory, clock))
    dispatcher.register("iam", SimulationProvider(store, directory))
    dispatcher.register("iam", AccountProvider(store, directory))
    dispatcher.register("ec2", RegionsProvider(settings.region, settings.zones))
    dispatcher.register("ec2", KeyPairsProvider(store))
    dispatcher.register("ec2", ImagesProvider(store))
    dispatcher.register("ec2", AmiBuildsProvider(store))
    dispatcher.register("ec2", VolumesProvider(store, settings.zones))
    dispatcher.register("ec2", InstanceTypesProvider())
    dispatcher.register("ec2", InstancesProvider(store, settings.zones, read_console))
    dispatcher.register("logs", LogsProvider(store))
    for provider in vpc.providers(store, settings.region, settings.zones):
        dispatcher.register("ec2", provider)
    for provider in lambda_.providers if lambda_ is not None else ():
        dispatcher.register("lambda", provider)
    return dispatcher


async def read_console(instance_id: str) -> bytes:
    """The console port of the EC2 service: the container's output, read without blocking the loop."""
    return await asyncio.to_thread(containers.console_output, instance_id)


async def _account_ctx(app: web.Application):
    settings = app[SETTINGS]
    app[ACCOUNT] = accounts.load_or_create(settings.data_dir, settings.account_id)
    yield


async def _store_ctx(app: web.Application):
    """The database, and what a new account has from the start (its default VPC, as in AWS)."""
    settings = app[SETTINGS]
    store = SqliteStore(settings.db_path)
    app[STORE] = store
    vpc.ensure_default_vpc(store, app[ACCOUNT].account_id, settings.region, settings.zones)
    yield
    store.close()


async def _image_catalog_ctx(app: web.Application):
    """Keep the AMI catalogue in step with the images built on this host (at start, then every minute)."""
    available = await asyncio.to_thread(image_catalog.sync, app[STORE])
    LOG.info("AMIs available: %s", ", ".join(available) or "none (no images built)")

    async def resync() -> None:
        while True:
            await asyncio.sleep(IMAGE_RESYNC_S)
            await asyncio.to_thread(image_catalog.sync, app[STORE])

    task = asyncio.create_task(resync())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _reconciler_ctx(app: web.Application):
    """The host follows the store: VPC networks and instance containers, plus the metadata service they use.

    Needs root (namespaces, iptables) and a Docker engine; without them the API still answers and records
    intent, and the reconciler keeps retrying with backoff."""
    settings, store = app[SETTINGS], app[STORE]
    imds = ImdsServer(InstanceMetadataSource(store, settings.region))
    await imds.start()
    owner = app[ACCOUNT].account_id
    reconciler = Reconciler(store, [VpcNetRealiser(imds), HyperplaneRealiser(), InstanceRealiser(owner),
                                   ImageRealiser(owner), VolumeRealiser(settings.data_dir)])
    app[RECONCILER] = reconciler
    tasks = [asyncio.create_task(reconciler.run()), asyncio.create_task(docker_events.follow(reconciler, owner))]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await imds.close()


async def _lambda_ctx(app: web.Application):
    """Sandboxes, then the Lambda service and its async worker; closed in reverse (worker releases its jobs)."""
    settings, store = app[SETTINGS], app[STORE]
    try:
        sandbox = SandboxManager(region=settings.region, endpoint_url=settings.endpoint,
                                 cgroup_root=lambda_stack.cgroup_root(settings.data_dir),
                                 account_concurrency=lambda_stack.account_concurrency())
        await sandbox.start()
    except (SandboxUnavailable, OSError) as exc:
        LOG.warning("Lambda invocations disabled: %s", exc)
        sandbox = UnavailableSandbox(str(exc))
    rootfs_cache = lambda_stack.cache_dir() / "rootfs"
    runtimes = RuntimeImages(lambda name: pick_image(name, docker_images.current, docker_images.list_built),
                             lambda ref: rootfs_from_image(ref, rootfs_cache))
    clock = offset_clock()
    resolver = CredentialResolver(app[ACCOUNT], store, clock)
    directory = IamDirectory(store)
    app[LAMBDA] = lambda_stack.LambdaStack.build(
        store, region=settings.region, endpoint=settings.endpoint, data_dir=settings.data_dir, sandbox=sandbox,
        runtimes=runtimes, issuer=SessionIssuer(store, clock), lookup_credential=resolver.lookup,
        authorize=PolicyAuthorizer(directory, clock=clock),
        root_key=(app[ACCOUNT].access_key_id, app[ACCOUNT].secret_access_key), iam=directory)
    await app[LAMBDA].start()
    yield
    await app[LAMBDA].close()
    await sandbox.close()


async def _gateway_ctx(app: web.Application):
    settings = app[SETTINGS]
    store = app[STORE]
    clock = offset_clock()
    resolver = CredentialResolver(app[ACCOUNT], store, clock)
    authorizer = PolicyAuthorizer(IamDirectory(store), usage=resolver, clock=clock)
    app[GATEWAY] = Gateway(build_dispatcher(settings, store, app.get(LAMBDA)), resolver, region=settings.region,
                           authorize=authorizer, clock=clock)
    yield


async def _internet_endpoint_ctx(app: web.Application):
    """The API also listens inside the region's internet (`settings.internet_endpoint`), so instances with a
    public address reach it as EC2 instances reach AWS endpoints; the same gateway and routes answer there."""
    address = app[SETTINGS].internet_endpoint
    runner = None
    if address:
        host, port = address.rsplit(":", 1)
        try:
            sock = await asyncio.to_thread(realise.open_internet_listener, host, int(port))
        except (TerrariumError, OSError) as exc:
            LOG.warning("API not reachable from instances (%s): %s", address, exc)
        else:
            inner = _new_web_app()
            install_routes(inner.router, app)
            runner = web.AppRunner(inner, access_log=None, handle_signals=False)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            LOG.info("API reachable from instances at http://%s", address)
    yield
    if runner is not None:
        await runner.cleanup()


async def _s3_ctx(app: web.Application):
    """S3: start the object-store backend (not waited for here) and register the gateway's S3 providers."""
    gateway, store = app[GATEWAY], app[STORE]
    async with open_backend(app[SETTINGS].data_dir) as (backend, _supervisor):
        gateway.dispatcher.register("s3", BucketsProvider(store, backend))
        gateway.dispatcher.register("s3", OwnershipProvider(store, backend))
        gateway.dispatcher.register("s3", UnconfiguredProvider(store))
        gateway.dispatcher.register("s3", AttributesProvider(store, backend))
        objects = ObjectsProvider(store, backend)
        gateway.dispatcher.register("s3", objects)
        access = S3Access(store, gateway.authorize)
        objects.read_check = access.read_check(gateway.dispatcher.get("s3", "GetObject"))
        gateway.authorize.register_resource_policies("s3", access.bucket_policy)
        gateway.authorize = access
        gateway.website = WebsiteServer(store, backend, access, gateway.dispatcher.get("s3", "GetObject"))
        gateway.s3_cors = BucketCors(store)
        gateway.s3_post = PostObjectHandler(store, backend, gateway.credentials, access,
                                            gateway.dispatcher.get("s3", "PutObject"), app[SETTINGS].data_dir / "tmp")
        background = [asyncio.create_task(LifecycleRunner(store, backend).run_forever(lifecycle_interval())),
                      asyncio.create_task(StorageMeter(store, backend).run_forever(storage_interval()))]
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)


def _new_web_app() -> web.Application:
    return web.Application(client_max_size=MAX_REQUEST_BYTES,
                           handler_args={"max_line_size": MAX_HEADER_BYTES, "max_field_size": MAX_HEADER_BYTES})


def install_routes(router: web.UrlDispatcher, app: web.Application) -> None:
    """The routes of an endpoint serving `app`'s gateway: health, the implemented operations, Lambda function
    URLs, every AWS service."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "region": app[SETTINGS].region,
                                  "account": app[ACCOUNT].account_id})

    async def aws_endpoint(request: web.Request) -> web.StreamResponse:
        return await app[GATEWAY].handle(request)

    async def operations(request: web.Request) -> web.Response:
        return web.json_response(operations_table.table(app[GATEWAY].dispatcher))

    async def activity(request: web.Request) -> web.Response:
        """What runs now (Lambda execution environments and invocations) for `terrarium ps`: the host's own
        business, so only callers on loopback get it (instances reach this router too)."""
        if not ipaddress.ip_address(request.remote or "0.0.0.0").is_loopback:
            return web.json_response({"message": "only from the host"}, status=403)
        return web.json_response(await app[LAMBDA].service.sandbox.activity())

    router.add_get("/_terrarium/health", health)
    router.add_get("/_terrarium/operations", operations)
    router.add_get("/_terrarium/activity", activity)
    lambda_web.add_routes(router, lambda request: app[LAMBDA].web)
    router.add_route("*", r"/{tail:[\s\S]*}", aws_endpoint)  # any path: S3 keys may hold newlines


def create_app(settings: Settings) -> web.Application:
    app = _new_web_app()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_account_ctx)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_image_catalog_ctx)
    app.cleanup_ctx.append(_reconciler_ctx)
    app.cleanup_ctx.append(_lambda_ctx)
    app.cleanup_ctx.append(_gateway_ctx)
    app.cleanup_ctx.append(_internet_endpoint_ctx)
    app.cleanup_ctx.append(_s3_ctx)
    install_routes(app.router, app)
    return app
