"""The whole iptables ruleset of one VPC namespace: rendered from `VpcNet`, applied atomically.

`render_ruleset` is pure; every rule that implements an AWS rule carries a comment naming it.
`apply_ruleset` feeds the text to `iptables-restore` without `--noflush`: the VPC namespace is ours,
so a full restore of raw, nat and filter is one transaction that either replaces everything or
leaves the previous rules (network.md §4.9, §5.1c). Built-in chains default to DROP, so a namespace
that has this ruleset and nothing else is closed.

Packet walk in the VPC router (filter FORWARD):
1. `TR-IGW-OUT`: to the IGW only from private IPs that have a public IP (no public IP, no internet);
2. `TR-NACL`: stateless, every packet that crosses a subnet boundary: egress NACL of the source
   subnet, then ingress NACL of the destination subnet, rule-number order, final deny;
3. established/related accepted (security groups are stateful), invalid dropped;
4. egress SG of the sending ENI (dispatched on `--physdev-in`, which matches bridged and routed);
5. ingress SG of the receiving ENI, dispatched on the destination IP, because routed packets never
   match `--physdev-out` (network.md P2) and anti-spoofing makes the IP name its ENI;
6. accept. SG chains `RETURN` on allow and end in `DROP`.
Anti-spoofing is in raw PREROUTING (second layer under ebtables, see `ebtables.py`).
"""

from __future__ import annotations

import hashlib
import ipaddress

from runtime.errors import RealiseError

from . import naming
from .model import ALL, ICMP, TCP, UDP, NaclEntry, SgRule, VpcNet
from .tools import run_in

IMDS_IP = "169.254.169.254"
IMDS_PORT = 80
STATE_CHAIN = "TR-STATE"
_PROTO = {TCP: "tcp", UDP: "udp", ICMP: "icmp"}


def _comment(text: str) -> str:
    return '-m comment --comment "' + text.replace('"', "'")[:250] + '"'


def _proto_match(protocol: int, port_from: int | None, port_to: int | None,
                 icmp_type: int = -1, icmp_code: int = -1) -> str:
    if protocol == ALL:
        return ""
    if protocol in (TCP, UDP):
        name = _PROTO[protocol]
        lo = 0 if port_from in (None, -1) else port_from
        hi = 65535 if port_to in (None, -1) else port_to
        if lo == 0 and hi == 65535:
            return f"-p {name}"
        return f"-p {name} --dport {lo}" if lo == hi else f"-p {name} --dport {lo}:{hi}"
    if protocol == ICMP:
        if icmp_type == -1:
            return "-p icmp"
        return f"-p icmp --icmp-type {icmp_type}" + ("" if icmp_code == -1 else f"/{icmp_code}")
    return f"-p {protocol}"


def _cidr(flag: str, cidr: str) -> str:
    net = ipaddress.ip_network(cidr, strict=False)
    return "" if net.prefixlen == 0 else f"{flag} {net}"


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _nacl_rule(chain: str, e: NaclEntry) -> str:
    peer = _cidr("-d" if e.egress else "-s", e.cidr)
    match = _proto_match(e.protocol, e.port_from, e.port_to, e.icmp_type, e.icmp_code)
    verdict = "RETURN" if e.action == "allow" else "DROP"
    direction = "egress" if e.egress else "ingress"
    return _join(f"-A {chain}", peer, match,
                 _comment(f"NACL {direction} rule {e.rule_number} {e.action} {e.cidr}"), f"-j {verdict}")


def _sg_rule_body(rule: SgRule) -> str:
    if rule.group_id is not None:
        peer = f"-m set --match-set {naming.sg_ipset(rule.group_id)} {'dst' if rule.egress else 'src'}"
    else:
        peer = _cidr("-d" if rule.egress else "-s", rule.cidr or "0.0.0.0/0")
    if rule.protocol == ICMP:
        match = _proto_match(ICMP, None, None, rule.from_port, rule.to_port)
    else:
        match = _proto_match(rule.protocol, rule.from_port, rule.to_port)
    return _join(peer, match)


def referenced_groups(net: VpcNet) -> set[str]:
    return {r.group_id for g in net.security_groups for r in g.rules if r.group_id is not None}


def _sg_chain_lines(net: VpcNet, eni, egress: bool) -> list[str]:
    chain = naming.sg_chain(eni.eni_id, egress)
    lines, seen = [], set()
    for gid in eni.security_group_ids:
        for rule in net.group(gid).rules:
            if rule.egress != egress:
                continue
            body = _sg_rule_body(rule)
            if body in seen:
                continue
            seen.add(body)
            what = rule.group_id or rule.cidr
            label = f"SG {gid} {'egress' if egress else 'ingress'} {rule.rule_id} allow {what}".replace("  ", " ")
            lines.append(_join(f"-A {chain}", body, _comment(label), "-j RETURN"))
    lines.append(_join(f"-A {chain}", _comment(f"SG default deny {'egress' if egress else 'inbound'} "
                                               f"for {eni.eni_id}"), "-j DROP"))
    return lines


def _render_raw(net: VpcNet) -> list[str]:
    out = ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":TR-IGW-IN - [0:0]"]
    spoof = []
    for eni in net.enis:
        if not eni.source_dest_check:
            continue
        chain = "TR-S-" + naming.short_hash(eni.eni_id)
        out.append(f":{chain} - [0:0]")
        spoof.append(_join(f"-A PREROUTING -m physdev --physdev-in {naming.eni_link(eni.eni_id)}",
                           _comment(f"anti-spoofing for {eni.eni_id}"), f"-j {chain}"))
        spoof += [f"-A {chain} -s {ip} -j RETURN" for ip in eni.ips]
        spoof.append(_join(f"-A {chain}", _comment(f"spoofed source from {eni.eni_id}"), "-j DROP"))
    out.append(_join(f"-A PREROUTING -i {naming.IGW_LINK}", _comment("from the internet gateway"),
                     "-j TR-IGW-IN"))
    out += spoof
    out.append(_join(f"-A TR-IGW-IN -s {net.cidr}", _comment("IGW: VPC source from outside"), "-j DROP"))
    for p in net.public_ips:
        out.append(_join(f"-A TR-IGW-IN -d {p.public_ip}/32", _comment(f"IGW: public {p.public_ip}"), "-j RETURN"))
    out.append(_join("-A TR-IGW-IN", _comment("IGW: only mapped public IPs enter"), "-j DROP"))
    out.append("COMMIT")
    return out


def _render_nat(net: VpcNet) -> list[str]:
    out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
           ":POSTROUTING ACCEPT [0:0]"]
    for p in net.public_ips:
        out.append(_join(f"-A PREROUTING -i {naming.IGW_LINK} -d {p.public_ip}/32",
                         _comment(f"IGW 1:1 NAT {p.public_ip} -> {p.private_ip}"),
                         f"-j DNAT --to-destination {p.private_ip}"))
    for p in net.public_ips:
        out.append(_join(f"-A POSTROUTING -o {naming.IGW_LINK} -s {p.private_ip}/32",
                         _comment(f"IGW 1:1 NAT {p.private_ip} -> {p.public_ip}"),
                         f"-j SNAT --to-source {p.public_ip}"))
    out.append("COMMIT")
    return out


def _render_filter(net: VpcNet) -> list[str]:
    chains = ["TR-NACL", "TR-IGW-OUT", STATE_CHAIN]
    body: list[str] = []
    body += ["-A INPUT -i lo -j ACCEPT",
             "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
             _join(f"-A INPUT -i {naming.BRIDGE_PREFIX}+ -d {IMDS_IP}/32 -p tcp --dport {IMDS_PORT}",
                   _comment("IMDS: instances reach the metadata listener (no NACL, no SG)"), "-j ACCEPT"),
             "-A OUTPUT -o lo -j ACCEPT",
             "-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
             _join(f"-A FORWARD -o {naming.IGW_LINK}", _comment("to the internet gateway"), "-j TR-IGW-OUT"),
             _join("-A FORWARD", _comment("network ACLs at subnet boundaries (stateless)"), "-j TR-NACL"),
             _join("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED",
                   _comment("security groups are stateful"), "-j ACCEPT"),
             "-A FORWARD -m conntrack --ctstate INVALID -j DROP"]
    for eni in net.enis:
        chain = naming.sg_chain(eni.eni_id, True)
        body.append(_join(f"-A FORWARD -m physdev --physdev-in {naming.eni_link(eni.eni_id)}",
                          _comment(f"egress security groups of {eni.eni_id}"), f"-j {chain}"))
    for eni in net.enis:
        chain = naming.sg_chain(eni.eni_id, False)
        for ip in eni.ips:
            body.append(_join(f"-A FORWARD -d {ip}/32", _comment(f"ingress security groups of {eni.eni_id}"),
                              f"-j {chain}"))
    body.append("-A FORWARD -j ACCEPT")
    for p in net.public_ips:
        body.append(_join(f"-A TR-IGW-OUT -s {p.private_ip}/32", _comment(f"has public IP {p.public_ip}"),
                          "-j RETURN"))
    body.append(_join("-A TR-IGW-OUT", _comment("no public IPv4 address: the IGW drops"), "-j DROP"))
    for s in net.subnets:
        body.append(_join(f"-A TR-NACL -s {s.cidr} ! -d {s.cidr}",
                          _comment(f"leaving {s.subnet_id}: egress of {s.network_acl_id}"),
                          f"-j {naming.nacl_chain(s.network_acl_id, True)}"))
        body.append(_join(f"-A TR-NACL -d {s.cidr} ! -s {s.cidr}",
                          _comment(f"entering {s.subnet_id}: ingress of {s.network_acl_id}"),
                          f"-j {naming.nacl_chain(s.network_acl_id, False)}"))
    for nacl in net.nacls:
        for egress in (True, False):
            chain = naming.nacl_chain(nacl.network_acl_id, egress)
            chains.append(chain)
            entries = sorted((e for e in nacl.entries if e.egress == egress), key=lambda e: e.rule_number)
            body += [_nacl_rule(chain, e) for e in entries]
            body.append(_join(f"-A {chain}", _comment(f"NACL {nacl.network_acl_id} rule * deny"), "-j DROP"))
    for eni in net.enis:
        for egress in (True, False):
            chains.append(naming.sg_chain(eni.eni_id, egress))
            body += _sg_chain_lines(net, eni, egress)
    head = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT DROP [0:0]"]
    head += [f":{c} - [0:0]" for c in chains]
    return head + body


def render_ruleset(net: VpcNet) -> str:
    """The complete iptables-restore document for `net`'s namespace, ending in its own digest."""
    lines = [f"# Terrarium VPC {net.vpc_id} (netns {naming.vpc_netns(net.vpc_id)}): generated, replaced whole"]
    lines += _render_raw(net) + _render_nat(net) + _render_filter(net)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]
    lines.append(f'-A {STATE_CHAIN} -m comment --comment "digest {digest}" -j RETURN')
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def digest_of(text: str) -> str:
    for line in reversed(text.splitlines()):
        if "digest " in line:
            return line.split("digest ", 1)[1].split('"', 1)[0]
    return ""


def applied_digest(netns_path: str) -> str:
    """The digest of the ruleset the namespace holds now ("" when none of ours is loaded)."""
    try:
        return digest_of(run_in(netns_path, ["iptables", "-w", "-S", STATE_CHAIN]))
    except RealiseError:  # no such chain: nothing of ours applied yet
        return ""


def apply_ruleset(netns_path: str, text: str) -> None:
    """Replace raw, nat and filter in the namespace in one transaction (all or nothing)."""
    run_in(netns_path, ["iptables-restore", "-w"], stdin=text)


def nat_map(netns_path: str) -> dict[str, str]:
    """public -> private as the namespace's nat table has it now (for conntrack hygiene on EIP moves)."""
    try:
        text = run_in(netns_path, ["iptables-save", "-t", "nat"])
    except RealiseError:  # no nat table yet
        return {}
    out = {}
    for line in text.splitlines():
        if "-j DNAT" in line and " -d " in line:
            words = line.split()
            pub = words[words.index("-d") + 1].split("/")[0]
            out[pub] = words[words.index("--to-destination") + 1]
    return out
