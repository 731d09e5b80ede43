#!/usr/bin/env bash
# Schemathesis against the running portal's own OpenAPI document with a
# real API key and, for the platform's routes, a real tenant credential
# (as headers) and a tenant user's access token: a fresh portal (SQLite), an administrator made a VIP (every
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

source "$ROOT/app/scripts/api-portal.sh"
trap stop_api_portal EXIT
start_api_portal "$BIN"

# Every check schemathesis has except two that assume more than the
# document promises: positive_data_acceptance expects every schema-valid
# request to succeed (a schema-valid server_id can name no server, a valid
# public key can already be in use), and missing_required_header has no
# required header to drop (the key is the security scheme, which
# ignored_auth checks).
# Schemathesis keeps a cache (.schemathesis/) in the working directory:
# the portal's temporary directory, not the clone.
cd "$work"
set +e
timeout -k 10 $((budget + 60)) "$ST" run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $key" \
  -H "X-TrueVault-Key: $tenant_key" -H "X-TrueVault-Secret: $tenant_secret" \
  -H "X-TrueVault-User-Token: $tenant_user_token" \
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
