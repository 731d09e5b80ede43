# Shared by schemathesis.sh and bench-api.sh (sourced after lib.sh): starts
# a fresh portal (SQLite, or TRUEVAULT_DATABASE_URL) with an administrator
# made a VIP (every API scope), one enrolled server, and an API key; and a
# tenant (made by the operator on the business plan) with a credential and
# one registered tenant user.
# Sets: work, pid, base, key, tenant_key, tenant_secret, tenant_user_token. The caller's EXIT trap runs stop_api_portal.
# shellcheck shell=bash
stop_api_portal() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "${work:-/nonexistent}"
}

start_api_portal() {
  local bin="$1"
  work="$(mktemp -d /tmp/tv-api.XXXXXX)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  export TRUEVAULT_DATA_DIR="$work" TRUEVAULT_LISTEN="127.0.0.1:$port" TRUEVAULT_PUBLIC_URL="$base"
  export TRUEVAULT_SITE_ROOT="$CARGO_TARGET_DIR/site" RUST_LOG=warn
  # Generated requests come fast; the limits are not what is measured here.
  export TRUEVAULT_API_REQUESTS_PER_MINUTE=10000000 TRUEVAULT_DEVICE_CHANGES_PER_MINUTE=10000000
  # Its node reports once, at enrolment, and a run outlasts the 90 s after
  # which a silent node is stale (creations would then answer 503).
  export TRUEVAULT_NODE_STALE_AFTER_SECS=3600
  local password email=st@example.com
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$password" | "$bin" admin create-admin --email "$email" >/dev/null 2>&1
  "$bin" serve >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
  local cookie
  cookie="$(curl -s -o /dev/null -D - -H "Origin: $base" \
    --data-urlencode "email=$email" --data-urlencode "password=$password" \
    "$base/api/auth/login" | tr -d '\r' | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2; exit}')"
  [ -n "$cookie" ] || { echo "could not sign in" >&2; return 1; }
  post() { curl -sf -H "Cookie: $cookie" -H "Origin: $base" -H "Accept: application/json" "$@"; }
  post --data-urlencode "email=$email" -d vip=true "$base/api/admin/vip" >/dev/null
  local enroll node_key
  enroll="$(post -d name=api-1 -d region=eu -d country=NL -d city=Amsterdam -d endpoint_host=203.0.113.10 \
    -d endpoint_port=51820 -d server_type=shared -d vip_email= -d capacity=1000000 \
    --data-urlencode ipv4_pool=10.96.0.0/16 --data-urlencode ipv6_pool=fd00:90::/64 -d dns= \
    "$base/api/admin/server_create" | tr -d '"')"
  node_key="$(python3 -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')"
  curl -sf -H "Authorization: Bearer $enroll" -H 'Content-Type: application/json' \
    -d "{\"public_key\":\"$node_key\"}" "$base/api/v1/nodes/enroll" >/dev/null \
    || { echo "could not enroll the server" >&2; return 1; }
  key="$(post -d name=api-lab -d read=on -d devices_write=on -d cameras_read=on -d expires_days=1 \
    "$base/api/api_keys/create" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')"
  [ -n "$key" ] || { echo "could not make an API key" >&2; return 1; }
  local tenant cred
  tenant="$(post -d name=ST-Tenant -d contact_email=st-tenant@example.com -d plan=business \
    "$base/api/admin/tenant_create" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
  cred="$(post -d id="$tenant" -d name=st "$base/api/admin/tenant_credential_create")"
  tenant_key="$(printf '%s' "$cred" | python3 -c 'import json, sys; print(json.load(sys.stdin)["info"]["key_id"])')"
  tenant_secret="$(printf '%s' "$cred" | python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"
  tenant_user_token="$(curl -sf -H "X-TrueVault-Key: $tenant_key" -H "X-TrueVault-Secret: $tenant_secret" \
    -H 'Content-Type: application/json' -d "{\"email\":\"st-user@example.com\",\"password\":\"$password\"}" \
    "$base/api/v1/platform/users" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
  [ -n "$tenant_user_token" ] || { echo "could not register a tenant user" >&2; return 1; }
}
