"""Fixtures for the VPC realiser's host tests: a per-test `World`, and a session sweep of what tests made."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from netlab import CREATED_HOSTS, CREATED_NS, CREATED_VPCS, World

from runtime.host.net import links, naming, netns, realise


@pytest.fixture(scope="session", autouse=True)
def _cleanup_everything_we_made() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces")
    missing = [tool for tool in ("iptables-restore", "ebtables-restore", "ipset", "nsenter") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"missing host tools {missing}: apt-get install iptables ebtables ipset util-linux")
    inet_was_there = netns.exists(naming.INTERNET_NETNS)
    yield
    for vpc in CREATED_VPCS:
        realise.remove_vpc(vpc)
    for host in CREATED_HOSTS:
        realise.remove_internet_host(host)
    for ns in CREATED_NS:
        netns.remove(ns)
    if not inet_was_there and netns.exists(naming.INTERNET_NETNS) and not any(
            name.startswith(naming.PREFIX) for name in links.in_ns(naming.netns_path(naming.INTERNET_NETNS),
                                                                  links.links)):
        netns.remove(naming.INTERNET_NETNS)  # ours, and nobody else's VPC or host is plugged in


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    try:
        yield w
    finally:
        w.close()
