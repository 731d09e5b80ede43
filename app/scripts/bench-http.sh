#!/usr/bin/env bash
# HTTP benchmark: the release binary on a fresh SQLite database, driven by
# wrk at 64 connections: landing page, a signed-in dashboard, /health, and
# device creation (key pair, address, config and QR code) through the
# server function.
# Prints requests/s and p99 latency per target.   bench-http.sh [seconds]
# BIN=… picks the binary (default: the release build); TARGETS="landing
# dashboard health device-create" picks what runs; TRUEVAULT_BENCH_PG_URL
# (an admin URL) runs on a fresh PostgreSQL database instead of SQLite.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs="${1:-10}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
command -v wrk >/dev/null || { echo "wrk is missing: app/scripts/setup.sh --test installs it" >&2; exit 1; }

work="$(mktemp -d /tmp/tv-bench.XXXXXX)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "${db:-}" ] && psql -q "$TRUEVAULT_BENCH_PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
portal_env "$work"
# The per-user limit on device changes would answer 429 to all but the
# first few creations of the one bench user.
export TRUEVAULT_DEVICE_CHANGES_PER_MINUTE=100000000
targets=" ${TARGETS:-landing dashboard health device-create} "
if [ -n "${TRUEVAULT_BENCH_PG_URL:-}" ]; then
  db="tv_bench_http_$$"
  psql -q "$TRUEVAULT_BENCH_PG_URL" -c "CREATE DATABASE $db" >/dev/null
  export TRUEVAULT_DATABASE_URL="${TRUEVAULT_BENCH_PG_URL%/*}/$db"
fi
portal_admin bench@example.com
portal_start "$work/log"
portal_sign_in bench@example.com
curl -sf -H "Cookie: $cookie" "http://127.0.0.1:$port/dashboard" | grep -q "bench@example.com" || { echo "dashboard did not render for the session" >&2; exit 1; }

printf '%-12s %12s %10s %10s\n' target "req/s" p50 p99
run() {
  local name="$1" path="$2"; shift 2
  [[ "$targets" == *" $name "* ]] || return 0
  out="$(wrk -t2 -c64 -d"${secs}s" --latency "$@" "http://127.0.0.1:$port$path")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  errs="$(awk '/Non-2xx|Socket errors/' <<<"$out")"
  printf '%-12s %12s %10s %10s %s\n' "$name" "$rps" "$p50" "$p99" "$errs"
}
run landing /
run dashboard /dashboard -H "Cookie: $cookie"
run health /health

# Device creation: a VIP (no device limit) on an enrolled server with a /8 pool.
post() { curl -sf -H "Origin: $base" -H "Cookie: $cookie" "$@"; }
post --data-urlencode email=bench@example.com --data-urlencode vip=true "$base/api/admin/vip" >/dev/null
token="$(post -d name=bench-1 -d region=eu -d country= -d city= -d endpoint_host=203.0.113.9 -d endpoint_port=51820 \
  -d server_type=shared -d vip_email= -d capacity=1000000 -d ipv4_pool=10.0.0.0/8 -d ipv6_pool= -d dns= \
  "$base/api/admin/server_create" | tr -d '"')"
curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"public_key\":\"$(head -c 32 /dev/urandom | base64)\"}" "$base/api/v1/nodes/enroll" >/dev/null
cat >"$work/create.lua" <<LUA
wrk.method = "POST"
wrk.body = "name=bench&public_key=&server_id=auto&region="
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Origin"] = "$base"
wrk.headers["Cookie"] = "$cookie"
LUA
run device-create /api/devices/create -s "$work/create.lua"
echo "devices created: $(post -X POST "$base/api/devices/list" | grep -o '"id"' | wc -l)"
