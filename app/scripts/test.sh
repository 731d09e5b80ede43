#!/usr/bin/env bash
# Sets up and runs every test: formatting and lints, unit and integration
# tests (the integration suite on SQLite, then again on a throwaway
# PostgreSQL 15), the scanner and gateway suites, and the Playwright
# journeys in Debian's Chromium against the release build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
"$ROOT/app/scripts/setup.sh" --test

log "cargo fmt --check"
cargo fmt --all -- --check
log "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --features truevault/ssr -- -D warnings
cargo clippy -p truevault --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

log "release build (for the browser journeys)"
"$ROOT/app/scripts/build.sh" --release

log "unit and integration tests (SQLite)"
cargo test --workspace --features truevault/ssr

log "integration tests again on PostgreSQL"
pgdir="$(mktemp -d /tmp/tv-pg.XXXXXX)"
pgport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
trap '"$ROOT/app/scripts/pg.sh" stop "$pgdir"; rm -rf "$pgdir"' EXIT
pgurl="$("$ROOT/app/scripts/pg.sh" start "$pgdir" "$pgport")"
TRUEVAULT_TEST_PG_URL="$pgurl" cargo test -p truevault --features ssr --test api

log "browser journeys (Playwright + Chromium)"
"$ROOT/end2end/run.sh"
