#!/usr/bin/env bash
# Installs what TrueVault needs on a fresh Debian machine (idempotent).
#   setup.sh          what serving the portal needs: the wasm target and the
#                     wasm-bindgen CLI matching Cargo.lock
#   setup.sh --test   plus what the tests need: Debian's Chromium (driven by
#                     Playwright, no browser download), PostgreSQL 15,
#                     wireguard-go/tools, iproute2 and nftables (the real-tunnel
#                     and data-plane labs), iperf3 (the data-plane benchmark),
#                     wrk (benchmarks), brotli (the precompressed bundle), Python aiosmtpd (a real SMTP server),
#                     Python zeroconf (the scanner lab's mDNS responders),
#                     schemathesis in a venv (the public API's property tests),
#                     GStreamer's RTSP server (the camera gateway tests),
#                     openssl (the certificate tests verify, read CRLs and
#                     PKCS#12 files and run s_server/s_client with it),
#                     and the end2end npm packages.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mode="${1:-serve}"

if ! rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown; then
  log "adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi

want="$(wasm_bindgen_version)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (about 2 minutes, once)"
  # Not --locked: its lockfile names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "=$want" --force
fi

[ "$mode" = "--test" ] || exit 0

# GStreamer's RTSP server (python3-gi bindings) and an H.264 encoder are the
# real camera of the gateway tests.
apt_pkgs=(chromium wireguard-go wireguard-tools nftables iperf3 wrk iproute2 postgresql-15 brotli openssl
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import zeroconf' 2>/dev/null; then
  log "installing Python zeroconf (mDNS responders in the scanner's namespace lab)"
  python3 -m pip install -q zeroconf
fi

if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  log "installing the Python SMTP test server (aiosmtpd)"
  python3 -m pip install -q aiosmtpd
fi

# Schemathesis (the public API's property tests), pinned, in its own venv.
st_version=4.32.5
st_venv="$HOME/.cache/truevault/schemathesis-venv"
if [ "$("$st_venv/bin/st" --version 2>/dev/null | awk '{print $NF}')" != "$st_version" ]; then
  log "installing schemathesis $st_version into $st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install -q "schemathesis==$st_version"
fi

if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
  log "installing end2end npm packages (Playwright without its browser download)"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
