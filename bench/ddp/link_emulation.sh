#!/usr/bin/env bash
# bench_collective.py over emulated links instead of loopback: N Gloo ranks, each in its own
# network namespace, joined by veth pairs to a bridge in one more namespace; every link is shaped
# with tc tbf to RATE in both directions. Removes everything it made (the namespaces, and with
# them their veths, bridge and qdiscs) on exit, failure or interrupt. Addresses (10.23.0.0/24)
# exist only inside those namespaces. Needs root (ip netns, tc).
#
#   bench/ddp/link_emulation.sh RATE N OUT.json [bench_collective.py options...]
#   bench/ddp/link_emulation.sh 1gbit 4 /tmp/1g4.json --algorithm bf16-hook,powersgd,co3-rsag
#
# RATE is tc's (100mbit, 1gbit, 10gbit). Environment: PYTHON (default: the venv of .venv-path),
# CO3_LINK_TIMEOUT_S (default 1800, per run: the ranks are killed after it).
set -euo pipefail

RATE=${1:?rate, e.g. 1gbit}
N=${2:?world size}
OUT=${3:?output json}
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$(cat "$ROOT/.venv-path" 2>/dev/null)/bin/python}
TIMEOUT_S=${CO3_LINK_TIMEOUT_S:-1800}
TAG="co3le$$"            # unique per run: two runs never share a name
BRIDGE_NS="${TAG}br"
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  # A second signal (timeout signals the child, then its whole group) must not cut this short.
  trap '' INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for i in $(seq 0 $((N - 1))); do ip netns del "${TAG}r$i" 2>/dev/null || true; done
  ip netns del "$BRIDGE_NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# tbf needs a bucket of at least one timer tick's worth of bytes at the rate (and a packet).
burst_of() {
  "$PYTHON" - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", sys.argv[1].lower())
if not m:
    sys.exit(f"link_emulation: rate {sys.argv[1]!r} is not like 100mbit, 1gbit, 10gbit")
bits = float(m[1]) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m[2]]
print(max(64 * 1024, int(bits / 8 / 250)))
EOF
}
BURST=$(burst_of "$RATE")

ip netns add "$BRIDGE_NS"
ip -n "$BRIDGE_NS" link add br0 type bridge
ip -n "$BRIDGE_NS" link set br0 up
for i in $(seq 0 $((N - 1))); do
  ns="${TAG}r$i"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "${TAG}a$i" type veth peer name "${TAG}b$i"
  ip link set "${TAG}a$i" netns "$ns"
  ip link set "${TAG}b$i" netns "$BRIDGE_NS"
  ip -n "$ns" link set "${TAG}a$i" name eth0
  ip -n "$ns" addr add "10.23.0.$((i + 1))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$BRIDGE_NS" link set "${TAG}b$i" master br0
  ip -n "$BRIDGE_NS" link set "${TAG}b$i" up
  # The rank's link, both ways: what it sends (eth0) and what the bridge sends it.
  ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$RATE" burst "$BURST" latency 100ms
  ip netns exec "$BRIDGE_NS" tc qdisc add dev "${TAG}b$i" root tbf rate "$RATE" burst "$BURST" latency 100ms
done

for i in $(seq 0 $((N - 1))); do
  extra=()
  [ "$i" -eq 0 ] && extra=(--json "$OUT")
  ip netns exec "${TAG}r$i" env GLOO_SOCKET_IFNAME=eth0 PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" \
    timeout "$TIMEOUT_S" "$PYTHON" "$HERE/bench_collective.py" --world "$N" --rank "$i" \
    --init "$WORK/rendezvous" --link "tbf $RATE" "${extra[@]}" "$@" > "$WORK/rank$i.log" 2>&1 &
  PIDS+=($!)
done
status=0
for i in "${!PIDS[@]}"; do
  wait "${PIDS[$i]}" || { status=$?; echo "link_emulation: rank $i exited $status:" >&2; tail -n 20 "$WORK/rank$i.log" >&2; }
done
PIDS=()
cat "$WORK/rank0.log"
exit $status
