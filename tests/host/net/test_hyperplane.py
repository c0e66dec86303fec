"""Lambda Hyperplane ENIs on real kernel objects: sandboxes (processes with namespaces of their own, as the
Lambda sandbox makes them) plugged into one ENI's namespace reach the VPC as the ENI's private IP, under its
security groups, and cannot reach each other; nothing in the VPC can open a connection to them."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
from netlab import EGRESS_ALL, Server, eni, tcp_from_group, vpc

from runtime.errors import NotFound
from runtime.host.net import hyperplane, links, naming, netns, realise
from runtime.host.net.model import SecurityGroup

pytestmark = pytest.mark.host
NO = 0.5


class Sandbox:
    """A process that unshared its own network namespace, like a Lambda sandbox's keeper."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["unshare", "--net", "sleep", "60"])
        self.path = f"/proc/{self.proc.pid}/ns/net"

    def socket(self, kind: int = socket.SOCK_STREAM) -> socket.socket:
        return netns.run_in(self.path, lambda: socket.socket(socket.AF_INET, kind))

    def connect(self, ip: str, port: int, timeout: float = 2.0) -> str | None:
        s = self.socket()
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
            s.sendall(b"hi")
            return s.recv(4096).decode().split()[0]
        except OSError:
            return None
        finally:
            s.close()

    def serve(self, port: int) -> socket.socket:
        s = self.socket()
        s.bind(("0.0.0.0", port))
        s.listen(4)

        def accept() -> None:
            try:
                conn, peer = s.accept()
                conn.sendall(peer[0].encode())
                conn.close()
            except OSError:
                return
        threading.Thread(target=accept, daemon=True).start()
        return s

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def tcp_from_ns(ns: str, ip: str, port: int, timeout: float) -> bool:
    s = netns.run_in(naming.netns_path(ns), lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_sandboxes_share_the_eni_and_nothing_else(world):
    v = world.vpc()
    fn = SecurityGroup(f"sg-fn-{world.uid}", (EGRESS_ALL,))
    web = SecurityGroup(f"sg-web-{world.uid}", (tcp_from_group(8080, fn.group_id), EGRESS_ALL))
    fn_eni = eni(v, 1, "a", "10.0.1.20", fn.group_id)
    web_eni = eni(v, 2, "a", "10.0.1.12", web.group_id)
    realise.ensure_vpc(vpc(v, enis=(fn_eni, web_eni), groups=(fn, web)))
    web_ns = world.instance(v, web_eni)
    Server(world, web_ns, 8080), Server(world, web_ns, 9090)
    sandboxes = [Sandbox(), Sandbox()]
    try:
        hyperplane.ensure(v, fn_eni)
        assert hyperplane.ensure(v, fn_eni) == naming.netns_path(naming.lambda_netns(fn_eni.eni_id))  # idempotent
        a, b = sandboxes
        eni_ns = naming.netns_path(naming.lambda_netns(fn_eni.eni_id))
        links.in_ns(eni_ns, lambda ipr: ipr.link(  # left by an earlier sandbox with a's pid: replaced
            "add", ifname=naming.sandbox_link(a.proc.pid), kind="veth", peer={"ifname": "tr-stale"},
            index=hyperplane.LINK_INDEX_BASE + a.proc.pid))
        address_a = hyperplane.plug_sandbox(fn_eni.eni_id, a.proc.pid)
        address_b = hyperplane.plug_sandbox(fn_eni.eni_id, b.proc.pid)
        assert address_a != address_b and address_a.startswith("100.")

        assert a.connect("10.0.1.12", 8080) == "10.0.1.20"    # out as the ENI's IP, admitted by group reference
        assert b.connect("10.0.1.12", 8080) == "10.0.1.20"
        assert a.connect("10.0.1.12", 9090, NO) is None        # the web group does not open 9090
        listener = b.serve(7000)
        world.sockets.append(listener)
        assert a.connect(address_b, 7000, NO) is None          # sandboxes never reach each other
        assert not tcp_from_ns(web_ns, address_b, 7000, NO)    # nor does the VPC reach a sandbox
        assert not tcp_from_ns(web_ns, "10.0.1.20", 7000, NO)  # not even through the ENI's address

        a.close()
        deadline = time.monotonic() + 5
        while naming.sandbox_link(a.proc.pid) in links.in_ns(eni_ns, links.links):
            assert time.monotonic() < deadline, "a dead sandbox's link must go with its namespace"
            time.sleep(0.05)
        assert b.connect("10.0.1.12", 8080) == "10.0.1.20"
    finally:
        for sandbox in sandboxes:
            sandbox.close()
        hyperplane.remove(fn_eni.eni_id)
    assert not netns.exists(naming.lambda_netns(fn_eni.eni_id))


def test_plugging_without_the_eni_namespace_is_not_found(world):
    sandbox = Sandbox()
    try:
        with pytest.raises(NotFound):
            hyperplane.plug_sandbox(f"eni-{world.uid}-none", sandbox.proc.pid)
    finally:
        sandbox.close()
