#!/usr/bin/env python3
"""One lab host's services, run inside its network namespace by the tests.

    host.py --ip 10.77.0.4 --tcp 22 --http 8080 \
        --mdns '_http._tcp|Pi-hole admin|8080|pihole|model=Raspberry Pi 4'

Binds everything on --ip, registers the mDNS services on that interface
only, prints READY once all are up, and exits when stdin closes (so a test
that dies can't leave it behind) or on SIGTERM.
"""
import argparse
import asyncio
import http.server
import os
import signal
import socket
import sys
import threading


def tcp_listener(ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(64)

    def serve() -> None:
        while True:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return s


def http_server(ip: str, port: int) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer((ip, port), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


async def register(ip: str, specs: list) -> object:
    from zeroconf import IPVersion
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    zc = AsyncZeroconf(interfaces=[ip], ip_version=IPVersion.V4Only)
    infos = []
    for spec in specs:
        kind, name, port, host, *txt = spec.split("|")
        props = {}
        for kv in (txt[0].split(",") if txt and txt[0] else []):
            k, _, v = kv.partition("=")
            props[k] = v
        infos.append(
            AsyncServiceInfo(
                f"{kind}.local.",
                f"{name}.{kind}.local.",
                addresses=[socket.inet_aton(ip)],
                port=int(port),
                properties=props,
                server=f"{host}.local.",
            )
        )
    tasks = [await zc.async_register_service(i) for i in infos]
    await asyncio.gather(*tasks)
    return zc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", required=True)
    ap.add_argument("--tcp", type=int, action="append", default=[])
    ap.add_argument("--http", type=int, action="append", default=[])
    ap.add_argument("--mdns", action="append", default=[])
    a = ap.parse_args()

    keep = [tcp_listener(a.ip, p) for p in a.tcp]
    for p in a.http:
        http_server(a.ip, p)
    loop = asyncio.new_event_loop()
    zc = loop.run_until_complete(register(a.ip, a.mdns)) if a.mdns else None
    print("READY", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    # The zeroconf responder runs on this loop: keep it turning.
    while not stop.is_set():
        loop.run_until_complete(asyncio.sleep(0.1))
    if zc is not None:
        loop.run_until_complete(zc.async_close())
    del keep
    os._exit(0)


if __name__ == "__main__":
    main()
