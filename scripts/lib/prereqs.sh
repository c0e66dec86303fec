# shellcheck shell=bash
# Host prerequisites shared by scripts/run and scripts/test (sourced, never executed).
#
# Contract: on a fresh Debian 12 machine, as root, `tr_prereqs` leaves the host able to run Terrarium:
# Debian packages installed, a Docker engine answering, and the repo's .venv holding the project in editable
# mode. Every step checks first and does nothing when already done, so a second call costs well under a
# second. `tr_build_images` builds the image recipes that have no image yet (see images/README.md).
#
# The Docker engine we start ourselves runs with --bridge=none --iptables=false --ip-masq=false: Terrarium does
# its own networking (every container runs with --network none), so dockerd must not touch the host's
# interfaces or firewall.

TR_ROOT=${TR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TR_VENV=${TR_VENV:-$TR_ROOT/.venv}
TR_DOCKERD_LOG=${TR_DOCKERD_LOG:-/var/log/terrarium-dockerd.log}

# Debian package -> how to tell it (or an equivalent) is there: a command name, a path, or "" for dpkg's word.
# A command counts wherever it comes from, so a host running Docker CE is not offered docker.io.
# shellcheck disable=SC2034  # read through the nameref in tr_apt_packages
declare -gA TR_APT_PACKAGES=(
    [docker.io]=dockerd
    [iptables]=iptables
    [ipset]=ipset
    [ebtables]=ebtables
    [conntrack]=conntrack
    [mmdebstrap]=mmdebstrap
    [bubblewrap]=bwrap
    [iproute2]=ip
    [iputils-ping]=ping
    [procps]=pgrep
    [python3-venv]=""
    [openssh-client]=ssh
    [uidmap]=newuidmap
    [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
    [debian-archive-keyring]=/usr/share/keyrings/debian-archive-keyring.gpg
    [curl]=curl
    [iperf3]=iperf3
)

# Only scripts/test needs these, never scripts/run: tests/e2e/test_operator_vagrant.py runs `vagrant validate`
# on the Vagrantfile, shellcheck on its provisioning (extracted with ruby) and on scripts/demo, and
# `systemd-analyze verify` on the unit.
# shellcheck disable=SC2034  # read through the nameref in tr_apt_packages
declare -gA TR_TEST_APT_PACKAGES=(
    [vagrant]=vagrant
    [shellcheck]=shellcheck
    [ruby]=ruby
    [systemd]=systemd-analyze
)

_tr_have() {
    local pkg=$1 probe=$2
    case $probe in
        "") [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]] ;;
        /*) [[ -e $probe ]] ;;
        *) command -v "$probe" >/dev/null || [[ -x /usr/sbin/$probe || -x /sbin/$probe ]] ;;
    esac
}

tr_step() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
tr_die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; return 1; }

tr_require_root() {
    [[ $(id -u) -eq 0 ]] || tr_die "Terrarium's host set-up needs root (it installs packages and runs dockerd)"
}

# Install the Debian packages of a set (the name of an array like TR_APT_PACKAGES, which is the default) not
# found by `_tr_have`. `apt-get update` runs only when something is missing. policy-rc.d keeps the packages'
# maintainer scripts from starting daemons (docker.io would start dockerd with its default bridge and iptables
# rules); we start dockerd ourselves with the options we need.
tr_apt_packages() {
    local -n _tr_set=${1:-TR_APT_PACKAGES}
    local pkg missing=()
    for pkg in "${!_tr_set[@]}"; do
        _tr_have "$pkg" "${_tr_set[$pkg]}" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    tr_step "installing Debian packages: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d placed=0 rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && placed=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    ((placed)) && rm -f "$policy"
    ((rc == 0)) || tr_die "apt-get install failed (exit $rc)"
}

# Start a Docker engine unless one already answers, then wait until it does (at most 60 s).
tr_dockerd() {
    docker info >/dev/null 2>&1 && return 0
    if ! pgrep -x dockerd >/dev/null; then
        tr_step "starting dockerd (log: $TR_DOCKERD_LOG)"
        setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false \
            >>"$TR_DOCKERD_LOG" 2>&1 </dev/null &
        disown
    else
        tr_step "waiting for the running dockerd to answer"
    fi
    local i
    for ((i = 0; i < 600; i++)); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    tail -n 20 "$TR_DOCKERD_LOG" >&2 2>/dev/null
    tr_die "dockerd did not answer within 60 s (see $TR_DOCKERD_LOG)"
}

# Create .venv when missing and (re)install the project with its test extras when pyproject.toml changed since
# the last install (its hash is kept in .venv/.terrarium-pyproject.sha256).
tr_venv() {
    local stamp=$TR_VENV/.terrarium-pyproject.sha256 want python
    if [[ ! -x $TR_VENV/bin/python ]]; then
        python=/usr/bin/python3
        [[ -x $python ]] || python=$(command -v python3) || tr_die "no python3 to create $TR_VENV with"
        tr_step "creating $TR_VENV with $($python --version 2>&1)"
        "$python" -m venv "$TR_VENV" || tr_die "python3 -m venv failed"
    fi
    want=$(sha256sum "$TR_ROOT/pyproject.toml" | cut -d' ' -f1)
    [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
    tr_step "installing the project into $TR_VENV (pyproject.toml changed or first install)"
    "$TR_VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "${TR_ROOT}[test]" \
        || tr_die "pip install -e '.[test]' failed"
    printf '%s\n' "$want" >"$stamp"
}

tr_prereqs() {
    tr_require_root || return 1
    tr_apt_packages TR_APT_PACKAGES || return 1
    tr_dockerd || return 1
    tr_venv || return 1
}

# Build the image recipes under images/ that have no image for their current recipe hash.
tr_build_images() {
    (cd "$TR_ROOT" && "$TR_VENV/bin/python" -m runtime.host.docker.images build --missing) \
        || tr_die "image build failed"
}
