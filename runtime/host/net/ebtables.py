"""Layer-2 anti-spoofing for ENI bridge ports: ebtables in the VPC namespace, replaced whole.

Each ENI's bridge port may only send frames from its own MAC, ARP that claims its own IPs, and IPv4
from its own IPs (any source when source/dest check is off); everything else, IPv6 included, is
dropped. INPUT and FORWARD default to DROP, so a port that is not in the model is mute.
`ebtables-restore` (nf_tables backend) applies the table in one transaction.
"""

from __future__ import annotations

import hashlib

from . import naming
from .model import Eni, VpcNet
from .tools import run_in

DIGEST_PREFIX = "TR-L2D-"


def _eni_lines(eni: Eni, mac: str) -> list[str]:
    chain = naming.l2_chain(eni.eni_id)
    port = naming.eni_link(eni.eni_id)
    lines = [f"-A INPUT -i {port} -j {chain}", f"-A FORWARD -i {port} -j {chain}"]
    for ip in eni.ips:
        lines.append(f"-A {chain} -s {mac} -p ARP --arp-ip-src {ip} --arp-mac-src {mac} -j ACCEPT")
    if eni.source_dest_check:
        lines += [f"-A {chain} -s {mac} -p IPv4 --ip-src {ip} -j ACCEPT" for ip in eni.ips]
    else:
        lines.append(f"-A {chain} -s {mac} -p IPv4 -j ACCEPT")
    lines.append(f"-A {chain} -j DROP")
    return lines


def eni_mac(eni: Eni) -> str:
    return (eni.mac or naming.mac_for(eni.eni_id)).lower()


def render_l2(net: VpcNet) -> str:
    """The ebtables-restore document for `net`: per-ENI chains with policy DROP.

    An empty chain named after the document's digest lets `apply_l2` skip an unchanged table.
    """
    head = ["*filter", ":INPUT DROP", ":FORWARD DROP", ":OUTPUT ACCEPT"]
    body: list[str] = []
    for eni in net.enis:
        head.append(f":{naming.l2_chain(eni.eni_id)} DROP")
        body += _eni_lines(eni, eni_mac(eni))
    digest = hashlib.sha256("\n".join(head + body).encode()).hexdigest()[:16]
    head.append(f":{DIGEST_PREFIX}{digest} RETURN")
    return "\n".join(head + body) + "\n"


def _digest_chain(text: str) -> str:
    for line in text.splitlines():
        if line.startswith(":" + DIGEST_PREFIX):
            return line.split()[0][1:]
    return ""


READ = ["ebtables-save"]


def apply_l2(netns_path: str, text: str, saved: str) -> bool:
    """Replace the bridge filter table unless it already holds `text`; True if it was replaced.

    `saved` is the namespace's `ebtables-save` output (`READ`).
    """
    if _digest_chain(saved) == _digest_chain(text):
        return False
    run_in(netns_path, ["ebtables-restore"], stdin=text)
    return True
