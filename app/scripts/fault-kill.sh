#!/usr/bin/env bash
# Fault proof (issue 12): the portal is killed with SIGKILL while N device
# creations and N signed Stripe webhook deliveries run concurrently, then
# started again on the same SQLite file. Checks:
#   - PRAGMA integrity_check is "ok";
#   - no two devices share an address (per server, IPv4 and IPv6), and every
#     creation the portal acknowledged (200) is there;
#   - every webhook the portal acknowledged is recorded exactly once, and a
#     redelivery of it after the restart is answered as a duplicate;
#   - every workflow step scheduled before the kill is still there;
#   - the restarted portal serves and creates devices again.
# Run by hand:   fault-kill.sh [N=200] [kill after this many answers=N/2]
# BIN=… picks the binary (default: the release build). CI runs a short one.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
n="${1:-200}"
kill_after="${2:-$((n / 2))}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/truevault}"
[ -x "$BIN" ] || "$ROOT/app/scripts/build.sh" --release
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing" >&2; exit 1; }

work="$(mktemp -d /tmp/tv-kill.XXXXXX)"
pid="" loadpid=""
cleanup() {
  [ -n "$loadpid" ] && kill "$loadpid" 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
portal_env "$work/data"
whsec="whsec_fault_$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
# The load is one user's and one address's: lift the per-user and
# per-address limits, which would otherwise (rightly) refuse most of it.
export TRUEVAULT_AUTH_RATE_PER_MINUTE=100000 TRUEVAULT_DEVICE_CHANGES_PER_MINUTE=100000
export TRUEVAULT_BILLING__STRIPE_SECRET_KEY=sk_test_fault TRUEVAULT_BILLING__STRIPE_WEBHOOK_SECRET="$whsec"
db="$work/data/truevault.db"
portal_admin fault@example.com
portal_start "$work/log"
post() { curl -s -H "Origin: $base" -H "Cookie: $cookie" "$@"; }
portal_sign_in fault@example.com
post -o /dev/null --data 'email=fault@example.com&vip=true' "$base/api/admin/vip"
enroll="$(post --data 'name=fault-1&region=eu&country=NL&city=Amsterdam&endpoint_host=203.0.113.10&endpoint_port=51820&server_type=shared&vip_email=&capacity=100000&ipv4_pool=10.77.0.0/16&ipv6_pool=fd00:77::/64&dns=' \
  "$base/api/admin/server_create" | python3 -c 'import json,sys; print(json.load(sys.stdin))')"
# Devices go only to an enrolled server: enroll one (no node runs; its key
# is any 32 bytes here).
node_key="$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')"
curl -sf -o /dev/null -H "Authorization: Bearer $enroll" -H 'Content-Type: application/json' \
  -d "{\"public_key\":\"$node_key\"}" "$base/api/v1/nodes/enroll" || { echo "could not enroll the server" >&2; exit 1; }

# Scheduled steps: customers who signed up and confirmed their address get
# onboarding mail steps queued for later days.
for i in $(seq 1 5); do
  curl -s -o /dev/null -H "Origin: $base" --data "email=c$i%40example.com&password=correct+horse+battery+staple&first_name=" "$base/api/auth/register"
done
for i in $(seq 1 50); do
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM mail_outbox WHERE template = 'verify'")" -ge 5 ] && break; sleep 0.1
done
sqlite3 "$db" "SELECT body_text FROM mail_outbox WHERE template = 'verify'" | grep -o 'token=[A-Za-z0-9_-]*' | while read -r t; do
  curl -s -o /dev/null -H "Origin: $base" --data "$t" "$base/api/auth/verify"
done
sqlite3 "$db" "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id" >"$work/jobs-before"
[ -s "$work/jobs-before" ] || { echo "FAIL: no workflow steps were scheduled" >&2; exit 1; }

# The load: N creations and N webhook deliveries, all at once, each logged
# with its answer. What was acknowledged before the kill must survive it.
cat >"$work/load.py" <<'PY'
import hashlib, hmac, json, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, cookie, whsec, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
log = open(out, "a", buffering=1)
def send(req):
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return 0
def device(i):
    body = f"name=kill-{i}&public_key=&server_id=auto&region=".encode()
    req = urllib.request.Request(base + "/api/devices/create", data=body, method="POST", headers={
        "Origin": base, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    log.write(f"device kill-{i} {send(req)}\n")
def webhook(i):
    body = json.dumps({"id": f"evt_kill_{i}", "object": "event", "type": "customer.created",
                       "created": int(time.time()), "data": {"object": {"id": f"cus_{i}"}}}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(whsec.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(base + "/api/v1/billing/webhooks/stripe", data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": f"t={ts},v1={sig}"})
    log.write(f"webhook evt_kill_{i} {send(req)}\n")
with ThreadPoolExecutor(max_workers=64) as pool:
    for i in range(n):
        pool.submit(device, i)
        pool.submit(webhook, i)
PY
python3 "$work/load.py" "$base" "$cookie" "$whsec" "$n" "$work/answers" &
loadpid=$!
# Killed in the middle: once this many requests have their answer.
touch "$work/answers"
while [ "$(wc -l <"$work/answers")" -lt "$kill_after" ] && kill -0 "$loadpid" 2>/dev/null; do sleep 0.01; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
echo "portal killed (SIGKILL) with $(wc -l <"$work/answers") of $((2 * n)) requests answered"
wait "$loadpid" 2>/dev/null || true; loadpid=""

fail=0
check() { if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1 (got '$2', want '$3')"; fail=1; fi; }
check "PRAGMA integrity_check" "$(sqlite3 "$db" 'PRAGMA integrity_check')" "ok"
awk '{print "  " $1 " answered " $3}' "$work/answers" | sort | uniq -c
portal_start "$work/log"
check "no two devices share an IPv4 address" \
  "$(sqlite3 "$db" 'SELECT COUNT(*) FROM (SELECT 1 FROM devices GROUP BY server_id, v4_index HAVING COUNT(*) > 1)')" 0
check "no two devices share an IPv6 address" \
  "$(sqlite3 "$db" 'SELECT COUNT(*) FROM (SELECT 1 FROM devices WHERE v6_index IS NOT NULL GROUP BY server_id, v6_index HAVING COUNT(*) > 1)')" 0
acked_devices="$(awk '$1 == "device" && $3 == 200 {print $2}' "$work/answers")"
missing=0
for d in $acked_devices; do
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM devices WHERE name = '$d'")" = 1 ] || missing=$((missing + 1))
done
check "every acknowledged device creation ($(wc -w <<<"$acked_devices")) is stored once" "$missing" 0
acked_hooks="$(awk '$1 == "webhook" && $3 == 200 {print $2}' "$work/answers")"
wrong=0
for e in $acked_hooks; do
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM webhook_events WHERE provider = 'stripe' AND event_id = '$e'")" = 1 ] || wrong=$((wrong + 1))
done
check "every acknowledged webhook ($(wc -w <<<"$acked_hooks")) is recorded exactly once" "$wrong" 0
# A provider redelivers what it did not see acknowledged, and sometimes what
# it did: the acknowledged ones are duplicates now, nothing is applied twice.
first_acked="$(head -n 1 <<<"$acked_hooks")"
if [ -n "$first_acked" ]; then
  i="${first_acked#evt_kill_}"
  redelivered="$(python3 - "$base" "$whsec" "$i" <<'PY'
import hashlib, hmac, json, sys, time, urllib.request
base, whsec, i = sys.argv[1], sys.argv[2], sys.argv[3]
body = json.dumps({"id": f"evt_kill_{i}", "object": "event", "type": "customer.created",
                   "created": int(time.time()), "data": {"object": {"id": f"cus_{i}"}}}).encode()
ts = str(int(time.time()))
sig = hmac.new(whsec.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
req = urllib.request.Request(base + "/api/v1/billing/webhooks/stripe", data=body, method="POST",
    headers={"Content-Type": "application/json", "Stripe-Signature": f"t={ts},v1={sig}"})
print(json.load(urllib.request.urlopen(req, timeout=30)).get("outcome"))
PY
)"
  check "a redelivered acknowledged webhook is a duplicate" "$redelivered" "duplicate"
fi
lost=0
while read -r id; do
  [ "$(sqlite3 "$db" "SELECT COUNT(*) FROM jobs WHERE id = $id")" = 1 ] || lost=$((lost + 1))
done <"$work/jobs-before"
check "every scheduled step ($(wc -l <"$work/jobs-before")) is still there" "$lost" 0
code="$(post -o /dev/null -w '%{http_code}' --data 'name=after-restart&public_key=&server_id=auto&region=' "$base/api/devices/create")"
check "the restarted portal creates devices" "$code" 200
exit "$fail"
