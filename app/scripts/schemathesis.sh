#!/usr/bin/env bash
# Schemathesis against the running portal's own OpenAPI document with a
# real API key: a fresh portal (SQLite), an administrator made a VIP (every
# scope), an enrolled server (so devices can be made), a key made on the
# account page's server function, then `st run` over every operation with
# positive and negative data. Fails on any server error or any response
# that breaks the document.
#   schemathesis.sh [examples per operation=10] [time budget seconds=90]
# BIN=… picks the portal binary (default: the release build).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
examples="${1:-10}"
budget="${2:-90}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
ST="${ST:-$HOME/.cache/truevault/schemathesis-venv/bin/st}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
[ -x "$ST" ] || { echo "schemathesis is missing: app/scripts/setup.sh --test installs it" >&2; exit 1; }

work="$(mktemp -d /tmp/tv-st.XXXXXX)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export TRUEVAULT_DATA_DIR="$work" TRUEVAULT_LISTEN="127.0.0.1:$port" TRUEVAULT_PUBLIC_URL="$base"
export TRUEVAULT_SITE_ROOT="$CARGO_TARGET_DIR/site" RUST_LOG=warn
# Generated requests come fast; the limits are not what is under test here.
export TRUEVAULT_API_REQUESTS_PER_MINUTE=100000 TRUEVAULT_DEVICE_CHANGES_PER_MINUTE=100000
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
email=st@example.com
printf '%s\n' "$password" | "$BIN" admin create-admin --email "$email" >/dev/null 2>&1
"$BIN" serve >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
cookie="$(curl -s -o /dev/null -D - -H "Origin: $base" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" \
  "$base/api/auth/login" | tr -d '\r' | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2; exit}')"
[ -n "$cookie" ] || { echo "could not sign in" >&2; exit 1; }
post() { curl -sf -H "Cookie: $cookie" -H "Origin: $base" -H "Accept: application/json" "$@"; }
post --data-urlencode "email=$email" -d vip=true "$base/api/admin/vip" >/dev/null
enroll="$(post -d name=st-1 -d region=eu -d country=NL -d city=Amsterdam -d endpoint_host=203.0.113.10 \
  -d endpoint_port=51820 -d server_type=shared -d vip_email= -d capacity=100000 \
  --data-urlencode ipv4_pool=10.90.0.0/16 --data-urlencode ipv6_pool=fd00:90::/64 -d dns= \
  "$base/api/admin/server_create" | tr -d '"')"
node_key="$(python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
curl -sf -H "Authorization: Bearer $enroll" -H 'Content-Type: application/json' \
  -d "{\"public_key\":\"$node_key\"}" "$base/api/v1/nodes/enroll" >/dev/null \
  || { echo "could not enroll the server" >&2; exit 1; }
key="$(post -d name=schemathesis -d read=on -d devices_write=on -d cameras_read=on -d expires_days=1 \
  "$base/api/api_keys/create" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
[ -n "$key" ] || { echo "could not make an API key" >&2; exit 1; }

# Every check schemathesis has except two that assume more than the
# document promises: positive_data_acceptance expects every schema-valid
# body to succeed (a valid public key can still be KEY_IN_USE, a device
# can still be over no limit but on a server that is full...), and
# missing_required_header has no required header to drop (the key is the
# security scheme, checked by ignored_auth).
set +e
timeout -k 10 $((budget + 60)) "$ST" run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $key" \
  --checks all --exclude-checks positive_data_acceptance,missing_required_header \
  --max-examples "$examples" --max-time "$budget" --workers 1 \
  --request-timeout 10 --seed 1 --no-color \
  --report junit --report-dir "$work/report" 2>&1 | tee "$work/st.out"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "schemathesis failed (exit $rc); the end of the portal's log:" >&2
  tail -n 40 "$work/log" >&2
  exit "$rc"
fi
