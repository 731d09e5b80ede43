#!/usr/bin/env bash
# Device creation through the public API: wrk at 64 connections, each
# request a new device with a fresh public key, against a fresh portal
# (SQLite; TRUEVAULT_DATABASE_URL=postgres://… for PostgreSQL). Prints
# req/s, p99 and non-2xx; then fills the account to LIST_DEVICES (10,000)
# devices and prints the paged list's p99 per page (bench-api-list.py).
# Run by hand:  bench-api.sh [seconds=10]   (LIST_DEVICES=0 skips the list)
# BIN=… picks the binary (default: the release build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs="${1:-10}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
command -v wrk >/dev/null || { echo "wrk is missing: app/scripts/setup.sh --test installs it" >&2; exit 1; }
source "$ROOT/app/scripts/api-portal.sh"
trap stop_api_portal EXIT
start_api_portal "$BIN"

cat >"$work/create.lua" <<'LUA'
-- A random WireGuard-shaped public key per request (42 base64 characters,
-- one whose low bits are zero, '='), so every request makes a device.
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local last = "AEIMQUYcgkosw480"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local t = {}
  for i = 1, 42 do local n = math.random(1, 64); t[i] = b64:sub(n, n) end
  local n = math.random(1, 16)
  local key = table.concat(t) .. last:sub(n, n) .. "="
  return wrk.format(nil, nil, nil, '{"name":"bench","public_key":"' .. key .. '"}')
end
LUA
out="$(wrk -t2 -c64 -d"${secs}s" --latency -s "$work/create.lua" \
  -H "Authorization: Bearer $key" "$base/api/v1/devices")"
rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
non2xx="$(awk '/Non-2xx/ {print $4}' <<<"$out")"
engine=sqlite
[ -n "${TRUEVAULT_DATABASE_URL:-}" ] && engine=postgres
printf 'device create via API (%s, 64 connections, %ss): req/s %s p99 %s non-2xx %s; load %s\n' \
  "$engine" "$secs" "$rps" "$p99" "${non2xx:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$non2xx" ] || exit 1
if [ "${LIST_DEVICES:-10000}" -gt 0 ]; then
  python3 "$ROOT/app/scripts/bench-api-list.py" "$base" "$key" "${LIST_DEVICES:-10000}" "${LIST_ROUNDS:-5}"
fi
