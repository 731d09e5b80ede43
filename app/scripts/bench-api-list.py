#!/usr/bin/env python3
"""A device list of N devices through the public API, paged: fills the
account up to N devices (POST /api/v1/devices, 8 clients), then walks every
page ROUNDS times per page size on one keep-alive connection and prints the
p50/p99 of a page.   bench-api-list.py BASE KEY [N=10000] [ROUNDS=5]
Run by bench-api.sh after its create figure."""
import base64, http.client, json, os, sys, threading, time, urllib.parse

base, key = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
u = urllib.parse.urlsplit(base)
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def conn():
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def get(c, path):
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:200]!r}")
    return json.loads(body)


def count():
    c, total, cursor = conn(), 0, None
    while True:
        page = get(c, "/api/v1/devices?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        total += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


def public_key():
    # Any 32 bytes have a WireGuard public key's shape.
    return base64.b64encode(os.urandom(32)).decode()


have = count()
todo = max(0, n - have)
lock = threading.Lock()
failures = []


def worker(k):
    c = conn()
    for _ in range(k):
        body = json.dumps({"name": "bench", "public_key": public_key()})
        c.request("POST", "/api/v1/devices", body=body, headers=headers)
        r = c.getresponse()
        r.read()
        if r.status != 201:
            with lock:
                failures.append(r.status)


threads = [threading.Thread(target=worker, args=(todo // 8 + (1 if i < todo % 8 else 0),)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
total = count()
print(f"devices in the account: {total} (made {todo - len(failures)} here, {len(failures)} refused)")
if total < n:
    raise SystemExit(f"only {total} devices")

c = conn()
for limit in (50, 200):
    times = []
    for _ in range(rounds):
        cursor = None
        while True:
            path = f"/api/v1/devices?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            t = time.perf_counter()
            page = get(c, path)
            times.append((time.perf_counter() - t) * 1000)
            cursor = page["next_cursor"]
            if not cursor:
                break
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    load = open("/proc/loadavg").read().split()[:3]
    print(f"device list of {total}, {limit} per page: {len(times)} pages, p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {times[-1]:.2f} ms; load {' '.join(load)}")
