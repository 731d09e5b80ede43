#!/usr/bin/env bash
# Load proof for the dashboard (issue 12): wrk at 64 connections against a
# signed-in dashboard, then the same while SLOW sockets trickle request heads
# (a slow-loris crowd). Prints req/s, p99, non-2xx counts and the portal's RSS
# before and after.  Run by hand:
#   load-dashboard.sh [seconds=600] [slow sockets=2000]
# BIN=… picks the binary (default: the release build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs="${1:-600}"
slow="${2:-2000}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
command -v wrk >/dev/null || { echo "wrk is missing: app/scripts/setup.sh --test installs it" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

work="$(mktemp -d /tmp/tv-load.XXXXXX)"
pid="" slowpid=""
cleanup() {
  [ -n "$slowpid" ] && kill "$slowpid" 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
portal_env "$work"
portal_admin load@example.com
portal_start "$work/log"
portal_sign_in load@example.com
curl -sf -H "Cookie: $cookie" "$base/dashboard" | grep -q "load@example.com" || { echo "dashboard did not render" >&2; exit 1; }

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
run() {
  local label="$1"
  out="$(wrk -t2 -c64 -d"${secs}s" --latency -H "Cookie: $cookie" "$base/dashboard")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  non2xx="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
  sockerr="$(awk '/Socket errors/' <<<"$out")"
  printf '%-22s req/s %-10s p99 %-9s non-2xx %-6s %s\n' "$label" "$rps" "$p99" "${non2xx:-0}" "$sockerr"
  [ -z "$non2xx" ] || fail=1
}
fail=0
echo "RSS at start: $(rss)"
run "dashboard"
echo "RSS after:    $(rss)"

# The slow crowd: each socket sends a request head one byte every 2 s and
# reconnects when the portal closes it (header-read timeout).
cat >"$work/slow.py" <<PY
import socket, time, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
head = b"GET /dashboard HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
socks = []
def fresh():
    s = socket.socket(); s.setblocking(True)
    s.connect(("127.0.0.1", port)); s.setblocking(False); return [s, 0]
for _ in range(n):
    try: socks.append(fresh())
    except OSError: time.sleep(0.01)
print(f"{len(socks)} slow sockets open", flush=True)
while True:
    for entry in socks:
        try:
            entry[0].send(head[entry[1]:entry[1] + 1]); entry[1] += 1
        except OSError:
            try: entry[0].close(); entry[:] = fresh()
            except OSError: pass
    time.sleep(2)
PY
python3 "$work/slow.py" "$slow" "$port" &
slowpid=$!
sleep 3
run "dashboard + $slow slow"
echo "RSS at end:   $(rss)"
exit "$fail"
