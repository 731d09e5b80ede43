// TrueVault live camera player: Media Source Extensions fed by the portal's
// WebSocket (/cameras/{id}/live). Binary messages are fMP4 (an init segment,
// then one moof+mdat per frame); text messages are JSON statuses
// {"state": "connecting" | "live" | "reconnecting" | "offline", "detail"?}.
// Every <video data-camera-live="{id}"> on the page gets a player, including
// ones the client-side router adds later.
(function () {
  "use strict";
  if (window.__tvCameraPlayer) return;
  window.__tvCameraPlayer = true;

  var LABELS = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    offline: "Offline",
  };

  function hex2(n) {
    return (n < 16 ? "0" : "") + n.toString(16).toUpperCase();
  }

  // RFC 6381 codec string from the init segment's avcC/hvcC box.
  function codecOf(u8) {
    for (var i = 4; i + 8 < u8.length; i++) {
      if (u8[i] === 0x61 && u8[i + 1] === 0x76 && u8[i + 2] === 0x63 && u8[i + 3] === 0x43) {
        // "avcC": configurationVersion, profile, compatibility, level
        return "avc1." + hex2(u8[i + 5]) + hex2(u8[i + 6]) + hex2(u8[i + 7]);
      }
      if (u8[i] === 0x68 && u8[i + 1] === 0x76 && u8[i + 2] === 0x63 && u8[i + 3] === 0x43) {
        return "hvc1.1.6.L93.B0";
      }
    }
    return "avc1.42E01E";
  }

  function isInit(u8) {
    return u8.length > 8 && u8[4] === 0x66 && u8[5] === 0x74 && u8[6] === 0x79 && u8[7] === 0x70;
  }

  function Player(video) {
    this.video = video;
    // The muted attribute does not mute an element made by script (client
    // navigation), and unmuted video may not autoplay.
    video.muted = true;
    this.id = video.getAttribute("data-camera-live");
    var tile = video.closest("[data-camera-tile]") || video.parentElement;
    this.statusEl = tile ? tile.querySelector("[data-camera-status]") : null;
    this.queue = [];
    this.sb = null;
    this.ms = null;
    this.retry = 1000;
    this.stopped = false;
    this.connect();
  }

  Player.prototype.setState = function (state, detail) {
    this.video.setAttribute("data-state", state);
    if (this.statusEl) {
      this.statusEl.textContent = LABELS[state] || state;
      this.statusEl.setAttribute("data-state", state);
      this.statusEl.title = detail || "";
    }
  };

  Player.prototype.connect = function () {
    var self = this;
    if (self.stopped) return;
    self.setState("connecting");
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/cameras/" + encodeURIComponent(self.id) + "/live");
    ws.binaryType = "arraybuffer";
    self.ws = ws;
    ws.onmessage = function (ev) {
      if (typeof ev.data === "string") {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.state === "live") self.retry = 1000;
        self.setState(msg.state, msg.detail);
        return;
      }
      var u8 = new Uint8Array(ev.data);
      if (isInit(u8)) self.reset(u8);
      else if (self.ms) self.push(u8);
    };
    ws.onclose = function () {
      if (self.stopped) return;
      self.setState("reconnecting");
      var delay = self.retry;
      self.retry = Math.min(self.retry * 2, 10000);
      setTimeout(function () { self.connect(); }, delay);
    };
  };

  // A new init segment: a fresh MediaSource (the codec may have changed).
  Player.prototype.reset = function (init) {
    var self = this;
    var codec = codecOf(init);
    var type = 'video/mp4; codecs="' + codec + '"';
    if (!window.MediaSource || !MediaSource.isTypeSupported(type)) {
      self.setState("offline", "This browser cannot play " + codec + ".");
      return;
    }
    var ms = new MediaSource();
    self.ms = ms;
    self.sb = null;
    self.queue = [init];
    self.video.src = URL.createObjectURL(ms);
    ms.addEventListener("sourceopen", function () {
      if (self.ms !== ms) return;
      URL.revokeObjectURL(self.video.src);
      try {
        var sb = ms.addSourceBuffer(type);
        sb.mode = "segments";
        sb.addEventListener("updateend", function () { self.afterAppend(sb); });
        self.sb = sb;
        self.pump();
      } catch (e) {
        self.setState("offline", String(e));
      }
    });
  };

  Player.prototype.push = function (u8) {
    // Bounded: a stalled decoder drops media rather than grow memory.
    if (this.queue.length > 300) this.queue.splice(1, this.queue.length - 1);
    this.queue.push(u8);
    this.pump();
  };

  Player.prototype.pump = function () {
    var sb = this.sb;
    if (!sb || sb.updating || this.queue.length === 0) return;
    try {
      sb.appendBuffer(this.queue.shift());
    } catch (e) {
      // QuotaExceeded or a closed source: start over on the next init.
      this.queue = [];
      this.ws && this.ws.close();
    }
  };

  Player.prototype.afterAppend = function (sb) {
    var v = this.video;
    var b = sb.buffered;
    if (b.length > 0) {
      var end = b.end(b.length - 1);
      // Start at the cached key frame, then keep to the live edge.
      if (v.currentTime < b.start(0) || end - v.currentTime > 1.5) {
        v.currentTime = Math.max(b.start(0), end - 0.2);
      }
      if (v.paused) {
        var p = v.play();
        if (p && p.catch) p.catch(function () {});
      }
      // Keep about 20 s behind the playhead.
      if (!sb.updating && v.currentTime - b.start(0) > 30) {
        try { sb.remove(b.start(0), v.currentTime - 20); return; } catch (e) {}
      }
    }
    this.pump();
  };

  Player.prototype.stop = function () {
    this.stopped = true;
    if (this.ws) this.ws.close();
  };

  var players = [];
  function scan() {
    var videos = document.querySelectorAll("video[data-camera-live]");
    for (var i = 0; i < videos.length; i++) {
      if (!videos[i].__tvPlayer) videos[i].__tvPlayer = new Player(videos[i]);
      if (players.indexOf(videos[i].__tvPlayer) < 0) players.push(videos[i].__tvPlayer);
    }
    players = players.filter(function (p) {
      if (p.video.isConnected) return true;
      p.stop();
      return false;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
})();
