"""Test lab for the VPC realiser: throwaway "instance" namespaces, real sockets inside them, VPC builders.

Sockets are created on a thread that has `setns()`'d into the namespace (a socket keeps the namespace
it was born in), so servers and probes run in the test process itself: no shell, no extra tools.
Traffic only ever goes to addresses inside namespaces these tests create.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import uuid

from runtime.host.net import naming, netns, realise
from runtime.host.net.model import (
    ALL,
    IGW,
    TCP,
    Eni,
    Nacl,
    NaclEntry,
    PublicIp,
    Route,
    RouteTable,
    SecurityGroup,
    SgRule,
    Subnet,
    VpcNet,
)

CREATED_VPCS: set[str] = set()
CREATED_HOSTS: set[str] = set()
CREATED_NS: set[str] = set()


class World:
    """Per-test ids and objects; everything is torn down when the test ends."""

    def __init__(self) -> None:
        self.uid = uuid.uuid4().hex[:8]
        self.vpcs: list[str] = []
        self.hosts: list[str] = []
        self.instances: list[str] = []
        self.sockets: list[socket.socket] = []
        rnd = random.Random(self.uid)
        self.internet_ip = f"203.0.113.{rnd.randrange(2, 100)}"
        self.public_ips = [f"203.0.113.{100 + i}" for i in rnd.sample(range(150), 6)]

    def id(self, kind: str, n: int | str = "") -> str:
        return f"{kind}-{self.uid}{n}"

    def vpc(self, n: int | str = "") -> str:
        vpc = self.id("vpc", n)
        self.vpcs.append(vpc)
        CREATED_VPCS.add(vpc)
        return vpc

    def instance(self, vpc_id: str, eni: Eni) -> str:
        """A namespace standing for an instance, with `eni` attached as eth0."""
        name = f"tr-t-{self.uid}-{len(self.instances)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.instances.append(name)
        CREATED_NS.add(name)
        realise.attach_eni(vpc_id, eni, name)
        return name

    def internet_host(self) -> str:
        name = self.id("inet")
        self.hosts.append(name)
        CREATED_HOSTS.add(name)
        return realise.ensure_internet_host(name, self.internet_ip)

    def close(self) -> None:
        for s in self.sockets:
            s.close()
        errors = []
        for step in [*(lambda v=v: realise.remove_vpc(v) for v in self.vpcs),
                     *(lambda h=h: realise.remove_internet_host(h) for h in self.hosts),
                     *(lambda n=n: netns.remove(n) for n in self.instances)]:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - collected, reported together
                errors.append(exc)
        if errors:
            raise ExceptionGroup("test teardown", errors)


def ns_socket(ns: str, kind: int = socket.SOCK_STREAM, proto: int = 0) -> socket.socket:
    return netns.run_in(naming.netns_path(ns), lambda: socket.socket(socket.AF_INET, kind, proto))


class Server:
    """A TCP or UDP server in `ns` that answers every connection/datagram with the peer's address."""

    def __init__(self, world: World, ns: str, port: int, udp: bool = False, tag: str = "") -> None:
        self.tag = tag
        self.sock = ns_socket(ns, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))
        world.sockets.append(self.sock)
        if not udp:
            self.sock.listen(16)
        threading.Thread(target=self._udp if udp else self._tcp, daemon=True).start()

    def _tcp(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn, peer), daemon=True).start()

    def _echo(self, conn: socket.socket, peer) -> None:
        with conn:
            try:
                while conn.recv(4096):
                    conn.sendall(f"{peer[0]} {self.tag}".encode())
            except OSError:
                return

    def _udp(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
                self.sock.sendto(f"{peer[0]} {self.tag}".encode(), peer)
            except OSError:
                return


def tcp(ns: str, ip: str, port: int, timeout: float = 2.0) -> str | None:
    """Connect from `ns`, send a line, return the server's answer (the source it saw), or None."""
    s = ns_socket(ns)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        s.sendall(b"hi")
        return s.recv(4096).decode().split()[0]
    except OSError:
        return None
    finally:
        s.close()


def udp(ns: str, ip: str, port: int, timeout: float = 2.0) -> str | None:
    s = ns_socket(ns, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b"hi", (ip, port))
        return s.recv(4096).decode().split()[0]
    except OSError:
        return None
    finally:
        s.close()


class Flow:
    """A long-lived TCP connection, to see whether an established flow survives a change."""

    def __init__(self, world: World, ns: str, ip: str, port: int) -> None:
        self.sock = ns_socket(ns)
        self.sock.settimeout(2.0)
        self.sock.connect((ip, port))
        world.sockets.append(self.sock)

    def alive(self, timeout: float = 1.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(b"ping")
            return bool(self.sock.recv(4096))
        except OSError:
            return False


def ping(ns: str, ip: str, timeout: float = 1.0) -> bool:
    """One ICMP echo from `ns` to `ip` through a raw socket."""
    s = ns_socket(ns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(timeout)
    ident = random.randrange(1, 0xFFFF)
    header = bytearray(b"\x08\x00\x00\x00" + ident.to_bytes(2, "big") + b"\x00\x01" + b"terrarium")
    csum = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, len(header) - 1, 2))
    csum += header[-1] << 8 if len(header) % 2 else 0
    csum = (csum >> 16) + (csum & 0xFFFF)
    csum = ~(csum + (csum >> 16)) & 0xFFFF
    header[2:4] = csum.to_bytes(2, "big")
    try:
        s.sendto(bytes(header), (ip, 0))
        while True:
            data, peer = s.recvfrom(4096)
            ihl = (data[0] & 0x0F) * 4
            if peer[0] == ip and data[ihl] == 0 and data[ihl + 4:ihl + 6] == ident.to_bytes(2, "big"):
                return True
    except OSError:
        return False
    finally:
        s.close()


ALLOW_ALL_NACL = (NaclEntry(100, False, "allow", "0.0.0.0/0"), NaclEntry(100, True, "allow", "0.0.0.0/0"))
EGRESS_ALL = SgRule(True, ALL, cidr="0.0.0.0/0", rule_id="sgr-egress-all")


def tcp_from_group(port: int, group_id: str) -> SgRule:
    return SgRule(False, TCP, port, port, group_id=group_id)


def tcp_from_cidr(port: int, cidr: str) -> SgRule:
    return SgRule(False, TCP, port, port, cidr=cidr)


def vpc(vpc_id: str, *, cidr: str = "10.0.0.0/16", enis: tuple[Eni, ...] = (),
        groups: tuple[SecurityGroup, ...] = (), nacl_b: tuple[NaclEntry, ...] = ALLOW_ALL_NACL,
        routes: tuple[Route, ...] = (Route("0.0.0.0/0", IGW),), igw: bool = True,
        public_ips: tuple[PublicIp, ...] = ()) -> VpcNet:
    """Subnet A 10.0.1.0/24 (default NACL) and B 10.0.2.0/24 (NACL `nacl_b`), one route table for both."""
    u = vpc_id.removeprefix("vpc-")
    default_sg = SecurityGroup(f"sg-default-{u}", (SgRule(False, ALL, group_id=f"sg-default-{u}"), EGRESS_ALL))
    return VpcNet(
        vpc_id=vpc_id, cidr=cidr,
        subnets=(Subnet(f"subnet-a-{u}", cidr.replace("0.0/16", "1.0/24"), f"rtb-{u}", f"acl-default-{u}"),
                 Subnet(f"subnet-b-{u}", cidr.replace("0.0/16", "2.0/24"), f"rtb-{u}", f"acl-b-{u}")),
        route_tables=(RouteTable(f"rtb-{u}", routes),),
        nacls=(Nacl(f"acl-default-{u}", ALLOW_ALL_NACL), Nacl(f"acl-b-{u}", nacl_b)),
        security_groups=(default_sg, *groups),
        enis=enis, igw_attached=igw, public_ips=public_ips)


def eni(vpc_id: str, n: int, subnet: str, ip: str, *groups: str, **kw) -> Eni:
    u = vpc_id.removeprefix("vpc-")
    return Eni(f"eni-{u}-{n}", f"subnet-{subnet}-{u}", ip, tuple(groups), **kw)
