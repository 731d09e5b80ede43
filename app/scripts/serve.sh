#!/usr/bin/env bash
# Sets up, builds (release) and runs the portal on the embedded default:
# a SQLite file under ./data, mail kept in the local outbox, keys generated
# on first run. Extra arguments go to `truevault` (default: serve).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$ROOT/app/scripts/setup.sh"
"$ROOT/app/scripts/build.sh" --release
export TRUEVAULT_SITE_ROOT="${TRUEVAULT_SITE_ROOT:-$SITE_ROOT}"
cd "$ROOT"
exec "$CARGO_TARGET_DIR/release/truevault" "$@"
