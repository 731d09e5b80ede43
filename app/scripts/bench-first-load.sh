#!/usr/bin/env bash
# First-load benchmark: the release portal on a fresh SQLite database and
# end2end/bench/first-load.mjs in Debian's Chromium (bytes transferred and
# time to a hydrated sign-in page, cold cache, CPU throttling 1× and 4×).
#   bench-first-load.sh [runs=10]      BIN=… picks the binary
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
runs="${1:-10}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
[ -d "$ROOT/end2end/node_modules/@playwright" ] || { echo "run: cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci" >&2; exit 1; }
work="$(mktemp -d /tmp/tv-firstload.XXXXXX)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
portal_env "$work"
portal_start "$work/log"
ls -l "$SITE_ROOT"/pkg/truevault_bg.wasm* | awk '{printf "%s %d bytes\n", $NF, $5}' | sed "s|$SITE_ROOT/||"
node "$ROOT/end2end/bench/first-load.mjs" "$base" "$runs"
