# Shared by demo.sh and test.sh: the toolchain check and package installation
# a fresh Debian machine needs. Sourced, not run.

MIN_RUST=1.85

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root (the cluster daemons and tests switch users, bind sockets under /var/run and create network namespaces)" >&2
        exit 1
    fi
}

check_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "$0: the Rust toolchain (cargo, rustc >= $MIN_RUST) is a prerequisite: install it with rustup first" >&2
        exit 1
    fi
    local have
    have=$(rustc --version | awk '{print $2}')
    if [ "$(printf '%s\n%s\n' "$MIN_RUST" "$have" | sort -V | head -n1)" != "$MIN_RUST" ]; then
        echo "$0: rustc $have is older than the minimum $MIN_RUST" >&2
        exit 1
    fi
}

# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Packages the project's tests and demo use: procps (ps, pkill), iproute2
# (network namespaces of the multi-node tests), heartbeat (Debian's
# Heartbeat 3.0.6, the reference peer of the interoperability test: run
# only by the test harness, never linked or shipped), python3 (runs the
# independent codec shared/interop/heartbeat/hbwire.py as a test oracle),
# pacemaker-cli-utils (Debian's Pacemaker 2.1.5 cibadmin, the oracle of the
# cibadmin differential tests: run by absolute path, never linked or shipped),
# openssh-server (the sshd that tests/ha_propagate.rs runs in its namespaces),
# binutils (objdump and strip, which packaging/build-deb runs for the
# package test; the Rust linker usually brings them, this makes it sure),
# crmsh (the crm shell tests/crmsh.rs drives over our tools and Pacemaker's).
DEB_PACKAGES=(procps iproute2 heartbeat python3 pacemaker-cli-utils resource-agents fence-agents cluster-glue openssh-server binutils crmsh)
