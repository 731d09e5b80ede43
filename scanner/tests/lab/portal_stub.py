#!/usr/bin/env python3
"""A stand-in for the portal's sync endpoint, for the scanner's lab test
until the real portal joins the lab: checks the bearer token, stores the
body it got, answers like the portal (SyncSummary or ApiErrorBody).

    portal_stub.py --port 0 --token TOKEN --out FILE   # prints "PORT <n>" then READY
"""
import argparse
import http.server
import json
import sys
import threading


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if self.path != "/api/v1/inventory/sync":
                self.answer(404, {"error": {"code": "NOT_FOUND", "message": "no such endpoint", "request_id": "stub"}})
                return
            if self.headers.get("authorization") != f"Bearer {a.token}":
                self.answer(401, {"error": {"code": "INVALID_TOKEN", "message": "unknown scanner token", "request_id": "stub"}})
                return
            req = json.loads(body)
            with open(a.out, "wb") as f:
                f.write(body)
            cams = sum(1 for h in req["hosts"] if h.get("is_camera"))
            self.answer(200, {"new": len(req["hosts"]), "updated": 0, "offline": 0, "cameras": cams})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print(f"PORT {srv.server_address[1]}", flush=True)
    print("READY", flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
