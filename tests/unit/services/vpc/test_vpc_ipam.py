"""IPv4 math for VPCs: block limits, reserved addresses, allocation of private and public addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, strategies as st

from runtime.services.vpc import ipam


def test_parse_canonicalises_and_rejects():
    assert str(ipam.parse_cidr("100.68.0.18/18")) == "100.68.0.0/18"
    for bad in ("10.0.0.0", "10.0.0.300/16", "x/16", "::/0", ""):
        with pytest.raises(ValueError):
            ipam.parse_cidr(bad)


@pytest.mark.parametrize("prefix,allowed", [(15, False), (16, True), (24, True), (28, True), (29, False)])
def test_size_limits(prefix, allowed):
    assert ipam.size_allowed(ipam.parse_cidr(f"10.0.0.0/{prefix}")) is allowed


def test_reserved_and_usable():
    net = ipam.parse_cidr("10.0.1.0/28")
    assert ipam.reserved(net) == {"10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.15"}
    assert ipam.usable_count(net) == 11
    assert ipam.gateway_ip(net) == "10.0.1.1"
    assert ipam.dns_ip(ipam.parse_cidr("172.31.0.0/16")) == "172.31.0.2"
    assert not ipam.assignable(net, "10.0.1.15") and ipam.assignable(net, "10.0.1.14")
    assert not ipam.assignable(net, "10.0.2.4") and not ipam.assignable(net, "nonsense")


def test_next_free_ip_fills_the_subnet_then_stops():
    net = ipam.parse_cidr("10.0.1.0/28")
    used: set[str] = set()
    while (address := ipam.next_free_ip(net, used)) is not None:
        used.add(address)
    assert len(used) == 11 and not used & ipam.reserved(net)


@given(st.integers(16, 28), st.sets(st.integers(0, 2 ** 12), max_size=40))
def test_next_free_ip_is_assignable_and_unused(prefix, offsets):
    net = ipaddress.IPv4Network(f"10.0.0.0/{prefix}")
    used = {str(net.network_address + (o % net.num_addresses)) for o in offsets}
    address = ipam.next_free_ip(net, used)
    if address is None:
        assert all(str(a) in used | ipam.reserved(net) for a in net)
    else:
        assert ipam.assignable(net, address) and address not in used


def test_overlap_and_containment():
    vpc = ipam.parse_cidr("10.0.0.0/16")
    assert ipam.contains(vpc, ipam.parse_cidr("10.0.5.0/24"))
    assert not ipam.contains(vpc, ipam.parse_cidr("10.1.0.0/24"))
    assert ipam.overlaps(ipam.parse_cidr("10.0.0.0/23"), ipam.parse_cidr("10.0.1.0/24"))
    assert not ipam.overlaps(ipam.parse_cidr("10.0.0.0/24"), ipam.parse_cidr("10.0.1.0/24"))


def test_public_pool():
    first = ipam.next_public_ip(set())
    assert first == "198.51.100.10"
    assert ipam.next_public_ip({first}) == "198.51.100.11"
    everything = {str(a) for a in ipam.PUBLIC_RANGE}
    assert ipam.next_public_ip(everything) is None


def test_default_subnets():
    net = ipam.parse_cidr("172.31.0.0/16")
    assert [ipam.default_subnet_cidr(net, i) for i in range(3)] == ["172.31.0.0/20", "172.31.16.0/20",
                                                                    "172.31.32.0/20"]
