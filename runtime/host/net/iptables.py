"""The whole iptables ruleset of one VPC namespace: rendered from `VpcNet`, applied atomically.

`render_ruleset` is pure; every rule that implements an AWS rule carries a comment naming it. The
built-in chains hold nothing but one jump each into our `TR-*` chains and never change, so an update
can be either
* a full `iptables-restore` (no `--noflush`) of raw, nat and filter: one transaction that replaces
  everything or leaves the previous rules (network.md §4.9, §5.1c); used for a new namespace and
  whenever the kernel's ruleset is not the one we last applied (drift, restart); or
* a partial `iptables-restore --noflush` that re-declares (and so flushes) only the user chains whose
  rules changed and deletes vanished ones (`-X`), also one transaction. One SG rule change touches two
  chains however many ENIs carry the group.
Built-in chains default to DROP, so a namespace holding this ruleset alone is closed.

Packet walk in the VPC router (`TR-FWD`, from filter FORWARD):
1. `TR-IGW-OUT`: to the IGW only from private IPs that have a public IP (no public IP, no internet);
2. `TR-NACL`: stateless, every packet that crosses a subnet boundary: egress NACL of the source
   subnet, then ingress NACL of the destination subnet, rule-number order, final deny;
3. established/related accepted (security groups are stateful), invalid dropped;
4. `TR-SG-OUT`: egress SGs of the sending ENI, dispatched on `--physdev-in` (matches bridged and
   routed packets);
5. `TR-SG-IN`: ingress SGs of the receiving ENI, dispatched on the destination IP, because routed
   packets never match `--physdev-out` (network.md P2) and anti-spoofing makes the IP name its ENI;
6. accept.
An ENI's chain (`TR-O-*`/`TR-I-*`) calls the chain of each of its groups (`TR-GE-*`/`TR-GI-*`); a
group rule that matches sets a packet-mark bit (egress and ingress have their own), the ENI chain
returns once the bit is set and drops otherwise: allow-only, union of groups, default deny. The mark
never leaves the namespace (crossing a veth into another namespace scrubs it).
Anti-spoofing is in raw `TR-RAW` (the second layer under ebtables, see `ebtables.py`).
"""

from __future__ import annotations

import hashlib
import ipaddress

from runtime.errors import RealiseError

from . import naming
from .model import ALL, ICMP, TCP, UDP, Eni, NaclEntry, SgRule, VpcNet
from .tools import run_in

IMDS_IP = "169.254.169.254"
IMDS_PORT = 80
STATE_CHAIN = "TR-STATE"
EGRESS_OK = "0x1/0x1"
INGRESS_OK = "0x2/0x2"
_PROTO = {TCP: "tcp", UDP: "udp", ICMP: "icmp"}
_BUILTIN = {
    "raw": {"PREROUTING": ("ACCEPT", "TR-RAW"), "OUTPUT": ("ACCEPT", None)},
    "nat": {"PREROUTING": ("ACCEPT", "TR-DNAT"), "INPUT": ("ACCEPT", None), "OUTPUT": ("ACCEPT", None),
            "POSTROUTING": ("ACCEPT", "TR-SNAT")},
    "filter": {"INPUT": ("DROP", "TR-INPUT"), "FORWARD": ("DROP", "TR-FWD"), "OUTPUT": ("DROP", "TR-OUTPUT")},
}

Chains = dict[str, dict[str, list[str]]]  # table -> chain -> rule lines, in order


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


def referenced_groups(net: VpcNet) -> set[str]:
    return {r.group_id for g in net.security_groups for r in g.rules if r.group_id is not None}


def _nacl_rule(chain: str, e: NaclEntry) -> str:
    peer = _cidr("-d" if e.egress else "-s", e.cidr)
    match = _proto_match(e.protocol, e.port_from, e.port_to, e.icmp_type, e.icmp_code)
    verdict = "RETURN" if e.action == "allow" else "DROP"
    direction = "egress" if e.egress else "ingress"
    return _join(f"-A {chain}", peer, match,
                 _comment(f"NACL {direction} rule {e.rule_number} {e.action} {e.cidr}"), f"-j {verdict}")


def _sg_rule_match(rule: SgRule) -> str:
    if rule.group_id is not None:
        peer = f"-m set --match-set {naming.sg_ipset(rule.group_id)} {'dst' if rule.egress else 'src'}"
    else:
        peer = _cidr("-d" if rule.egress else "-s", rule.cidr or "0.0.0.0/0")
    if rule.protocol == ICMP:
        return _join(peer, _proto_match(ICMP, None, None, rule.from_port, rule.to_port))
    return _join(peer, _proto_match(rule.protocol, rule.from_port, rule.to_port))


def _group_chains(net: VpcNet, out: dict[str, list[str]]) -> None:
    for group in net.security_groups:
        for egress in (True, False):
            chain = naming.group_chain(group.group_id, egress)
            direction = "egress" if egress else "ingress"
            lines, seen = [], set()
            for rule in group.rules:
                if rule.egress != egress or (match := _sg_rule_match(rule)) in seen:
                    continue
                seen.add(match)
                label = _join(f"SG {group.group_id} {direction}", rule.rule_id, f"allow {rule.group_id or rule.cidr}")
                lines.append(_join(f"-A {chain}", match, _comment(label),
                                   f"-j MARK --set-xmark {EGRESS_OK if egress else INGRESS_OK}"))
            out[chain] = lines


def _eni_chains(eni: Eni, out: dict[str, list[str]]) -> None:
    for egress, bit in ((True, EGRESS_OK), (False, INGRESS_OK)):
        chain = naming.sg_chain(eni.eni_id, egress)
        lines = []
        for gid in eni.security_group_ids:
            lines += [f"-A {chain} -j {naming.group_chain(gid, egress)}", f"-A {chain} -m mark --mark {bit} -j RETURN"]
        what = "egress" if egress else "inbound"
        lines.append(_join(f"-A {chain}", _comment(f"SG default deny {what} for {eni.eni_id}"), "-j DROP"))
        out[chain] = lines


def _raw(net: VpcNet) -> dict[str, list[str]]:
    chains: dict[str, list[str]] = {"TR-RAW": [], "TR-IGW-IN": []}
    chains["TR-RAW"].append(_join(f"-A TR-RAW -i {naming.IGW_LINK}", _comment("from the internet gateway"),
                                  "-j TR-IGW-IN"))
    for eni in net.enis:
        if not eni.source_dest_check:
            continue
        chain = naming.spoof_chain(eni.eni_id)
        chains["TR-RAW"].append(_join(f"-A TR-RAW -m physdev --physdev-in {naming.eni_link(eni.eni_id)}",
                                      _comment(f"anti-spoofing for {eni.eni_id}"), f"-j {chain}"))
        chains[chain] = [f"-A {chain} -s {ip} -j RETURN" for ip in eni.ips]
        chains[chain].append(_join(f"-A {chain}", _comment(f"spoofed source from {eni.eni_id}"), "-j DROP"))
    igw_in = chains["TR-IGW-IN"]
    igw_in.append(_join(f"-A TR-IGW-IN -s {net.cidr}", _comment("IGW: VPC source from outside"), "-j DROP"))
    for p in net.public_ips:
        igw_in.append(_join(f"-A TR-IGW-IN -d {p.public_ip}/32", _comment(f"IGW: public {p.public_ip}"), "-j RETURN"))
    igw_in.append(_join("-A TR-IGW-IN", _comment("IGW: only mapped public IPs enter"), "-j DROP"))
    return chains


def _nat(net: VpcNet) -> dict[str, list[str]]:
    dnat = [_join(f"-A TR-DNAT -i {naming.IGW_LINK} -d {p.public_ip}/32",
                  _comment(f"IGW 1:1 NAT {p.public_ip} -> {p.private_ip}"), f"-j DNAT --to-destination {p.private_ip}")
            for p in net.public_ips]
    snat = [_join(f"-A TR-SNAT -o {naming.IGW_LINK} -s {p.private_ip}/32",
                  _comment(f"IGW 1:1 NAT {p.private_ip} -> {p.public_ip}"), f"-j SNAT --to-source {p.public_ip}")
            for p in net.public_ips]
    return {"TR-DNAT": dnat, "TR-SNAT": snat}


def _filter(net: VpcNet) -> dict[str, list[str]]:
    c: dict[str, list[str]] = {}
    c["TR-INPUT"] = ["-A TR-INPUT -i lo -j ACCEPT",
                     "-A TR-INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
                     _join(f"-A TR-INPUT -i {naming.BRIDGE_PREFIX}+ -d {IMDS_IP}/32 -p tcp --dport {IMDS_PORT}",
                           _comment("IMDS: instances reach the metadata listener (no NACL, no SG)"), "-j ACCEPT")]
    c["TR-OUTPUT"] = ["-A TR-OUTPUT -o lo -j ACCEPT",
                      "-A TR-OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"]
    c["TR-FWD"] = [
        _join(f"-A TR-FWD -o {naming.IGW_LINK}", _comment("to the internet gateway"), "-j TR-IGW-OUT"),
        _join("-A TR-FWD", _comment("network ACLs at subnet boundaries (stateless)"), "-j TR-NACL"),
        _join("-A TR-FWD -m conntrack --ctstate RELATED,ESTABLISHED", _comment("security groups are stateful"),
              "-j ACCEPT"),
        "-A TR-FWD -m conntrack --ctstate INVALID -j DROP",
        _join("-A TR-FWD", _comment("egress security groups of the sending ENI"), "-j TR-SG-OUT"),
        _join("-A TR-FWD", _comment("ingress security groups of the receiving ENI"), "-j TR-SG-IN"),
        "-A TR-FWD -j ACCEPT"]
    c["TR-IGW-OUT"] = [_join(f"-A TR-IGW-OUT -s {p.private_ip}/32", _comment(f"has public IP {p.public_ip}"),
                             "-j RETURN") for p in net.public_ips]
    c["TR-IGW-OUT"].append(_join("-A TR-IGW-OUT", _comment("no public IPv4 address: the IGW drops"), "-j DROP"))
    c["TR-NACL"] = []
    for s in net.subnets:
        acl = s.network_acl_id
        c["TR-NACL"] += [
            _join(f"-A TR-NACL -s {s.cidr} ! -d {s.cidr}", _comment(f"leaving {s.subnet_id}: egress of {acl}"),
                  f"-j {naming.nacl_chain(acl, True)}"),
            _join(f"-A TR-NACL -d {s.cidr} ! -s {s.cidr}", _comment(f"entering {s.subnet_id}: ingress of {acl}"),
                  f"-j {naming.nacl_chain(acl, False)}")]
    for nacl in net.nacls:
        for egress in (True, False):
            chain = naming.nacl_chain(nacl.network_acl_id, egress)
            entries = sorted((e for e in nacl.entries if e.egress == egress), key=lambda e: e.rule_number)
            c[chain] = [_nacl_rule(chain, e) for e in entries]
            c[chain].append(_join(f"-A {chain}", _comment(f"NACL {nacl.network_acl_id} rule * deny"), "-j DROP"))
    c["TR-SG-OUT"] = [_join(f"-A TR-SG-OUT -m physdev --physdev-in {naming.eni_link(e.eni_id)}",
                            _comment(f"egress of {e.eni_id}"), f"-j {naming.sg_chain(e.eni_id, True)}")
                      for e in net.enis]
    c["TR-SG-IN"] = [_join(f"-A TR-SG-IN -d {ip}/32", _comment(f"ingress of {e.eni_id}"),
                           f"-j {naming.sg_chain(e.eni_id, False)}") for e in net.enis for ip in e.ips]
    _group_chains(net, c)
    for eni in net.enis:
        _eni_chains(eni, c)
    return c


def _document(tables: Chains, header: str) -> list[str]:
    lines = [header]
    for table, builtins in _BUILTIN.items():
        lines.append(f"*{table}")
        lines += [f":{chain} {policy} [0:0]" for chain, (policy, _) in builtins.items()]
        lines += [f":{chain} - [0:0]" for chain in tables[table]]
        lines += [f"-A {chain} -j {target}" for chain, (_, target) in builtins.items() if target]
        for rules in tables[table].values():
            lines += rules
        lines.append("COMMIT")
    return lines


def render_chains(net: VpcNet) -> Chains:
    """Our user chains per table, each with its rules (the digest chain included)."""
    tables = {"raw": _raw(net), "nat": _nat(net), "filter": _filter(net)}
    tables["filter"][STATE_CHAIN] = []
    digest = hashlib.sha256("\n".join(_document(tables, "")).encode()).hexdigest()[:32]
    tables["filter"][STATE_CHAIN] = [f'-A {STATE_CHAIN} -m comment --comment "digest {digest}" -j RETURN']
    return tables


def render_ruleset(net: VpcNet) -> str:
    """The complete iptables-restore document for `net`'s namespace, ending in its own digest."""
    header = f"# Terrarium VPC {net.vpc_id} (netns {naming.vpc_netns(net.vpc_id)}): generated, replaced whole"
    return "\n".join(_document(render_chains(net), header)) + "\n"


def parse_document(text: str) -> Chains:
    """Inverse of `render_ruleset` for our own documents: user chains and their rules per table."""
    tables: Chains = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = {}
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            if chain not in _BUILTIN.get(table, {}):
                tables[table][chain] = []
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain in tables[table]:
                tables[table][chain].append(line)
    return tables


def render_update(old: str, new: str) -> str:
    """A `--noflush` document turning the ruleset `old` into `new` by touching only changed chains."""
    before, after = parse_document(old), parse_document(new)
    lines = []
    for table in _BUILTIN:
        changed = [c for c, rules in after[table].items() if before[table].get(c) != rules]
        gone = [c for c in before[table] if c not in after[table]]
        if not changed and not gone:
            continue
        lines.append(f"*{table}")
        lines += [f":{c} - [0:0]" for c in changed + gone]      # declaring a user chain flushes it
        for c in changed:
            lines += after[table][c]
        lines += [f"-X {c}" for c in gone]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def digest_of(text: str) -> str:
    for line in reversed(text.splitlines()):
        if "digest " in line:
            return line.split("digest ", 1)[1].split('"', 1)[0]
    return ""


READ = ["iptables", "-w", "-S", STATE_CHAIN]


def applied_digest(netns_path: str) -> str:
    """The digest of the ruleset the namespace holds now ("" when none of ours is loaded)."""
    try:
        return digest_of(run_in(netns_path, READ))
    except RealiseError:  # no such chain: nothing of ours applied yet
        return ""


def apply_ruleset(netns_path: str, text: str, previous: str | None = None) -> None:
    """Make the namespace hold `text`, in one transaction (all or nothing).

    `previous` is the document the namespace verifiably holds now (its digest matches); with it only
    the changed chains are rewritten, without it everything is replaced.
    """
    if previous is None:
        run_in(netns_path, ["iptables-restore", "-w"], stdin=text)
    else:
        run_in(netns_path, ["iptables-restore", "-w", "--noflush"], stdin=render_update(previous, text))


def nat_map_of(text: str) -> dict[str, str]:
    """public -> private as a ruleset document (ours, or `iptables-save -t nat` output) maps them."""
    out = {}
    for line in text.splitlines():
        if "-j DNAT" in line and " -d " in line:
            words = line.split()
            out[words[words.index("-d") + 1].split("/")[0]] = words[words.index("--to-destination") + 1]
    return out


def eni_ips_of(text: str) -> set[str]:
    """Private ENI addresses a ruleset (our document or `iptables-save` output) dispatches ingress for."""
    return {line.split(" -d ")[1].split("/")[0] for line in text.splitlines()
            if line.startswith("-A TR-SG-IN ") and " -d " in line}


def saved(netns_path: str) -> str:
    """`iptables-save` of the namespace ("" when it has no tables yet)."""
    try:
        return run_in(netns_path, ["iptables-save"])
    except RealiseError:
        return ""
