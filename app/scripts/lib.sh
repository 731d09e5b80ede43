# Shared by the scripts in this folder: paths and small helpers.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SITE_ROOT="$CARGO_TARGET_DIR/site"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# ---- a throwaway portal, for the load, fault and bench scripts ----
# They run "$BIN"; each keeps $pid for its own cleanup trap.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The environment of a portal on a free loopback port with its data in
# $1: sets $port and $base.
portal_env() {
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  export TRUEVAULT_DATA_DIR="$1" TRUEVAULT_LISTEN="127.0.0.1:$port" TRUEVAULT_PUBLIC_URL="$base"
  export TRUEVAULT_SITE_ROOT="$CARGO_TARGET_DIR/site" RUST_LOG=warn
}

# Creates the admin $1 with a random password: sets $password.
portal_admin() {
  password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  printf '%s\n' "$password" | "$BIN" admin create-admin --email "$1" >/dev/null 2>&1
}

# Starts "$BIN serve" in the background, appending to the log $1: sets $pid
# and returns once /health answers (gives up after 20 s, showing the log).
portal_start() {
  "$BIN" serve >>"$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -sf "$base/health" >/dev/null && return 0; sleep 0.1; done
  echo "portal did not start" >&2; tail -n 30 "$1" >&2; exit 1
}

# Signs $1 in with $password: sets $cookie.
portal_sign_in() {
  cookie="$(curl -s -o /dev/null -D - -H "Origin: $base" \
    --data-urlencode email="$1" --data-urlencode "password=$password" \
    "$base/api/auth/login" | tr -d '\r' | awk -F'[ ;]' 'tolower($1)=="set-cookie:" {print $2; exit}')"
  [ -n "$cookie" ] || { echo "could not sign in" >&2; exit 1; }
}
