#!/usr/bin/python3
"""A real RTSP server for the gateway tests (GStreamer's gst-rtsp-server).

Run with Debian's /usr/bin/python3 (it has `gi`). Binds 127.0.0.1 on the
given port (0: a free one) and prints `READY <port>` once it serves.
Mounts (all shared: one encoder feeds every client):
  /live   live test pattern, H.264 (x264, zerolatency), 30 fps, GOP 30
  /live2  another live pattern (a second camera)
  /live265 the same in H.265 (x265)
  /zero   a raw .264 elementary stream generated at start: every RTP
          timestamp is the same (no timing in the source)
With --user/--password every mount needs digest auth.
Prints `CLIENT <ip>` when a client connects and `DESCRIBE <path>` for each
DESCRIBE it sends.
"""
import argparse
import os
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

LIVE = (
    "( videotestsrc is-live=true pattern={pattern} "
    "! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=500 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def make_raw_264(path):
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=600 ! video/x-raw,width=320,height=240,framerate=30/1 "
        "! x264enc speed-preset=ultrafast key-int-max=30 ! video/x-h264,profile=baseline "
        f"! h264parse ! video/x-h264,stream-format=byte-stream ! filesink location={path}"
    )
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        sys.exit("could not encode the raw .264 file")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--workdir", help="where to write the raw clip (the caller removes it)")
    args = p.parse_args()
    Gst.init(None)

    tmp = args.workdir or tempfile.mkdtemp(prefix="tv-rtsp-")
    os.makedirs(tmp, exist_ok=True)
    raw = os.path.join(tmp, "clip.264")
    make_raw_264(raw)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    pipelines = {
        "/live": LIVE.format(pattern="smpte"),
        "/live2": LIVE.format(pattern="ball"),
        "/live265": (
            "( videotestsrc is-live=true pattern=smpte "
            "! video/x-raw,width=320,height=240,framerate=30/1 "
            "! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=500 "
            "! rtph265pay name=pay0 pt=96 config-interval=1 )"
        ),
        "/zero": f"( filesrc location={raw} ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )",
    }
    for path, launch in pipelines.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        if args.user:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_permission_for_role("viewer", "media.factory.access", True)
            perms.add_permission_for_role("viewer", "media.factory.construct", True)
            factory.set_permissions(perms)
        mounts.add_factory(path, factory)

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_digest(args.user, args.password or "", token)
        server.set_auth(auth)

    def on_client(_server, client):
        conn = client.get_connection()
        print(f"CLIENT {conn.get_ip() if conn else '?'}", flush=True)
        # Which mount each client asked for (tests assert the stream pulled).
        client.connect(
            "describe-request",
            lambda _c, ctx: print(f"DESCRIBE {ctx.uri.abspath}", flush=True),
        )

    server.connect("client-connected", on_client)
    if server.attach(None) == 0:
        sys.exit("could not bind")
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
