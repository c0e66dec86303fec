"""The host's own Debian apt sources, re-aimed at another suite, as one-line entries for mmdebstrap.

Images are debootstrapped from whatever mirror the host already uses (a local mirror, a proxy, a snapshot):
never a hard-coded one. Only entries for the host's own release are taken (`bookworm`, `bookworm-updates`,
`bookworm-security`, ...); third-party repositories are left out. For another suite the same URIs are used with
the release name swapped (`bookworm-security` -> `trixie-security`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.errors import RealiseError

APT_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class AptSource:
    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str = ""

    def line(self) -> str:
        opts = f"[signed-by={self.signed_by}] " if self.signed_by else ""
        return f"deb {opts}{self.uri} {self.suite} {' '.join(self.components)}"


def host_codename(os_release: Path = Path("/etc/os-release")) -> str:
    for line in os_release.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"')
    raise RealiseError(f"{os_release} has no VERSION_CODENAME")


def parse_one_line(text: str) -> list[AptSource]:
    """Entries of a `sources.list`-style file (`deb [opts] uri suite components...`)."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[4:].strip()
        opts: dict[str, str] = {}
        if rest.startswith("["):
            inner, _, rest = rest[1:].partition("]")
            for opt in inner.split():
                k, _, v = opt.partition("=")
                opts[k] = v
        parts = rest.split()
        if len(parts) >= 3:
            out.append(AptSource(parts[0], parts[1], tuple(parts[2:]), opts.get("signed-by", "")))
    return out


def parse_deb822(text: str) -> list[AptSource]:
    """Entries of a `.sources` file (deb822 stanzas); inline keys are dropped (the default keyring applies)."""
    out = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:
                fields[key] += "\n" + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        signed_by = fields.get("signed-by", "")
        if "\n" in signed_by or not signed_by.startswith("/"):
            signed_by = ""
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                out.append(AptSource(uri, suite, tuple(fields.get("components", "").split()), signed_by))
    return out


def host_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """All enabled `deb` entries of the host, in apt's reading order."""
    out: list[AptSource] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        out += parse_one_line(main.read_text())
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        for p in sorted(parts.iterdir()):
            if p.suffix == ".list":
                out += parse_one_line(p.read_text())
            elif p.suffix == ".sources":
                out += parse_deb822(p.read_text())
    return out


def sources_for(suite: str, sources: list[AptSource], codename: str) -> tuple[str, ...]:
    """One-line entries for `suite`, derived from the host entries of release `codename`."""
    lines, has_release = [], False
    for src in sources:
        base, sep, pocket = src.suite.partition("-")
        if base not in (codename, "stable"):
            continue
        has_release |= not pocket
        lines.append(AptSource(src.uri, suite + sep + pocket, src.components, src.signed_by).line())
    if not has_release:
        raise RealiseError(f"the host's apt sources have no entry for release '{codename}' to derive '{suite}' from")
    return tuple(dict.fromkeys(lines))
