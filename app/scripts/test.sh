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

# Each test in a process of its own (cargo-nextest): the api suite starts
# a portal per test, and in one shared process they also share process-wide
# state (the statement counter's tracing subscriber, Leptos' executor); two
# CI runs under `cargo test` saw a page's body stall there, which no run
# with a process per test has. Doctests are not run by nextest.
if cargo nextest --version >/dev/null 2>&1; then
  run_tests=(cargo nextest run --no-fail-fast --failure-output final)
else
  run_tests=(cargo test)
fi
log "unit and integration tests (SQLite)"
"${run_tests[@]}" --workspace --features truevault/ssr
cargo test --workspace --features truevault/ssr --doc

# The public API against its own OpenAPI document, with a real key:
# bounded (10 examples per operation, 90 s budget).
log "schemathesis against /api/v1/openapi.json"
"$ROOT/app/scripts/schemathesis.sh" 10 90

# Short versions of the load and fault proofs (app/scripts/*.sh run them
# longer by hand): well under a minute each, against the release build.
log "load and fault proofs, short versions"
"$ROOT/app/scripts/load-dashboard.sh" 10 200
"$ROOT/app/scripts/fault-kill.sh" 40
"$ROOT/app/scripts/fault-pg-restart.sh" 3

log "integration tests again on PostgreSQL"
pgdir="$(mktemp -d /tmp/tv-pg.XXXXXX)"
pgport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
trap '"$ROOT/app/scripts/pg.sh" stop "$pgdir"; rm -rf "$pgdir"' EXIT
pgurl="$("$ROOT/app/scripts/pg.sh" start "$pgdir" "$pgport")"
# The same package/feature selection as above, so nothing is rebuilt.
# Bounded, and on failure the server's view is printed: a stuck suite
# should say where it was stuck rather than run into the CI's limit.
if ! TRUEVAULT_TEST_PG_URL="$pgurl" timeout -k 10 1200 "${run_tests[@]}" --workspace --features truevault/ssr --test api; then
  echo "PostgreSQL suite failed; sessions and the end of the server log:" >&2
  psql "$pgurl" -c "SELECT pid, datname, state, wait_event_type, wait_event, now() - query_start AS age, left(query, 120) FROM pg_stat_activity WHERE datname LIKE 'tv_test%'" >&2 || true
  tail -n 60 "$pgdir/server.log" >&2 || true
  exit 1
fi

log "browser journeys (Playwright + Chromium)"
"$ROOT/end2end/run.sh"
