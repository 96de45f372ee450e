#!/usr/bin/env bash
# The main job: a demo cluster on this machine (as root). Several nodes,
# each in a network namespace of its own on one bridge, run the whole
# stack (heartbeat with `pacemaker respawn`: ccm, cib, lrmd, stonithd,
# attrd, crmd, pengine) and a resource group of a virtual IP (IPaddr2) and a
# service (Dummy). The demo prints the cluster status, powers off the node
# running the group (kill -9 of its whole stack), shows the failover with
# its timing, and tears everything down (unless --keep).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/common.sh

usage() {
    cat <<USAGE
usage: ./demo.sh [--nodes N] [--keep] [--dir DIR]

Starts an N-node cluster (default 3, at most 9) in network namespaces
hademo-n1..hademo-nN (10.199.0.1..N on a bridge in namespace hademo-br),
with keepalive 100ms / deadtime 500ms, the group "web" (virtual IP
10.199.0.100 and a Dummy service), shows crm_mon, kills the node running
"web" and shows it start elsewhere, with the time it took.

  --nodes N  how many nodes (2-9; with 2, the survivor has no quorum
             majority and no-quorum-policy=ignore is set)
  --keep     leave the cluster running; its files are under DIR and
             ./demo.sh --stop --dir DIR stops it
  --stop     stop a cluster left running with --keep and remove it
  --dir DIR  where the nodes' files go (default /tmp/ha-demo)
USAGE
}

nodes=3
keep=0
stop_only=0
dir=/tmp/ha-demo
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes=${2:?--nodes needs a value}; shift ;;
        --keep) keep=1 ;;
        --stop) stop_only=1 ;;
        --dir) dir=${2:?--dir needs a value}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "demo.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
case "$nodes" in
    [2-9]) ;;
    *) echo "demo.sh: --nodes must be 2 to 9" >&2; exit 2 ;;
esac

need_root
bin=$PWD/target/release

# Every process of node i: found by its state directory in the environment
# (heartbeat, the daemons and the agents they run).
node_pids() {
    local marker="HA_STATEDIR=$dir/node$1/lib"
    local p
    for p in /proc/[0-9]*; do
        if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qxF "$marker"; then
            echo "${p#/proc/}"
        fi
    done
}

power_off() {
    local i pid
    for i in 1 2 3; do
        for pid in $(node_pids "$1"); do kill -9 "$pid" 2>/dev/null || true; done
        sleep 0.05
    done
}

teardown() {
    local i
    for i in $(seq 9); do
        [ -d "$dir/node$i" ] && power_off "$i"
        ip netns del "hademo-n$i" 2>/dev/null || true
    done
    ip netns del hademo-br 2>/dev/null || true
    rm -rf "$dir"
}

if [ "$stop_only" = 1 ]; then
    teardown
    echo "stopped and removed the demo cluster in $dir"
    exit 0
fi

check_rust
apt_install "${DEB_PACKAGES[@]}"
echo "== building (release)"
cargo build --release --workspace --bins --quiet

cleanup() {
    if [ "$keep" = 0 ]; then
        teardown
    fi
}
trap cleanup EXIT
teardown

on() { # on NODE CMD...: a command in node NODE's namespace and environment
    local i=$1
    shift
    ip netns exec "hademo-n$i" env HA_CONFDIR="$dir/node$i/etc" HA_RUNDIR="$dir/node$i/run" \
        HA_STATEDIR="$dir/node$i/lib" HA_LOGDIR="$dir/node$i/log" HA_NODENAME="node$i" "$@"
}

echo "== network: $nodes namespaces on one bridge"
ip netns add hademo-br
ip -n hademo-br link add br0 type bridge
ip -n hademo-br link set br0 up
names=""
for i in $(seq "$nodes"); do
    ip netns add "hademo-n$i"
    ip -n "hademo-n$i" link set lo up
    ip link add "hademo$i" netns hademo-br type veth peer name eth0 netns "hademo-n$i"
    ip -n hademo-br link set "hademo$i" master br0 up
    ip -n "hademo-n$i" addr add "10.199.0.$i/24" brd + dev eth0
    ip -n "hademo-n$i" link set eth0 up
    names="$names node$i"
done

quorum=""
if [ "$nodes" = 2 ]; then
    quorum='<nvpair id="o-quorum" name="no-quorum-policy" value="ignore"/>'
fi
key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
hacluster_ids=$(id -u hacluster):$(id -g hacluster)
for i in $(seq "$nodes"); do
    n=$dir/node$i
    mkdir -p "$n/etc" "$n/run" "$n/lib/crm" "$n/log" "$n/rsctmp"
    cat > "$n/etc/ha.cf" <<CF
# Demo node $i: sub-second failure detection.
keepalive 100ms
warntime 300ms
deadtime 500ms
initdead 2
bcast eth0
node$names
auto_failback off
use_logd no
logfacility none
logfile ha-log
pacemaker respawn
env RSCTMP=$n/rsctmp
CF
    printf 'auth 1\n1 sha1 %s\n' "$key" > "$n/etc/authkeys"
    chmod 600 "$n/etc/authkeys"
    cat > "$n/lib/crm/cib.xml" <<CIB
<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="o-stonith" name="stonith-enabled" value="true"/>
        <nvpair id="o-deadtime" name="dc-deadtime" value="2s"/>
        $quorum
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy">
        <instance_attributes id="fence-ia">
          <nvpair id="fence-hosts" name="pcmk_host_list" value="${names# }"/>
        </instance_attributes>
      </primitive>
      <group id="web">
        <primitive id="web-ip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="web-ip-ia">
            <nvpair id="web-ip-ip" name="ip" value="10.199.0.100"/>
            <nvpair id="web-ip-mask" name="cidr_netmask" value="24"/>
            <nvpair id="web-ip-nic" name="nic" value="eth0"/>
          </instance_attributes>
          <operations><op id="web-ip-mon" name="monitor" interval="2s" timeout="20s"/></operations>
        </primitive>
        <primitive id="web-service" class="ocf" provider="heartbeat" type="Dummy">
          <operations><op id="web-service-mon" name="monitor" interval="2s" timeout="20s"/></operations>
        </primitive>
      </group>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>
CIB
    : > "$n/log/ha-log"
    chown -R "$hacluster_ids" "$n/run" "$n/lib" "$n/log"
done

echo "== starting heartbeat on$names"
t0=$(date +%s%N)
for i in $(seq "$nodes"); do
    on "$i" "$bin/heartbeat"
done

# Where a resource runs, from node 1's view of the cluster.
running_on() {
    on "$1" "$bin/crm_resource" -W -r "$2" 2>/dev/null | sed -n 's/.* is running on: \(node[0-9]*\).*/\1/p' | head -1
}

wait_running() { # wait_running VIEW_NODE RSC [NOT_ON]: prints the node
    local node
    for _ in $(seq 600); do
        node=$(running_on "$1" "$2")
        if [ -n "$node" ] && [ "$node" != "${3:-}" ]; then
            echo "$node"
            return 0
        fi
        sleep 0.05
    done
    return 1
}

if ! where=$(wait_running 1 web-service); then
    echo "the cluster did not start web within 30 s; node1's log:" >&2
    tail -50 "$dir/node1/log/ha-log" >&2
    exit 1
fi
t1=$(date +%s%N)
echo "   all resources started $(( (t1 - t0) / 1000000 )) ms after heartbeat was started"
echo "== crmadmin -D"
on 1 "$bin/crmadmin" -D | sed 's/^/  /'
echo "== crm_mon -1"
on 1 "$bin/crm_mon" -1 | sed 's/^/  /'
victim=${where#node}
echo "== the virtual IP on $where"
ip -n "hademo-n$victim" -br addr show dev eth0 | sed 's/^/  /'

survivor=1
[ "$victim" = 1 ] && survivor=2
echo "== powering off $where (kill -9 of its whole stack)"
t0=$(date +%s%N)
power_off "$victim"
if ! new=$(wait_running "$survivor" web-service "$where"); then
    echo "web did not move within 30 s; node$survivor's log:" >&2
    tail -60 "$dir/node$survivor/log/ha-log" >&2
    exit 1
fi
t1=$(date +%s%N)
echo "   web is running on $new $(( (t1 - t0) / 1000000 )) ms after $where died"
echo "== what node$survivor logged"
grep -E "is dead|left the membership|is lost|now the DC|fenced|Requesting fencing|Processing transition|Result of web" \
    "$dir/node$survivor/log/ha-log" | grep -v "_monitor_0" | tail -20 | sed 's/^/  /'
echo "== crm_mon -1 (on node$survivor)"
on "$survivor" "$bin/crm_mon" -1 | sed 's/^/  /'
echo "== the virtual IP on $new"
ip -n "hademo-n${new#node}" -br addr show dev eth0 | sed 's/^/  /'

if [ "$keep" = 1 ]; then
    echo "== left running in $dir (--keep); stop with: ./demo.sh --stop --dir $dir"
else
    echo "== tearing down"
fi
