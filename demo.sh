#!/usr/bin/env bash
# The main job: runs a demo node on this machine (as root) in a scratch
# directory of its own, shows its status and what it does when a supervised
# service dies, and tears everything down (unless --keep).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/common.sh

usage() {
    cat <<USAGE
usage: ./demo.sh [--keep] [--dir DIR]

Starts one node (heartbeat master control process, logd, a supervised demo
service) with its own HA_CONFDIR/HA_RUNDIR/HA_STATEDIR under DIR
(default /tmp/ha-demo), shows its status and logs, kills the service to show
heartbeat respawning it, then stops everything and removes DIR.

  --keep     leave the node running; stop it later with
             HA_CONFDIR=DIR/etc HA_RUNDIR=DIR/run HA_STATEDIR=DIR/lib target/release/heartbeat -k
  --dir DIR  where the node's files go
USAGE
}

keep=0
dir=/tmp/ha-demo
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1 ;;
        --dir) dir=${2:?--dir needs a value}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "demo.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

need_root
check_rust
apt_install "${DEB_PACKAGES[@]}"
echo "== building (release)"
cargo build --release --workspace --bins --quiet
bin=$PWD/target/release

export HA_CONFDIR=$dir/etc HA_RUNDIR=$dir/run HA_STATEDIR=$dir/lib HA_LOGDIR=$dir/log
export HA_NODENAME=${HA_NODENAME:-demo1}
node=$HA_NODENAME

cleanup() {
    if [ "$keep" = 0 ]; then
        "$bin/heartbeat" -k >/dev/null 2>&1 || true
        "$bin/logd" -k >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
"$bin/heartbeat" -k >/dev/null 2>&1 || true
"$bin/logd" -k >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$HA_CONFDIR" "$HA_RUNDIR" "$HA_STATEDIR" "$HA_LOGDIR"

# A stand-in for a real service: it logs through ha_logger and runs until killed.
cat > "$dir/demo-service" <<SERVICE
#!/bin/sh
$bin/ha_logger -t demo-service "demo service started as pid \$\$"
exec sleep 100000
SERVICE
chmod 755 "$dir/demo-service"

cat > "$HA_CONFDIR/ha.cf" <<CF
# Demo node: sub-second timing as a fast cluster would use it.
keepalive 100ms
deadtime 500ms
warntime 250ms
initdead 10
udpport 694
ucast lo 127.0.0.1
node $node
auto_failback off
use_logd yes
logfacility none
respawn root $dir/demo-service
CF
printf 'auth 1\n1 sha1 %s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$HA_CONFDIR/authkeys"
chmod 600 "$HA_CONFDIR/authkeys"
cat > "$HA_CONFDIR/logd.cf" <<CF
logfacility none
CF

echo "== heartbeat --check (effective settings, first lines)"
"$bin/heartbeat" --check 2>/dev/null | sed -n '1,12p'

echo "== starting logd and heartbeat for node $node"
"$bin/logd" -d
"$bin/heartbeat"
for _ in $(seq 50); do
    grep -q "demo service started" "$HA_LOGDIR/ha-log" 2>/dev/null && break
    sleep 0.1
done

echo "== heartbeat -s"
"$bin/heartbeat" -s
echo "== processes"
ps -o pid,user,args --ppid "$(cat "$HA_RUNDIR/heartbeat.pid")" | sed 's/^/  /'

svc=$(pgrep -f "sleep 100000" | head -1)
echo "== killing the demo service (pid $svc) with SIGKILL"
t0=$(date +%s%N)
kill -9 "$svc"
for _ in $(seq 100); do
    new=$(pgrep -f "sleep 100000" | head -1 || true)
    [ -n "$new" ] && [ "$new" != "$svc" ] && break
    sleep 0.01
done
t1=$(date +%s%N)
echo "   respawned as pid $new after $(( (t1 - t0) / 1000000 )) ms"

echo "== the log ($HA_LOGDIR/ha-log)"
sed 's/^/  /' "$HA_LOGDIR/ha-log"

if [ "$keep" = 1 ]; then
    echo "== left running in $dir (--keep)"
else
    echo "== stopping"
    "$bin/heartbeat" -k
    "$bin/heartbeat" -s || true
fi
