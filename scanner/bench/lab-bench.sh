#!/usr/bin/env bash
# Benchmark (not a test): a /24 lab of network namespaces with N hosts
# (default 50), then side by side: arp-scan --localnet, nmap -n -sn, our ARP
# sweep alone, and our full discovery (ARP + mDNS + WS-Discovery + ports).
#
#   sudo scanner/bench/lab-bench.sh [HOSTS] [RUNS]
#
# Needs root, iproute2, arp-scan, nmap, python3 + zeroconf (installed here if
# missing). All traffic stays inside the lab's namespaces; everything is torn
# down on exit. Builds the scanner in release mode first.
set -euo pipefail
HOSTS="${1:-50}"
RUNS="${2:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/truevault/target-scanner}"
[ "$(id -u)" = 0 ] || { echo "lab-bench: needs root (network namespaces)" >&2; exit 1; }
[ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le 90 ] || { echo "HOSTS must be 1..90" >&2; exit 2; }

missing=()
for p in arp-scan nmap; do command -v "$p" >/dev/null || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c 'import zeroconf' 2>/dev/null || python3 -m pip install -q zeroconf

(cd "$ROOT" && cargo build -q --release -p truevault-scanner)
BIN="$CARGO_TARGET_DIR/release/truevault-scanner"

P="tvb$$"
BR="$P-br"; SC="$P-sc"
NSES=()
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT

addns() { ip netns add "$1"; NSES+=("$1"); ip -n "$1" link set lo up; }
attach() { # ns mac ip
  local port="p${#NSES[@]}"
  ip -n "$BR" link add "$port" type veth peer name eth0 netns "$1"
  ip -n "$BR" link set "$port" master br0 up
  ip -n "$1" link set eth0 address "$2"
  ip -n "$1" addr add "$3/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add 224.0.0.0/4 dev eth0
}

addns "$BR"
ip -n "$BR" link add br0 type bridge mcast_snooping 0
ip -n "$BR" link set br0 up
addns "$SC"; attach "$SC" 02:00:00:78:00:fe 10.78.0.254

OUIS=(44:19:b6 3c:ef:8c b8:27:eb 3c:d9:2b 00:17:88 f4:f5:d8 ec:71:db 6a:1f:00)
for i in $(seq 1 "$HOSTS"); do
  ns="$P-h$i"; addns "$ns"
  oui="${OUIS[$((i % ${#OUIS[@]}))]}"
  attach "$ns" "$(printf '%s:78:%02x:%02x' "$oui" $((i / 256)) $((i % 256)))" "10.78.0.$i"
done
# A few hosts with services, so mDNS and the port probes have work.
HOSTPY="$ROOT/scanner/tests/lab/host.py"
TMP="$(mktemp -d /tmp/tvb.XXXXXX)"
mkfifo "$TMP/stdin"
# Held open read-write by us: the hosts see EOF (and leave) when we exit.
exec 3<>"$TMP/stdin"
for i in 1 2 3 4 5; do
  [ "$i" -le "$HOSTS" ] || break
  ip netns exec "$P-h$i" python3 "$HOSTPY" --ip "10.78.0.$i" --tcp 554 --http 8080 \
      --mdns "_http._tcp|bench host $i|8080|bench$i" <"$TMP/stdin" >"$TMP/h$i.out" &
  PIDS+=("$!")
done
for i in 1 2 3 4 5; do
  [ "$i" -le "$HOSTS" ] || break
  for _ in $(seq 1 400); do grep -qx READY "$TMP/h$i.out" && break; sleep 0.05; done
  grep -qx READY "$TMP/h$i.out" || { echo "host $i did not start" >&2; exit 1; }
done

# Wait (with a deadline) until every bridge port forwards.
for _ in $(seq 1 200); do
  n=$(ip -n "$BR" -d link show master br0 | grep -c "state forwarding" || true)
  [ "$n" -eq $((HOSTS + 1)) ] && break
  sleep 0.05
done

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
flush() { ip -n "$SC" neigh flush all; }
echo "lab: $HOSTS hosts on 10.78.0.0/24, $RUNS runs each (wall ms, hosts found)"
printf '%-34s %s\n' "tool" "runs"
row() { printf '%-34s %s\n' "$1" "$2"; }

line=""
for _ in $(seq 1 "$RUNS"); do
  flush; t0=$(now)
  n=$(ip netns exec "$SC" arp-scan --localnet -I eth0 -q -x 2>/dev/null | grep -c '^10\.78\.' || true)
  t1=$(now); line+="$(ms "$t0" "$t1")ms/$n  "
done; row "arp-scan --localnet" "$line"

line=""
for _ in $(seq 1 "$RUNS"); do
  flush; t0=$(now)
  n=$(ip netns exec "$SC" nmap -n -sn 10.78.0.0/24 -oG - 2>/dev/null | grep -c 'Status: Up' || true)
  t1=$(now); line+="$(ms "$t0" "$t1")ms/$((n - 1))  "
done; row "nmap -n -sn (excl. itself)" "$line"

line=""
for _ in $(seq 1 "$RUNS"); do
  flush; t0=$(now)
  out=$(ip netns exec "$SC" "$BIN" scan --json --no-progress --iface eth0 --no-mdns --no-onvif --no-ports)
  t1=$(now)
  n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hosts"]))')
  a=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["timings"]["arp_ms"])')
  line+="$(ms "$t0" "$t1")ms/$n (sweep ${a}ms)  "
done; row "truevault-scanner ARP only" "$line"

line=""
for _ in $(seq 1 "$RUNS"); do
  flush; t0=$(now)
  out=$(ip netns exec "$SC" "$BIN" scan --json --no-progress --iface eth0)
  t1=$(now)
  n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hosts"]))')
  line+="$(ms "$t0" "$t1")ms/$n  "
done; row "truevault-scanner full discovery" "$line"

# Without CAP_NET_RAW (as nobody): TCP probes + the kernel neighbour table.
cp "$BIN" "$TMP/truevault-scanner"; chmod 755 "$TMP" "$TMP/truevault-scanner"
line=""
for _ in $(seq 1 "$RUNS"); do
  flush; t0=$(now)
  out=$(ip netns exec "$SC" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        "$TMP/truevault-scanner" scan --json --no-progress --iface eth0 2>/dev/null)
  t1=$(now)
  n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["hosts"]))')
  line+="$(ms "$t0" "$t1")ms/$n  "
done; row "truevault-scanner unprivileged" "$line"
