#!/usr/bin/env bash
# Builds the portal: the wasm bundle for hydration (wasm-bindgen, no
# cargo-leptos needed) into $CARGO_TARGET_DIR/site/pkg, the stylesheet,
# and the server binary.   build.sh [--release]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
profile_flag=(); wasm_profile=debug; wasm_flag=(); bindgen_flag=()
if [ "${1:-}" = "--release" ]; then
  profile_flag=(--release); wasm_profile=wasm-release; wasm_flag=(--profile wasm-release)
  # The name section is 55 % of the release wasm (4.8 of 8.9 MB) and only
  # names functions in a browser's stack traces.
  bindgen_flag=(--remove-name-section --remove-producers-section)
fi
cd "$ROOT"
log "building the browser bundle ($wasm_profile)"
cargo rustc -p truevault --lib --crate-type cdylib --target wasm32-unknown-unknown --features hydrate "${wasm_flag[@]}"
mkdir -p "$SITE_ROOT/pkg"
wasm-bindgen --target web --no-typescript "${bindgen_flag[@]}" --out-dir "$SITE_ROOT/pkg" --out-name truevault \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$wasm_profile/truevault.wasm"
cp style/truevault.css style/favicon.svg style/icons.svg "$SITE_ROOT/pkg/"
# Precompressed once here, served by content negotiation (brotli, else
# gzip). Brotli is a quarter smaller than gzip on the wasm; without
# Debian's brotli the bundle is served gzip-only.
for f in truevault_bg.wasm truevault.js truevault.css icons.svg; do
  gzip -9 -k -f "$SITE_ROOT/pkg/$f"
  if command -v brotli >/dev/null; then brotli -q 11 -k -f "$SITE_ROOT/pkg/$f"; else rm -f "$SITE_ROOT/pkg/$f.br"; fi
done
log "building the server (${profile_flag[*]:-debug})"
cargo build -p truevault --bin truevault --features ssr "${profile_flag[@]}"
