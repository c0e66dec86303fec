"""VPC realisation: time to build a VPC, to apply one security-group rule change with 10/100/1000 ENIs, TCP
throughput (iperf3) and new connections per second between two ENIs in different subnets through every filter,
against a bare veth pair between two namespaces measured in the same run.

    .venv/bin/python bench/vpc.py [--seconds 3]

Needs root and iperf3. Traffic stays inside namespaces this script creates; everything is removed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import threading
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runtime.host.net import realise  # noqa: E402
from runtime.host.net.model import ALL, SecurityGroup, SgRule  # noqa: E402
from tests.host.net.netlab import EGRESS_ALL, World, eni, ns_socket, tcp_from_cidr, vpc  # noqa: E402

PORT = 5201


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def web_group(u: str, port: int) -> SecurityGroup:
    return SecurityGroup(f"sg-web-{u}", (tcp_from_cidr(port, "10.0.0.0/16"), SgRule(False, ALL, cidr="10.0.0.0/16"),
                                         EGRESS_ALL))


def big_vpc(vpc_id: str, count: int, port: int):
    """The lab VPC with its two subnets widened to /22, holding `count` ENIs of the web group."""
    u = vpc_id.removeprefix("vpc-")
    base = vpc(vpc_id, groups=(web_group(u, port),))
    subnets = (dataclasses.replace(base.subnets[0], cidr="10.0.4.0/22"),
               dataclasses.replace(base.subnets[1], cidr="10.0.8.0/22"))
    hosts = {"a": ipaddress.ip_network("10.0.4.0/22").hosts(), "b": ipaddress.ip_network("10.0.8.0/22").hosts()}
    for addresses in hosts.values():
        for _ in range(9):
            next(addresses)
    enis = tuple(eni(vpc_id, n, side, str(next(hosts[side])), f"sg-web-{u}")
                 for n, side in ((n, "a" if n % 2 else "b") for n in range(count)))
    return dataclasses.replace(base, subnets=subnets, enis=enis)


def iperf(client_ns: str, server_ns: str, server_ip: str, seconds: int) -> float:
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", str(PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        out = subprocess.run(["ip", "netns", "exec", client_ns, "iperf3", "-c", server_ip, "-p", str(PORT), "-t",
                              str(seconds), "-J"], capture_output=True, text=True, check=True).stdout
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        server.wait(10)


def connections_per_second(client_ns: str, server_ns: str, server_ip: str, seconds: float) -> float:
    listener = ns_socket(server_ns)
    listener.bind((server_ip, PORT + 1))
    listener.listen(1024)
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    count, end = 0, time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            sock = ns_socket(client_ns)
            sock.connect((server_ip, PORT + 1))
            sock.close()
            count += 1
    finally:
        stop.set()
        thread.join()
        listener.close()
    return count / seconds


def bare_pair(world: World) -> tuple[str, str]:
    a, b = f"tr-t-{world.uid}-bare-a", f"tr-t-{world.uid}-bare-b"
    for name in (a, b):
        subprocess.run(["ip", "netns", "add", name], check=True)
        world.instances.append(name)
    subprocess.run(["ip", "link", "add", f"trb{world.uid[:6]}a", "netns", a, "type", "veth", "peer", "name",
                    f"trb{world.uid[:6]}b", "netns", b], check=True)
    for name, link, ip in ((a, f"trb{world.uid[:6]}a", "10.9.0.1/24"), (b, f"trb{world.uid[:6]}b", "10.9.0.2/24")):
        subprocess.run(["ip", "-n", name, "addr", "add", ip, "dev", link], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", link, "up"], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    world = World()
    rows = []
    try:
        builds = []
        for n in range(3):
            vpc_id = world.vpc(f"b{n}")
            start = time.perf_counter()
            realise.ensure_vpc(vpc(vpc_id))
            builds.append(ms(start))
        rows.append(("create VPC: 2 subnets, IGW, routes (ms)", statistics.median(builds), max(builds), ""))

        for count in (10, 100, 1000):
            vpc_id = world.vpc(f"n{count}")
            realise.ensure_vpc(big_vpc(vpc_id, count, 80))
            changes = []
            for port in (81, 82, 83):
                desired = big_vpc(vpc_id, count, port)
                start = time.perf_counter()
                realise.ensure_vpc(desired)
                changes.append(ms(start))
            goal = {100: "goal < 50 ms", 1000: "goal < 500 ms"}.get(count, "")
            rows.append((f"one SG rule change, {count} ENIs (ms)", statistics.median(changes), max(changes), goal))
            realise.remove_vpc(vpc_id)
            world.vpcs.remove(vpc_id)

        vpc_id = world.vpc("t")
        u = vpc_id.removeprefix("vpc-")
        client_eni, server_eni = eni(vpc_id, 1, "a", "10.0.1.10", f"sg-web-{u}"), \
            eni(vpc_id, 2, "b", "10.0.2.10", f"sg-web-{u}")
        realise.ensure_vpc(vpc(vpc_id, enis=(client_eni, server_eni), groups=(web_group(u, PORT),)))
        client, server = world.instance(vpc_id, client_eni), world.instance(vpc_id, server_eni)
        bare_a, bare_b = bare_pair(world)
        filtered = iperf(client, server, "10.0.2.10", args.seconds)
        bare = iperf(bare_a, bare_b, "10.9.0.2", args.seconds)
        rows.append(("TCP throughput across subnets, all filters (Gbit/s)", filtered, bare,
                     f"{filtered / bare:.0%} of bare veth (goal >= 90%)"))
        through = connections_per_second(client, server, "10.0.2.10", 2)
        direct = connections_per_second(bare_a, bare_b, "10.9.0.2", 2)
        rows.append(("new TCP connections per second", through, direct, f"{through / direct:.0%} of bare veth"))
    finally:
        world.close()
    print("\n| measure | value (median) | max / bare veth | note |\n|---|---|---|---|")
    for label, value, other, note in rows:
        print(f"| {label} | {value:.2f} | {other:.2f} | {note} |")


if __name__ == "__main__":
    main()
