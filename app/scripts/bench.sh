#!/usr/bin/env bash
# Every figure the README quotes, from one build, into one Markdown report
# (machine, date, commit, and the load average next to each figure: on a
# shared machine the load says how far to trust it). Benchmarks, not tests:
# nothing here passes or fails on a timing.
#
#   app/scripts/bench.sh [--quick] [REPORT=bench-report.md]
#
# --quick: shorter runs (seconds instead of minutes), for a smoke check.
# Sections needing root (node apply through wireguard-go, the scanner's
# namespace lab) are skipped with a note when not root; PostgreSQL figures
# run when TRUEVAULT_BENCH_PG_URL names a server. Each section has a time
# limit, so a hung peer tool cannot hold the run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
quick=0
[ "${1:-}" = "--quick" ] && { quick=1; shift; }
report="${1:-$ROOT/bench-report.md}"
cd "$ROOT"
secs=10 runs=10 scan_runs=3 relay_secs=10
[ "$quick" = 1 ] && secs=3 runs=3 scan_runs=1 relay_secs=2

log "building once: the release portal and bundle, and the bench binaries"
app/scripts/build.sh --release
cargo bench -p truevault --features ssr --no-run --bench vpn --bench automation
cargo bench -p truevault-payments --bench webhook_throughput --no-run
cargo build --release -p truevault-relay --bin relay-bench

out="$(mktemp -d /tmp/tv-benchall.XXXXXX)"
trap 'rm -rf "$out"' EXIT
rows=()
load() { awk '{print $1}' /proc/loadavg; }
# section NAME PEER-NOTE LIMIT-SECONDS COMMAND…: runs it, keeps its output,
# and adds a row with the lines that carry figures.
section() {
  local name="$1" note="$2" limit="$3"; shift 3
  local before after figures status=ok
  log "$name"
  before="$(load)"
  timeout --kill-after=10 "$limit" "$@" >"$out/$name.log" 2>&1 || status="exit $?"
  after="$(load)"
  figures="$(grep -E "${FIGURE_RE:-req/s|p50|p99|median|Mbit|events/s|steps/s|ms|kb|µs}" "$out/$name.log" \
    | grep -vE '^\s*(Compiling|Finished|Running|warning)' | head -20 | sed 's/|/\\|/g' | paste -sd '\n' | sed ':a;N;$!ba;s/\n/<br>/g' || true)"
  local cmd="${*//|/\\|}"
  rows+=("| $name | \`$cmd\` | ${figures:-(no figures: $status)} | $note | $before → $after |")
  cp "$out/$name.log" "$out/keep-$name.log"
}

section http-pages "landing, dashboard, /health, device create (SQLite)" 300 \
  app/scripts/bench-http.sh "$secs"
section api-device-create "device create through the public API, 64 connections (SQLite)" 300 \
  app/scripts/bench-api.sh "$secs"
if [ -n "${TRUEVAULT_BENCH_PG_URL:-}" ]; then
  section automation-pg "PostgreSQL" 900 env TRUEVAULT_BENCH_PG_URL="$TRUEVAULT_BENCH_PG_URL" \
    cargo bench -p truevault --features ssr --bench automation
fi
section automation "scheduler lag, webhooks over HTTP, scanner sync (SQLite)" 900 \
  cargo bench -p truevault --features ssr --bench automation
section webhook-verify "signature check + parse alone" 300 \
  cargo bench -p truevault-payments --bench webhook_throughput
section relay "streams per core, memory per stream" 300 \
  cargo run --release -q -p truevault-relay --bin relay-bench -- "$relay_secs" 2
section gateway-latency "frame → fragment → portal → viewer" 300 \
  cargo test -q -p truevault-gateway --release --test latency -- --ignored --nocapture
if [ "$(id -u)" = 0 ]; then
  section node-apply "peer: wg syncconf alone, beside the agent's change-to-applied" 900 \
    cargo bench -p truevault --features ssr --bench vpn
  section scanner-lab "peers: arp-scan --localnet, nmap -n -sn, in the same lab" 900 \
    scanner/bench/lab-bench.sh 50 "$scan_runs"
else
  rows+=("| node-apply | needs root | skipped | | |" "| scanner-lab | needs root | skipped | | |")
fi
if [ -d end2end/node_modules/@playwright ]; then
  section first-load "sign-in page, Chromium, cold cache, CDP CPU throttling 1× and 4×" 600 \
    app/scripts/bench-first-load.sh "$runs"
else
  rows+=("| first-load | needs \`cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci\` | skipped | | |")
fi

{
  echo "# TrueVault benchmarks"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
  echo "- mode: $([ "$quick" = 1 ] && echo quick || echo full); load average (1 min) before → after each section"
  echo
  echo "| section | command | figures | compared with | load |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Full output of each section:"
  for f in "$out"/keep-*.log; do
    echo
    echo "<details><summary>$(basename "$f" .log | sed 's/^keep-//')</summary>"
    echo
    echo '```'
    grep -vE '^\s*(Compiling|Downloaded|Downloading)' "$f" | tail -60 || true
    echo '```'
    echo "</details>"
  done
} >"$report"
log "report: $report"
