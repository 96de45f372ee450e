#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian machine (as root):
# installs what the tests need, builds all binaries, runs the unit and
# integration tests, and ends with one "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/common.sh
need_root
check_rust
apt_install "${DEB_PACKAGES[@]}"

# The integration tests run the real binaries of every package.
cargo build --workspace --bins --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
read -r passed failed < <(awk '/^test result:/ {
        for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
    } END { print p + 0, f + 0 }' "$log")
# Scheduler conformance against Pacemaker 2.1.5's regression cases: any
# case listed in the ratchet file that stops passing fails the run.
corpus=../shared/conformance/scheduler
if [ -x "$corpus/run" ]; then
    cargo build --release --quiet -p crm_simulate
    if ! "$corpus/run" target/release/crm_simulate \
            --expect-pass tests/conformance/scheduler.pass | tail -n 3; then
        echo "scheduler conformance regressed" >&2
        status=1
    fi
else
    echo "scheduler conformance: $corpus not found, not run" >&2
fi
echo "tests: $passed passed, $failed failed"
if [ "$status" -ne 0 ] && [ "$failed" = 0 ]; then
    echo "cargo test failed before running every test (exit $status)" >&2
fi
exit "$status"
