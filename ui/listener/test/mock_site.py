#!/usr/bin/env python3
"""A mock IPFS Station site for the listener page, served on loopback.

It builds what the station publishes under its IPNS name, as a plain directory:

    index.html listener.js style.css vendor/hls.min.js   (served from ui/listener/ itself,
                                                           so edits show on reload)
    live.m3u8      RFC 8216 live playlist, segment URIs relative: "s/<media sequence>.ts"
    station.json   format 1 (station, ipns_name, stream, updated_at, now_playing, next_up,
                   programme, history)
    s/<seq>.ts     the window's segments and some past ones

Audio is real: ffmpeg encodes a few tone "tracks" and "jingles" as AAC in MPEG-TS HLS (each
item its own encode, as the station's prechunking does). A rotation (a jingle every two
tracks) is laid on an air clock that started `--past` seconds ago; every `--interval`
seconds the window slides: `window` segments, the last `lookahead` of them past the live
edge (the newest segment whose air time has come), `#EXT-X-START:TIME-OFFSET` = minus the
seconds from the live-edge segment's start to the end, `#EXT-X-PROGRAM-DATE-TIME` on every
segment, `#EXT-X-DISCONTINUITY` at every item start. Files are written atomically.

It serves the site three ways, like gateways do:
  - root port:    http://127.0.0.1:<root>/ and http://<name>.ipns.localhost:<root>/
                  (a subdomain gateway: the site is the origin's root)
  - path port:    http://127.0.0.1:<path>/ipns/<name>/ (a path gateway; /ipns/<name>
                  without the slash is redirected, as Kubo does), and the same site under
                  /ipfs/<fake cid>/ (what a fixed copy of the site looks like)
  - lag port:     like the path port but every live.m3u8 / station.json is the one from
                  `--lag` seconds ago (a gateway holding an old IPNS record)

Faults for tests: while a file `.fail-station` exists in --dir, station.json answers 503;
while `.freeze` exists, the station stops publishing (the window stops sliding).

When ready it prints one JSON line: {"ready": true, "root": ..., "path": ..., "lag": ...,
"subdomain": ..., "snapshot": ..., "dir": ..., "name": ...}. Stop it with SIGTERM/SIGINT.

    python3 ui/listener/test/mock_site.py --dir /tmp/site
"""

import argparse
import http.server
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE_DIR = os.path.dirname(HERE)
PAGE_FILES = ("index.html", "listener.js", "style.css", "vendor/hls.min.js")
DEFAULT_NAME = "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"
FAKE_CID = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"

# (kind, artist, title, seconds, frequency)
ITEMS = [
    ("track", "Test", "Tone 440", 42, 440),
    ("track", "Test", "Tone 550", 38, 550),
    ("jingle", None, "Station ID", 6, 880),
    ("track", "Other Artist", "Tone 330", 45, 330),
    ("track", "Test", "Tone 660", 40, 660),
    ("jingle", None, "Station ID (short)", 4, 990),
]


def iso_ms(t):
    """RFC 3339 UTC with milliseconds, as the station writes it."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03dZ" % int(round((t % 1) * 1000) % 1000)


def pdt_text(t):
    """#EXT-X-PROGRAM-DATE-TIME as m3u8-rs writes it (chrono fixed offset, +00:00)."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        "%03d+00:00" % int(round((t % 1) * 1000) % 1000)


def atomic_write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def encode_items(work, hls_time):
    """ffmpeg: each item its own HLS encode. Returns [{kind, artist, title, segments}]."""
    items = []
    for i, (kind, artist, title, secs, freq) in enumerate(ITEMS):
        d = os.path.join(work, "items", "%02d" % i)
        playlist = os.path.join(d, "index.m3u8")
        if not os.path.exists(playlist):
            os.makedirs(d, exist_ok=True)
            # A tone with a 2 Hz tremolo, so it is audibly "music" in a recording.
            src = "sine=frequency=%d:duration=%d:sample_rate=48000" % (freq, secs)
            subprocess.run(
                ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                 "-f", "lavfi", "-i", src, "-af", "tremolo=f=2:d=0.4",
                 "-c:a", "aac", "-b:a", "128k", "-ac", "2",
                 "-f", "hls", "-hls_time", str(hls_time), "-hls_list_size", "0",
                 "-hls_segment_filename", os.path.join(d, "seg_%05d.ts"), playlist],
                check=True)
        segs = []
        dur = None
        for line in open(playlist):
            line = line.strip()
            if line.startswith("#EXTINF:"):
                dur = float(line[8:].split(",")[0])
            elif line and not line.startswith("#"):
                segs.append((os.path.join(d, line), dur))
        items.append({"kind": kind, "artist": artist, "title": title, "segments": segs})
    return items


class Schedule:
    """The rotation on the air clock: segment n airs at start + sum of earlier durations."""

    def __init__(self, items, start):
        self.items = items
        self.segs = []  # dicts: seq, item_index (in rotation), air, dur, file, disc, item
        self.start = start
        self.next_air = start
        self.rot = 0
        self.item_no = 0

    def extend_to(self, n):
        while len(self.segs) < n:
            item = self.items[self.rot % len(self.items)]
            item_air = self.next_air
            total = sum(d for _, d in item["segments"])
            for k, (f, d) in enumerate(item["segments"]):
                self.segs.append({
                    "seq": len(self.segs), "air": self.next_air, "dur": d, "file": f,
                    # Every item starts with a discontinuity, but the stream's first.
                    "disc": k == 0 and len(self.segs) > 0, "item": item, "item_no": self.item_no,
                    "item_air": item_air, "item_dur": total,
                })
                self.next_air += d
            self.rot += 1
            self.item_no += 1

    def live_index(self, now):
        self.extend_to(1)
        i = 0
        while True:
            self.extend_to(i + 2)
            if self.segs[i + 1]["air"] > now:
                return i
            i += 1


def item_json(seg):
    it = seg["item"]
    return {"title": it["title"], "artist": it["artist"], "kind": it["kind"],
            "air_start": iso_ms(seg["item_air"]), "duration": round(seg["item_dur"], 3)}


def render(sched, now, window, lookahead, target):
    live = sched.live_index(now)
    sched.extend_to(live + lookahead + 1)
    first = max(0, live - (window - lookahead - 1))
    segs = sched.segs[first:live + lookahead + 1]
    disc_seq = sum(1 for s in sched.segs[:first] if s["disc"])
    offset = sum(s["dur"] for s in sched.segs[live:live + lookahead + 1])
    out = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % target,
           "#EXT-X-MEDIA-SEQUENCE:%d" % segs[0]["seq"],
           "#EXT-X-DISCONTINUITY-SEQUENCE:%d" % disc_seq,
           "#EXT-X-INDEPENDENT-SEGMENTS",
           "#EXT-X-START:TIME-OFFSET=-%.3f" % offset]
    for s in segs:
        if s["disc"]:
            out.append("#EXT-X-DISCONTINUITY")
        it = s["item"]
        title = ("%s - %s" % (it["artist"], it["title"])) if it["artist"] else it["title"]
        out.append("#EXT-X-PROGRAM-DATE-TIME:%s" % pdt_text(s["air"]))
        out.append("#EXTINF:%.3f,%s" % (s["dur"], title))
        out.append("s/%d.ts" % s["seq"])
    playlist = ("\n".join(out) + "\n").encode()

    cur = sched.segs[live]
    # The items after the live one, in air order (from the segments already scheduled).
    nexts, seen = [], {cur["item_no"]}
    k = live
    while len(nexts) < 3:
        sched.extend_to(k + 2)
        k += 1
        s = sched.segs[k]
        if s["item_no"] not in seen:
            seen.add(s["item_no"])
            nexts.append(item_json(s))
    hist, seen = [], {cur["item_no"]}
    for s in reversed(sched.segs[:live]):
        if s["item_no"] not in seen:
            seen.add(s["item_no"])
            hist.append(item_json(s))
        if len(hist) >= 5:
            break
    day = datetime.fromtimestamp(now, timezone.utc).replace(minute=0, second=0, microsecond=0)
    block_start = day.timestamp()
    station = {
        "format": 1,
        "station": "Night Shift FM",
        "ipns_name": ARGS.name,
        "stream": "live.m3u8",
        "updated_at": iso_ms(now),
        "now_playing": item_json(cur),
        "next_up": nexts,
        "programme": [
            {"block": "Test Pattern Hour", "start": iso_ms(block_start),
             "end": iso_ms(block_start + 3600)},
            {"block": "Late Tones", "start": iso_ms(block_start + 3600),
             "end": iso_ms(block_start + 7200)},
        ],
        "history": hist,
    }
    return playlist, (json.dumps(station, indent=2) + "\n").encode(), segs, first


class Site:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        os.makedirs(os.path.join(self.dir, "s"), exist_ok=True)
        self.items = encode_items(os.path.join(self.dir, ".work"), args.hls_time)
        longest = max(d for it in self.items for _, d in it["segments"])
        self.target = int(math.ceil(longest))
        self.sched = Schedule(self.items, time.time() - args.past)
        self.history = []  # (time, playlist bytes, station bytes), newest last
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def tick(self):
        now = time.time()
        playlist, station, segs, first = render(
            self.sched, now, self.args.window, self.args.lookahead, self.target)
        sdir = os.path.join(self.dir, "s")
        for s in segs:
            p = os.path.join(sdir, "%d.ts" % s["seq"])
            if not os.path.exists(p):
                shutil.copyfile(s["file"], p + ".tmp")
                os.replace(p + ".tmp", p)
        # Keep some past segments (a listener holding an old playlist still plays).
        keep_from = first - self.args.keep_past
        for f in os.listdir(sdir):
            m = re.match(r"^(\d+)\.ts$", f)
            if m and int(m.group(1)) < keep_from:
                os.remove(os.path.join(sdir, f))
        atomic_write(os.path.join(self.dir, "live.m3u8"), playlist)
        atomic_write(os.path.join(self.dir, "station.json"), station)
        with self.lock:
            self.history.append((now, playlist, station))
            cutoff = now - max(600, self.args.lag + 60)
            while len(self.history) > 2 and self.history[0][0] < cutoff:
                self.history.pop(0)

    def old_view(self, lag):
        """(playlist, station) as published `lag` seconds ago (the oldest one if younger)."""
        t = time.time() - lag
        with self.lock:
            best = self.history[0]
            for h in self.history:
                if h[0] <= t:
                    best = h
            return best[1], best[2]

    def run(self):
        while not self.stop.wait(self.args.interval):
            if os.path.exists(os.path.join(self.dir, ".freeze")):
                continue  # a test's fault: the station stops publishing
            try:
                self.tick()
            except Exception as e:  # keep serving; say why
                print("tick failed: %r" % e, file=sys.stderr, flush=True)


TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t",
         ".json": "application/json", ".html": "text/html; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def make_handler(site, mode):
    """mode: 'root' (site at /), 'path' (site at /ipns/<name>/ and /ipfs/<cid>/), 'lag'."""
    name = site.args.name

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if site.args.verbose:
                sys.stderr.write("[%s] %s\n" % (mode, fmt % a))

        def send_body(self, code, body, ctype, extra=None, head=False):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            # Like Kubo on /ipns/ paths: cacheable for the record's TTL.
            self.send_header("Cache-Control", "public, max-age=5")
            self.send_header("Access-Control-Allow-Origin", "*")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def not_found(self, head=False):
            self.send_body(404, b"404 page not found\n", "text/plain; charset=utf-8",
                           head=head)

        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head=False):
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if mode == "root":
                rel = path
            else:
                m = re.match(r"^/(ipns/%s|ipfs/%s)(/.*)?$" % (re.escape(name), FAKE_CID), path)
                if not m:
                    return self.not_found(head)
                if m.group(2) is None:  # a directory without its slash: Kubo redirects
                    self.send_response(301)
                    self.send_header("Location", path + "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rel = m.group(2)
            rel = rel.lstrip("/")
            if rel == "" or rel.endswith("/"):
                rel += "index.html"
            if ".." in rel.split("/"):
                return self.not_found(head)
            ext = os.path.splitext(rel)[1]
            ctype = TYPES.get(ext, "application/octet-stream")
            if rel == "station.json" and os.path.exists(os.path.join(site.dir, ".fail-station")):
                # A test's fault: station.json failing (the page must play on).
                return self.send_body(503, b"station.json is failing on purpose\n",
                                      "text/plain; charset=utf-8", head=head)
            if mode == "lag" and rel in ("live.m3u8", "station.json"):
                pl, st = site.old_view(site.args.lag)
                return self.send_body(200, pl if rel == "live.m3u8" else st, ctype, head=head)
            if rel in PAGE_FILES:
                f = os.path.join(PAGE_DIR, rel)
            else:
                f = os.path.join(site.dir, rel)
            try:
                with open(f, "rb") as fh:
                    body = fh.read()
            except OSError:
                return self.not_found(head)
            self.send_body(200, body, ctype, head=head)

    return Handler


def serve(site, port, mode):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(site, mode))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="folder for the site (created)")
    p.add_argument("--name", default=DEFAULT_NAME, help="the IPNS name (k51...)")
    p.add_argument("--root-port", type=int, default=0)
    p.add_argument("--path-port", type=int, default=0)
    p.add_argument("--lag-port", type=int, default=0)
    p.add_argument("--lag", type=float, default=100.0,
                   help="seconds the lag port's view is behind (default 100)")
    p.add_argument("--hls-time", type=int, default=4)
    p.add_argument("--window", type=int, default=30, help="segments per playlist")
    p.add_argument("--lookahead", type=int, default=12, help="segments past the live edge")
    p.add_argument("--keep-past", type=int, default=30, help="past segments kept in s/")
    p.add_argument("--past", type=float, default=180.0,
                   help="seconds the air clock has been running at start")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between publishes")
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    site = Site(ARGS)
    # Publishes of the last `--past` seconds, back-dated, so the lag port has history.
    t0 = time.time()
    real_time = time.time
    for back in range(int(min(ARGS.past, ARGS.lag + 30)), 0, -int(max(1, ARGS.interval))):
        time.time = lambda b=back: real_time() - b
        site.tick()
    time.time = real_time
    site.tick()
    servers = [serve(site, ARGS.root_port, "root"), serve(site, ARGS.path_port, "path"),
               serve(site, ARGS.lag_port, "lag")]
    ports = [s.server_address[1] for s in servers]
    threading.Thread(target=site.run, daemon=True).start()
    print(json.dumps({
        "ready": True, "dir": ARGS.dir, "name": ARGS.name,
        "root": "http://127.0.0.1:%d/" % ports[0],
        "subdomain": "http://%s.ipns.localhost:%d/" % (ARGS.name, ports[0]),
        "path": "http://127.0.0.1:%d/ipns/%s/" % (ports[1], ARGS.name),
        "snapshot": "http://127.0.0.1:%d/ipfs/%s/" % (ports[1], FAKE_CID),
        "lag": "http://127.0.0.1:%d/ipns/%s/" % (ports[2], ARGS.name),
        "setup_seconds": round(time.time() - t0, 2),
    }), flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    site.stop.set()
    for s in servers:
        s.shutdown()


if __name__ == "__main__":
    main()
