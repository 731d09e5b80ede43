#!/usr/bin/env bash
# Runs the Playwright journeys against the release binary: starts a loopback
# SMTP server (aiosmtpd) and the portal on a fresh SQLite database, creates an
# admin with the CLI, runs the specs, and stops what it started, by PID.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/${E2E_PROFILE:-release}/truevault"
[ -x "$BIN" ] || { echo "build the release first: app/scripts/build.sh --release" >&2; exit 1; }

work="$(mktemp -d /tmp/tv-e2e.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

smtp_port="$(free_port)"; http_port="$(free_port)"
python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$work/maildir" &
pids+=($!)
wait_port "$smtp_port"

# A test-pattern RTSP camera for the cameras spec, when GStreamer's RTSP
# server is installed (app/scripts/setup.sh --test).
rtsp_url=""
if /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null; then
  rtsp_port="$(free_port)"
  /usr/bin/python3 "$ROOT/camera-gateway/tests/rtsp_server.py" --port "$rtsp_port" --workdir "$work/rtsp" >/dev/null &
  pids+=($!)
  wait_port "$rtsp_port"
  rtsp_url="rtsp://127.0.0.1:$rtsp_port/live"
fi

# The gateway binary of this profile, else the one `cargo test --workspace`
# built; without either the cameras spec is skipped.
gateway_bin="$TARGET/${E2E_PROFILE:-release}/truevault-gateway"
[ -x "$gateway_bin" ] || gateway_bin="$TARGET/debug/truevault-gateway"
[ -x "$gateway_bin" ] || gateway_bin=""

export TRUEVAULT_DATA_DIR="$work/data"
export TRUEVAULT_LISTEN="127.0.0.1:$http_port"
export TRUEVAULT_PUBLIC_URL="http://127.0.0.1:$http_port"
export TRUEVAULT_SITE_ROOT="$TARGET/site"
export TRUEVAULT_SMTP__HOST=127.0.0.1 TRUEVAULT_SMTP__PORT="$smtp_port" TRUEVAULT_SMTP__SECURITY=none
admin_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$admin_password" | "$BIN" admin create-admin --email admin@example.com >/dev/null
"$BIN" serve >"$work/portal.log" 2>&1 &
pids+=($!)
wait_port "$http_port"

mkdir -p "$HERE/artifacts"
cd "$HERE"
status=0
TRUEVAULT_E2E_URL="http://127.0.0.1:$http_port" TRUEVAULT_E2E_MAILDIR="$work/maildir" \
TRUEVAULT_E2E_ARTIFACTS="$HERE/artifacts" TRUEVAULT_E2E_ADMIN_EMAIL=admin@example.com \
TRUEVAULT_E2E_ADMIN_PASSWORD="$admin_password" \
TRUEVAULT_E2E_RTSP_URL="$rtsp_url" TRUEVAULT_E2E_GATEWAY_BIN="$gateway_bin" \
  npx playwright test "$@" || status=$?
if [ "$status" -ne 0 ]; then echo "--- portal log (tail) ---" >&2; tail -n 40 "$work/portal.log" >&2; fi
exit "$status"
