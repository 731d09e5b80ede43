#!/usr/bin/env bash
# Data-plane throughput (root, namespaces of its own): iperf3 from a client
# through a wireguard-go tunnel to the node, forwarded out of the node's
# uplink to an "internet" host, twice in the same run:
#   bare:   one peer, forwarding and a plain masquerade, no filtering;
#   loaded: 10,000 more peers on the interface and the node agent's
#           `inet truevault` ruleset (same shape as
#           truevault_node::dataplane::render) with 10,000 + 2,000 grants.
# Prints both, the ratio, and how long `nft -f` of that ruleset took.
#   app/scripts/bench-dataplane.sh [seconds]
set -euo pipefail
umask 077
secs=${1:-5}
s=$$
C=tvbc$s N=tvbn$s S=tvbs$s wn=wgbn$s wc=wgbc$s
dir=$(mktemp -d)
cleanup() {
  for ns in $C $N $S; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  done
  for ns in $C $N $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "/var/run/wireguard/$wn.sock" "/var/run/wireguard/$wc.sock"
  rm -rf "$dir"
}
trap cleanup EXIT
for t in ip wg wireguard-go iperf3 nft python3; do command -v $t >/dev/null || { echo "$t missing"; exit 1; }; done
for ns in $C $N $S; do ip netns add $ns; ip -n $ns link set lo up; done
ip link add vc$s netns $C type veth peer name vn$s netns $N
ip link add vu$s netns $N type veth peer name vs$s netns $S
ip -n $C addr add 192.0.2.2/30 dev vc$s; ip -n $C link set vc$s up
ip -n $N addr add 192.0.2.1/30 dev vn$s; ip -n $N link set vn$s up
ip -n $N addr add 198.51.100.2/24 dev vu$s; ip -n $N link set vu$s up
ip -n $S addr add 198.51.100.1/24 dev vs$s; ip -n $S link set vs$s up
ip netns exec $N sysctl -qw net.ipv4.ip_forward=1
ip netns exec $N wireguard-go $wn; ip netns exec $C wireguard-go $wc
wg genkey > $dir/kn; wg genkey > $dir/kc
pn=$(wg pubkey < $dir/kn); pc=$(wg pubkey < $dir/kc)
ip netns exec $N wg set $wn private-key $dir/kn listen-port 51900 peer "$pc" allowed-ips 10.99.0.2/32
ip netns exec $C wg set $wc private-key $dir/kc peer "$pn" allowed-ips 0.0.0.0/0 endpoint 192.0.2.1:51900
ip -n $N addr add 10.99.0.1/16 dev $wn; ip -n $N link set $wn up
ip -n $C addr add 10.99.0.2/32 dev $wc; ip -n $C link set $wc up
ip -n $C route add 198.51.100.0/24 dev $wc
ip netns exec $S iperf3 -s -D -B 198.51.100.1 >/dev/null
run() { ip netns exec $C iperf3 -c 198.51.100.1 -t "$secs" -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])'; }
# bare: a masquerade only, no filtering
printf 'table ip tvbare {\n  chain post {\n    type nat hook postrouting priority srcnat;\n    oifname "vu%s" masquerade\n  }\n}\n' "$s" > $dir/bare.nft
ip netns exec $N nft -f $dir/bare.nft
sleep 0.5
bare=$(run)
ip netns exec $N nft delete table ip tvbare
python3 - "$dir" "$wn" "vu$s" <<'PY'
import base64, os, sys
d, wn, up = sys.argv[1:4]
with open(f"{d}/peers.conf", "w") as f:
    for i in range(10000):
        f.write(f"[Peer]\nPublicKey = {base64.b64encode(os.urandom(32)).decode()}\nAllowedIPs = 10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}/32\n\n")
addr = lambda i: f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"
all4 = [f"{addr(i)} . 10.240.{i % 4096 // 16}.0/24" for i in range(10000)]
tcp4 = [f"{addr(i)} . 10.241.{i // 256}.{i % 256}/32 . {p}" for i in range(1000) for p in (631, 443)]
def st(name, ty, el):
    rows = ",\n      ".join(", ".join(el[j:j + 8]) for j in range(0, len(el), 8))
    return f"  set {name} {{\n    type {ty}\n    flags interval\n    elements = {{\n      {rows}\n    }}\n  }}\n"
with open(f"{d}/rules.nft", "w") as f:
    f.write("table inet truevault {}\ndelete table inet truevault\ntable inet truevault {\n")
    f.write(st("grant_all4", "ipv4_addr . ipv4_addr", all4))
    f.write(st("grant_tcp4", "ipv4_addr . ipv4_addr . inet_service", tcp4))
    f.write(f"""  set dns4 {{
    type ipv4_addr
    elements = {{ 10.99.0.1 }}
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{wn}" jump from_tunnel
    oifname "{wn}" ct state established,related accept
    oifname "{wn}" drop
  }}
  chain from_tunnel {{
    ct state established,related accept
    ip saddr . ip daddr @grant_all4 accept
    ip saddr . ip daddr . tcp dport @grant_tcp4 accept
    oifname "{wn}" drop
    ip daddr @dns4 meta l4proto {{ tcp, udp }} th dport 53 accept
    oifname "{up}" accept
    drop
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    iifname "{wn}" oifname "{up}" masquerade
  }}
}}
""")
PY
ip netns exec $N wg addconf $wn $dir/peers.conf
t0=$(date +%s%N); ip netns exec $N nft -f $dir/rules.nft; t1=$(date +%s%N)
peers=$(ip netns exec $N wg show $wn peers | wc -l)
loaded=$(run)
python3 -c "import sys; b,l=map(float,sys.argv[1:3]); print(f'iperf3 {sys.argv[3]} s via wireguard-go, forwarded + NAT: bare {b/1e6:.0f} Mbit/s; {sys.argv[5]} peers + 12,000 grants in inet truevault {l/1e6:.0f} Mbit/s; ratio {l/b:.3f}; nft -f of that ruleset {int(sys.argv[4])/1e6:.0f} ms')" "$bare" "$loaded" "$secs" "$((t1 - t0))" "$peers"
