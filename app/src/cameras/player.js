// TrueVault live camera player: Media Source Extensions fed by the portal's
// WebSocket (/cameras/{id}/live). Binary messages are fMP4 (an init segment,
// then one moof+mdat per frame); text messages are JSON statuses
// {"state": "connecting" | "live" | "reconnecting" | "failed" | "offline",
// "detail"?, "code"?}.
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

  // ISO/IEC 14496-15 E.3: hvc1.<space><profile>.<compat, bit-reversed>.
  // <tier><level>.<constraint bytes, trailing zeros dropped>, from the
  // camera's own hvcC (a fixed string refuses streams of other levels).
  function hevcCodec(u8, at) {
    if (at + 13 > u8.length) return "hvc1.1.6.L93.B0";
    var b = u8[at + 1];
    var space = ["", "A", "B", "C"][b >> 6];
    var tier = (b & 0x20) ? "H" : "L";
    var profile = b & 0x1f;
    var compat = ((u8[at + 2] << 24) | (u8[at + 3] << 16) | (u8[at + 4] << 8) | u8[at + 5]) >>> 0;
    var rev = 0;
    for (var k = 0; k < 32; k++) { rev = ((rev << 1) | ((compat >>> k) & 1)) >>> 0; }
    var cons = [];
    for (var j = 0; j < 6; j++) cons.push(u8[at + 6 + j]);
    while (cons.length && cons[cons.length - 1] === 0) cons.pop();
    var out = "hvc1." + space + profile + "." + rev.toString(16).toUpperCase() + "." + tier + u8[at + 12];
    for (var c = 0; c < cons.length; c++) out += "." + cons[c].toString(16).toUpperCase();
    return out;
  }

  // RFC 6381 codec string from the init segment's avcC/hvcC box.
  function codecOf(u8) {
    for (var i = 4; i + 8 < u8.length; i++) {
      if (u8[i] === 0x61 && u8[i + 1] === 0x76 && u8[i + 2] === 0x63 && u8[i + 3] === 0x43) {
        // "avcC": configurationVersion, profile, compatibility, level
        return "avc1." + hex2(u8[i + 5]) + hex2(u8[i + 6]) + hex2(u8[i + 7]);
      }
      if (u8[i] === 0x68 && u8[i + 1] === 0x76 && u8[i + 2] === 0x63 && u8[i + 3] === 0x43) {
        return hevcCodec(u8, i + 4);
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
    // Init segments taken (each resets the decoder): a viewer joining a
    // running stream should take exactly one. Read by the Playwright test.
    this.inits = 0;
    this.watchFirstFrame();
    this.connect();
  }

  // data-first-frame-ms: from opening the socket to the first decoded
  // frame shown, a figure for the notes (not an assertion).
  Player.prototype.watchFirstFrame = function () {
    var self = this, v = this.video, done = false;
    var mark = function () {
      if (done || !(v.currentTime > 0) || self.openedAt === undefined) return;
      done = true;
      v.setAttribute("data-first-frame-ms", String(Math.round(performance.now() - self.openedAt)));
    };
    if (v.requestVideoFrameCallback) {
      var cb = function () { mark(); if (!done) v.requestVideoFrameCallback(cb); };
      v.requestVideoFrameCallback(cb);
    }
    v.addEventListener("timeupdate", mark);
  };

  // `code` (e.g. CAMERA_AUTH_REFUSED) comes from the portal; `detail` is
  // already in the owner's words, so a failure is said on the tile itself.
  Player.prototype.setState = function (state, detail, code) {
    this.video.setAttribute("data-state", state);
    if (code) this.video.setAttribute("data-code", code);
    else this.video.removeAttribute("data-code");
    if (this.statusEl) {
      var label = LABELS[state] || state;
      if (state === "failed" && detail) label = detail;
      else if (state === "reconnecting" && code && detail) label = label + " " + detail;
      this.statusEl.textContent = label;
      this.statusEl.setAttribute("data-state", state);
      if (code) this.statusEl.setAttribute("data-code", code);
      else this.statusEl.removeAttribute("data-code");
      this.statusEl.title = detail || "";
    }
  };

  Player.prototype.connect = function () {
    var self = this;
    if (self.stopped) return;
    self.setState("connecting");
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    if (self.openedAt === undefined) self.openedAt = performance.now();
    var stream = self.video.getAttribute("data-camera-stream") === "sub" ? "sub" : "main";
    var ws = new WebSocket(proto + "//" + location.host + "/cameras/" + encodeURIComponent(self.id) + "/live?stream=" + stream);
    ws.binaryType = "arraybuffer";
    self.ws = ws;
    ws.onmessage = function (ev) {
      if (typeof ev.data === "string") {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.state === "live") self.retry = 1000;
        self.setState(msg.state, msg.detail, msg.code);
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
    self.inits += 1;
    self.video.setAttribute("data-inits", String(self.inits));
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

  // The quality switch: the other stream, on a fresh socket (its init
  // segment resets the decoder).
  Player.prototype.switchStream = function () {
    var v = this.video;
    var next = v.getAttribute("data-camera-stream") === "sub" ? "main" : "sub";
    v.setAttribute("data-camera-stream", next);
    var ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onmessage = null; ws.close(); }
    this.retry = 1000;
    this.connect();
    return next;
  };

  Player.prototype.stop = function () {
    this.stopped = true;
    if (this.ws) this.ws.close();
  };

  // Snapshots open in the page: the picture, or the portal's error (by its
  // code, in words) instead of a raw error page in a new tab.
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest && ev.target.closest("a[data-camera-snapshot]");
    if (!a || !window.fetch) return;
    ev.preventDefault();
    var box = a.closest(".camera-snapshot") || a.parentElement;
    var err = box.querySelector("[data-snapshot-error]");
    var img = box.querySelector("[data-snapshot-image]");
    var show = function (text, code) {
      if (img) img.hidden = true;
      if (!err) return;
      err.textContent = text;
      err.setAttribute("data-code", code || "");
      err.hidden = false;
    };
    a.setAttribute("aria-busy", "true");
    fetch(a.href, { credentials: "same-origin", headers: { Accept: "image/*, application/json" } })
      .then(function (res) {
        var type = res.headers.get("content-type") || "";
        if (res.ok && type.indexOf("image/") === 0) {
          return res.blob().then(function (blob) {
            if (img) {
              if (img.src) URL.revokeObjectURL(img.src);
              img.src = URL.createObjectURL(blob);
              img.hidden = false;
            }
            if (err) err.hidden = true;
          });
        }
        return res.text().then(function (body) {
          var code = "", text = "The camera did not give a snapshot.";
          try {
            var j = JSON.parse(body);
            var e = j.error || j;
            code = e.code || "";
            if (e.message) text = e.message;
          } catch (x) {}
          show(text, code);
        });
      })
      .catch(function () { show("The portal could not be reached.", "NETWORK"); })
      .then(function () { a.removeAttribute("aria-busy"); });
  });

  document.addEventListener("click", function (ev) {
    var b = ev.target && ev.target.closest && ev.target.closest("[data-camera-quality]");
    if (!b) return;
    var tile = b.closest("[data-camera-tile]");
    var v = tile && tile.querySelector("video[data-camera-live]");
    if (!v || !v.__tvPlayer) return;
    var now = v.__tvPlayer.switchStream();
    b.textContent = now === "sub" ? "Low quality" : "High quality";
  });


  // PTZ: a move while a button or key is held, a stop on release; presets.
  function ptzSend(panel, fields) {
    var body = new URLSearchParams();
    body.set("camera", panel.getAttribute("data-camera-ptz"));
    for (var k in fields) body.set(k, fields[k]);
    var err = panel.querySelector("[data-ptz-error]");
    return fetch("/api/cameras/ptz", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: body.toString()
    })
      .then(function (res) {
        return res.json().then(function (j) {
          if (res.ok) {
            if (err) err.hidden = true;
            return j;
          }
          if (err) {
            err.textContent = j.message || "The camera did not take the command.";
            err.setAttribute("data-code", j.code || "");
            err.hidden = false;
          }
          return null;
        });
      })
      .catch(function () { return null; });
  }
  var ptzHeld = null;
  function ptzStart(panel, pan, tilt, zoom) {
    if (ptzHeld) return;
    ptzHeld = panel;
    ptzSend(panel, { op: "move", pan: pan, tilt: tilt, zoom: zoom });
  }
  function ptzStop() {
    if (!ptzHeld) return;
    var panel = ptzHeld;
    ptzHeld = null;
    ptzSend(panel, { op: "stop" });
  }
  document.addEventListener("pointerdown", function (ev) {
    var b = ev.target && ev.target.closest && ev.target.closest("[data-ptz-move]");
    if (!b) return;
    var panel = b.closest("[data-camera-ptz]");
    if (!panel) return;
    ev.preventDefault();
    ptzStart(panel, b.getAttribute("data-pan"), b.getAttribute("data-tilt"), b.getAttribute("data-zoom"));
  });
  ["pointerup", "pointercancel", "blur"].forEach(function (t) {
    window.addEventListener(t, ptzStop);
  });
  var keys = {
    ArrowUp: ["0", "0.5", "0"], ArrowDown: ["0", "-0.5", "0"],
    ArrowLeft: ["-0.5", "0", "0"], ArrowRight: ["0.5", "0", "0"],
    "+": ["0", "0", "0.5"], "-": ["0", "0", "-0.5"]
  };
  document.addEventListener("keydown", function (ev) {
    var panel = ev.target && ev.target.closest && ev.target.closest("[data-camera-ptz]");
    var v = keys[ev.key];
    if (!panel || !v || ev.repeat || (ev.target.tagName === "INPUT")) return;
    ev.preventDefault();
    ptzStart(panel, v[0], v[1], v[2]);
  });
  document.addEventListener("keyup", function (ev) {
    if (keys[ev.key]) ptzStop();
  });
  function ptzShowPresets(panel, list) {
    var ul = panel.querySelector("[data-ptz-preset-list]");
    if (!ul || !list) return;
    ul.textContent = "";
    list.forEach(function (p) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-ghost small";
      b.textContent = p.name || p.token;
      b.setAttribute("data-ptz-goto", p.token);
      li.appendChild(b);
      ul.appendChild(li);
    });
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest && ev.target.closest("[data-ptz-presets],[data-ptz-save],[data-ptz-goto]");
    if (!t) return;
    var panel = t.closest("[data-camera-ptz]");
    if (!panel) return;
    if (t.hasAttribute("data-ptz-goto")) {
      ptzSend(panel, { op: "goto", token: t.getAttribute("data-ptz-goto") });
    } else if (t.hasAttribute("data-ptz-save")) {
      var name = panel.querySelector("[data-ptz-preset-name]");
      ptzSend(panel, { op: "save", name: name ? name.value : "" }).then(function (r) {
        if (r) ptzSend(panel, { op: "presets" }).then(function (l) { ptzShowPresets(panel, l); });
      });
    } else {
      ptzSend(panel, { op: "presets" }).then(function (l) { ptzShowPresets(panel, l); });
    }
  });

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
