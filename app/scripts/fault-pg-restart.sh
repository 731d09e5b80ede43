#!/usr/bin/env bash
# Fault proof (issue 12): PostgreSQL restarted under load. The portal runs on
# a throwaway PostgreSQL while a loop of requests goes on; PostgreSQL is
# stopped for DOWN seconds and started again. Checks: every request during
# the outage ends (within the pool's acquire timeout, curl gives up at 15 s)
# with a 503 and a JSON body, none hangs; the portal answers 200 again by
# itself, without a restart. Prints the recovery time (PostgreSQL up → first
# 200). Run by hand:   fault-pg-restart.sh [down seconds=5]
# BIN=… picks the binary (default: the release build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
down="${1:-5}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release

work="$(mktemp -d /tmp/tv-pgfault.XXXXXX)"
chmod 755 "$work"
pgdir="$work/pg"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$ROOT/app/scripts/pg.sh" stop "$pgdir"
  rm -rf "$work"
}
trap cleanup EXIT
pgport="$(free_port)"
url="$("$ROOT/app/scripts/pg.sh" start "$pgdir" "$pgport")"
portal_env "$work/data"
export TRUEVAULT_DATABASE_URL="$url"
portal_start "$work/log"

# The load: /health and an agent call (a bearer token the database must look up).
load() {
  while [ ! -e "$work/stop" ]; do
    for path in /health /api/v1/inventory/sync; do
      start=$(date +%s.%N)
      if [ "$path" = /health ]; then
        out="$(curl -s -m 15 -o "$work/body" -w '%{http_code}' "$base$path" || true)"
      else
        out="$(curl -s -m 15 -o "$work/body" -w '%{http_code}' -H 'Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' \
          -H 'Content-Type: application/json' -d '{}' "$base$path" || true)"
      fi
      end=$(date +%s.%N)
      json=no; python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/body" 2>/dev/null && json=yes
      echo "$end $path $out $json $(echo "$end - $start" | bc)" >>"$work/requests"
    done
  done
}
load &
loadpid=$!
sleep 2
"$ROOT/app/scripts/pg.sh" stop "$pgdir"
echo "PostgreSQL stopped at $(date +%T)"
sleep "$down"
"$ROOT/app/scripts/pg.sh" start "$pgdir" "$pgport" >/dev/null
up=$(date +%s.%N)
echo "PostgreSQL started at $(date +%T)"
recovered=""
for _ in $(seq 1 600); do
  if curl -sf -m 15 "$base/health" >/dev/null; then recovered=$(date +%s.%N); break; fi
  sleep 0.05
done
sleep 1
# Let the requests in flight finish: an unfinished one would be a hang.
touch "$work/stop"; wait "$loadpid" 2>/dev/null || true
[ -n "$recovered" ] || { echo "FAIL: the portal did not recover by itself" >&2; exit 1; }
printf 'recovery: %.2f s from PostgreSQL up to the first 200\n' "$(echo "$recovered - $up" | bc)"
awk '{codes[$2" "$3" json="$4]++; if ($5 > max) max = $5} END {for (c in codes) print "  " codes[c] "x " c; printf "  slowest request: %.2f s\n", max}' "$work/requests"
bad="$(awk '$3 != "200" && $3 != "401" && !($3 == "503" && $4 == "yes")' "$work/requests" | wc -l)"
[ "$bad" = 0 ] || { echo "FAIL: $bad requests neither succeeded nor failed cleanly (503 + JSON)"; awk '$3 != "200" && $3 != "401" && !($3 == "503" && $4 == "yes")' "$work/requests" | head; exit 1; }
echo "ok: every request in the outage ended with a JSON 503"
