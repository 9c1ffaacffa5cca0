#!/usr/bin/env python3
"""The listener page in Debian's headless Chromium against the mock site (mock_site.py).

    pip install selenium      # once; drives /usr/bin/chromium through /usr/bin/chromedriver
    python3 ui/listener/test/listen_test.py [--out DIR] [--long SECONDS]

Each case opens the page in a fresh browser profile (nothing cached from another case)
and checks what a listener gets:
  path       path gateway http://127.0.0.1:P/ipns/<name>/ with hls.js: plays at air time
             (playhead's program date time within 2 s of the wall clock), player "hls.js",
             next up filled, Media Session metadata, no CSP violation; the back buffer stays
             bounded; station.json failing for a while keeps playback and next up; light
             and dark screenshots
  subdomain  http://<name>.ipns.localhost:P/ (Chromium resolves *.localhost to loopback)
  root       http://127.0.0.1:P/ (the site at an origin's root)
  lag        a gateway serving a 100 s old view, past the lookahead: "N s behind live"
  frozen     the station stops publishing: the page says it waits, and catches up after
  snapshot   /ipfs/<cid>/: plays, and points at the live /ipns/ address
  native     MSE removed before the page loads: Chromium's own HLS player (audio.src)
  stub       MSE removed, canPlayType stubbed to "maybe": picks native, audio.src = the
             resolved live.m3u8
  none       MSE removed, canPlayType "": the page says this browser cannot play HLS
Prints one line per check and "N passed, N failed" at the end; exits 1 on a failure.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = {"passed": 0, "failed": 0}

STATE_JS = """
const s = window.listenerState || null;
const a = document.getElementById('audio');
const ms = navigator.mediaSession && navigator.mediaSession.metadata;
const b = [];
for (let i = 0; a && i < a.buffered.length; i++) b.push([a.buffered.start(i), a.buffered.end(i)]);
return {
  s: s ? JSON.parse(JSON.stringify(s)) : null,
  now: Date.now(),
  status: (document.getElementById('status') || {}).textContent || '',
  error: (document.getElementById('error') || {}).textContent || '',
  errorHidden: (document.getElementById('error') || {}).hidden,
  title: document.getElementById('station-title').textContent,
  ipns: document.getElementById('ipns-name').textContent,
  pageUrl: document.getElementById('page-url').href,
  streamUrl: document.getElementById('stream-url').href,
  snapshotHidden: document.getElementById('snapshot').hidden,
  snapshotLink: document.getElementById('snapshot-link').href,
  nextUp: Array.from(document.querySelectorAll('#next-up li')).map(li => li.textContent),
  programme: document.getElementById('programme').textContent,
  session: ms ? {title: ms.title, artist: ms.artist, album: ms.album} : null,
  sessionState: navigator.mediaSession ? navigator.mediaSession.playbackState : null,
  src: a ? a.src : null,
  buffered: b,
  csp: window.__csp || [],
};
"""

# Collects CSP violations from the first script on.
CSP_JS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e =>
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""
NO_MSE_JS = """
try { delete window.MediaSource; } catch (e) {}
try { delete window.ManagedMediaSource; } catch (e) {}
try { delete window.WebKitMediaSource; } catch (e) {}
Object.defineProperty(window, 'MediaSource', {value: undefined, configurable: true});
Object.defineProperty(window, 'ManagedMediaSource', {value: undefined, configurable: true});
"""
CAN_PLAY_JS = """
HTMLMediaElement.prototype.canPlayType = function (t) {
  return /mpegurl/i.test(t) ? %s : '';
};
"""


def check(ok, what, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("ok  " if ok else "FAIL", what, (": " + detail) if detail else ""),
          flush=True)
    return ok


class Browser:
    def __init__(self, out, name, scripts=()):
        self.profile = tempfile.mkdtemp(prefix="chromium-%s-" % name, dir=out)
        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run",
                  "--autoplay-policy=no-user-gesture-required",
                  "--window-size=760,1000", "--user-data-dir=" + self.profile]:
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.d = webdriver.Chrome(
            service=Service("/usr/bin/chromedriver",
                            log_output=os.path.join(out, "chromedriver-%s.log" % name)),
            options=o)
        for s in (CSP_JS,) + tuple(scripts):
            self.d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": s})

    def state(self):
        return self.d.execute_script(STATE_JS)

    def wait(self, pred, secs, what):
        t = time.time()
        while True:
            v = self.state()
            if pred(v):
                return v
            if time.time() - t > secs:
                print("   last state: %s" % json.dumps(v)[:1500])
                return None
            time.sleep(0.25)

    def shot(self, out, name, dark=False):
        self.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
        time.sleep(0.4)
        p = os.path.join(out, name + ".png")
        self.d.save_screenshot(p)
        return p

    def quit(self):
        try:
            self.d.quit()
        except Exception:
            pass


def playing(v):
    s = v["s"] or {}
    return bool(s.get("ready")) and (s.get("currentTime") or 0) > 0.5


def play_at_air(b, label, secs):
    """Plays `secs` of media, sampling every 0.5 s: returns (offsets, stalls, last state)."""
    v = b.wait(lambda v: playing(v) or (v["s"] or {}).get("fatal"), 40, label)
    if not check(v is not None and playing(v), label + ": starts playing",
                 v and (v["s"] or {}).get("fatal") or ""):
        return None
    first = v
    offs, stalls = [], 0
    mark = (time.time(), v["s"]["currentTime"])
    start = v["s"]["currentTime"]
    while True:
        time.sleep(0.5)
        v = b.state()
        s = v["s"]
        if s["fatal"]:
            check(False, label + ": no fatal error", s["fatal"])
            return None
        if s["playheadPdtMs"] is not None:
            offs.append((s["playheadPdtMs"] - v["now"]) / 1000.0)
        if time.time() - mark[0] >= 5:
            if s["currentTime"] - mark[1] < 3:
                stalls += 1
            mark = (time.time(), s["currentTime"])
        if s["currentTime"] - start >= secs:
            break
    worst = max(abs(o) for o in offs) if offs else None
    mean = sum(offs) / len(offs) if offs else None
    check(worst is not None and worst <= 2.0,
          "%s: playhead air time within 2 s of the wall clock" % label,
          "worst %.3f s, mean %+.3f s over %d samples, first %+.3f s" % (
              worst, mean, len(offs), offs[0]) if offs else "no program date time")
    check(stalls == 0, label + ": no stall", "%d stalls" % stalls)
    return {"first": first, "last": v, "worst": worst, "mean": mean}


def case_path(site, out, long_secs):
    b = Browser(out, "path")
    try:
        b.d.get(site["path"])
        r = play_at_air(b, "path", 20)
        if not r:
            return
        v = r["last"]
        s = v["s"]
        check(s["player"] == "hls.js", "path: player is hls.js", s["player"])
        check(len(s["nextUp"]) >= 1 and all(i.get("title") for i in s["nextUp"]),
              "path: listenerState.nextUp filled", json.dumps(s["nextUp"])[:300])
        check(len(v["nextUp"]) >= 1, "path: next up shown", " | ".join(v["nextUp"]))
        np = s["nowPlaying"] or ""
        check(np.startswith("Test - Tone ") or np.startswith("Other Artist - ")
              or np.startswith("Station ID"), "path: now playing", np)
        sess = v["session"] or {}
        check(bool(sess.get("title")) and sess.get("album") == "Night Shift FM"
              and np.endswith(sess.get("title", "?")),
              "path: Media Session metadata", json.dumps(sess))
        check(v["sessionState"] == "playing", "path: Media Session playbackState",
              str(v["sessionState"]))
        check(v["title"] == "Night Shift FM", "path: station name shown", v["title"])
        check(v["ipns"] == site["name"], "path: IPNS name shown", v["ipns"])
        check(v["pageUrl"] == site["path"] and v["streamUrl"] == site["path"] + "live.m3u8",
              "path: share links are the page's own", v["pageUrl"] + " " + v["streamUrl"])
        check(v["snapshotHidden"], "path: no fixed-copy notice")
        check(v["programme"].startswith("Test Pattern Hour") or
              v["programme"].startswith("Late Tones"), "path: programme block", v["programme"])
        check(v["status"] == "Live", "path: status says Live", v["status"])
        check(not v["csp"], "path: no CSP violation", "; ".join(v["csp"]))
        print("   %s" % b.shot(out, "path-light"))
        print("   %s" % b.shot(out, "path-dark", dark=True))
        b.shot(out, "path-light-again")

        # An item change reaches the Media Session (wait for the next item boundary).
        t = time.time()
        first_np = s["nowPlaying"]
        v2 = b.wait(lambda x: x["s"]["nowPlaying"] != first_np, 60, "item change")
        if check(v2 is not None, "path: now playing changes at the next item",
                 "%s -> %s" % (first_np, v2 and v2["s"]["nowPlaying"])):
            time.sleep(0.6)
            v2 = b.state()
            check((v2["s"]["nowPlaying"] or "").endswith((v2["session"] or {}).get("title", "?")),
                  "path: Media Session follows the item",
                  "%s / %s after %.1f s" % (v2["s"]["nowPlaying"], json.dumps(v2["session"]),
                                             time.time() - t))

        # station.json failing for 25 s: playback and next up go on.
        flag = os.path.join(site["dir"], ".fail-station")
        open(flag, "w").close()
        try:
            r2 = play_at_air(b, "path, station.json failing", 25)
            if r2:
                check(len(r2["last"]["s"]["nextUp"]) >= 1,
                      "path, station.json failing: next up kept", str(len(r2["last"]["s"]["nextUp"])))
        finally:
            os.remove(flag)

        # Pause and play again: back at the air time, not where it paused.
        b.d.find_element("id", "play").click()
        time.sleep(6)
        b.d.find_element("id", "play").click()
        r3 = play_at_air(b, "path, after a 6 s pause", 8)

        # Days-long playback: the back buffer stays bounded.
        if long_secs:
            play_at_air(b, "path, long run", long_secs)
            v = b.state()
            cur = v["s"]["currentTime"]
            kept = cur - min(x[0] for x in v["buffered"]) if v["buffered"] else 0
            ahead = max(x[1] for x in v["buffered"]) - cur if v["buffered"] else 0
            check(kept <= 60 + 3 * 5 + 5, "path, long run: back buffer bounded",
                  "at %.0f s: %.1f s behind the playhead kept, %.1f s ahead, ranges %s" % (
                      cur, kept, ahead, v["buffered"]))
    finally:
        b.quit()


def case_simple(site, out, name, url, secs=15):
    b = Browser(out, name)
    try:
        b.d.get(url)
        r = play_at_air(b, name, secs)
        if r:
            v = r["last"]
            check(v["s"]["player"] == "hls.js" and len(v["s"]["nextUp"]) >= 1
                  and v["ipns"] == site["name"], name + ": hls.js, next up, IPNS name",
                  "%s, %d next, %s" % (v["s"]["player"], len(v["s"]["nextUp"]), v["ipns"]))
            check(v["pageUrl"] == url and v["streamUrl"] == url + "live.m3u8",
                  name + ": share links", v["pageUrl"] + " " + v["streamUrl"])
            check(not v["csp"], name + ": no CSP violation", "; ".join(v["csp"]))
            b.shot(out, name)
        return r
    finally:
        b.quit()


def case_lag(site, out):
    b = Browser(out, "lag")
    try:
        b.d.get(site["lag"])
        v = b.wait(playing, 40, "lag")
        if not check(v is not None, "lag: starts playing"):
            return
        time.sleep(3)
        v = b.state()
        behind = v["s"]["behindLiveSeconds"]
        check(behind is not None and 85 <= behind <= 120 and "s behind live" in v["status"],
              "lag: 100 s old view, past the lookahead: behind live shown",
              "%.1f s, status %r" % (behind or -1, v["status"]))
        b.shot(out, "lag")
    finally:
        b.quit()


def case_snapshot(site, out):
    b = Browser(out, "snapshot")
    try:
        b.d.get(site["snapshot"])
        v = b.wait(playing, 40, "snapshot")
        if not check(v is not None, "snapshot: plays"):
            return
        check(not v["snapshotHidden"] and v["snapshotLink"] == site["path"]
              and v["pageUrl"] == site["path"],
              "snapshot: points at the live site", "%s %s" % (v["snapshotLink"], v["pageUrl"]))
        b.shot(out, "snapshot")
    finally:
        b.quit()


def case_native(site, out):
    """Chromium's own HLS player: it starts 3 segments before the playlist's end (ignoring
    #EXT-X-START) and cannot seek a live stream, so the page cannot bring it to the air
    time; it must still know the air time it plays (anchor), keep it steady, and say so."""
    b = Browser(out, "native", [NO_MSE_JS])
    try:
        b.d.get(site["path"])
        v = b.wait(lambda v: (v["s"] or {}).get("fatal") or
                   ((v["s"] or {}).get("player") and v["src"]), 20, "native")
        check(v is not None and v["s"]["player"] == "native" and
              v["src"] == site["path"] + "live.m3u8",
              "native: MSE removed -> the browser's HLS player, audio.src = live.m3u8",
              v and "%s %s" % (v["s"]["player"], v["src"]) or "")
        v = b.wait(lambda v: playing(v) and v["s"]["playheadPdtMs"] is not None, 40, "native")
        if not check(v is not None, "native: plays, playhead air time known",
                     v and "anchor by %s" % v["s"]["anchor"] or ""):
            return
        offs = []
        t = time.time()
        while time.time() - t < 20:
            time.sleep(0.5)
            x = b.state()
            if x["s"]["fatal"]:
                check(False, "native: no fatal error", x["s"]["fatal"])
                return
            offs.append((x["s"]["playheadPdtMs"] - x["now"]) / 1000.0)
        spread = max(offs) - min(offs)
        mean = sum(offs) / len(offs)
        check(spread < 1.0, "native: the air-time offset holds steady",
              "mean %+.2f s, spread %.2f s over %d samples, anchor by %s" % (
                  mean, spread, len(offs), x["s"]["anchor"]))
        check(mean <= 2 or "ahead of the air time" in x["status"],
              "native: the page says how far from the air time", x["status"])
        np = x["s"]["nowPlaying"] or ""
        check(bool(np) and (x["session"] or {}).get("title") and len(x["s"]["nextUp"]) >= 1,
              "native: now playing, Media Session and next up",
              "%s / %s" % (np, json.dumps(x["session"])))
        print("   native first fetches: %s" % json.dumps(b.d.execute_script(
            "return performance.getEntriesByType('resource').filter(e => /\\.ts$/.test(e.name))"
            ".slice(0, 4).map(e => e.name.split('/').pop())")))
        b.shot(out, "native")

        # Paused 15 s: on play, the page's anchor follows the player back to its live point.
        b.d.find_element("id", "play").click()
        time.sleep(15)
        b.d.find_element("id", "play").click()
        x = b.wait(lambda v: playing(v) and v["s"]["anchor"] and not v["s"]["fatal"]
                   and v["s"]["airOffsetSeconds"] is not None, 30, "native resume")
        time.sleep(2)
        x = b.state()
        off = x["s"]["airOffsetSeconds"]
        # Chromium's player goes back to its live point by itself when resumed (the page
        # reloads players that do not); left where it paused, it would be at mean - 15.
        # Where it lands varies with the last 3 segments' lengths (up to one segment).
        check(off is not None and abs(off - mean) < 5,
              "native: after a 15 s pause, back at the player's live point (not 15 s back)",
              "offset %+.2f s (before the pause %+.2f s)" % (off if off is not None else 0, mean))
    finally:
        b.quit()


def case_frozen(site, out):
    """The station stops publishing: the page plays out the lookahead, then says it waits;
    once publishing resumes it plays again and catches up with the air time."""
    b = Browser(out, "frozen")
    flag = os.path.join(site["dir"], ".freeze")
    try:
        b.d.get(site["path"])
        if not check(b.wait(playing, 40, "frozen") is not None, "frozen: starts playing"):
            return
        open(flag, "w").close()
        t = time.time()
        v = b.wait(lambda v: "Waiting for the stream" in v["status"], 120, "frozen")
        check(v is not None, "frozen: says it waits once the lookahead is played out",
              v and "after %.0f s: %r" % (time.time() - t, v["status"]) or "")
        if v:
            b.shot(out, "frozen")
        os.remove(flag)
        t = time.time()
        v = b.wait(lambda v: (v["s"]["behindLiveSeconds"] or 99) < 2 and v["status"] == "Live",
                   60, "frozen recovery")
        check(v is not None, "frozen: publishing again -> plays and catches up the air time",
              v and "after %.1f s, %.2f s behind" % (time.time() - t, v["s"]["behindLiveSeconds"])
              or "")
    finally:
        if os.path.exists(flag):
            os.remove(flag)
        b.quit()


def case_stub(site, out):
    b = Browser(out, "stub", [NO_MSE_JS, CAN_PLAY_JS % "'maybe'"])
    try:
        b.d.get(site["subdomain"])
        v = b.wait(lambda v: (v["s"] or {}).get("player") is not None and v["src"], 20, "stub")
        check(v is not None and v["s"]["player"] == "native" and
              v["src"] == site["subdomain"] + "live.m3u8",
              "stub: canPlayType 'maybe', no MSE -> native, audio.src resolved",
              v and "%s %s" % (v["s"]["player"], v["src"]) or "")
    finally:
        b.quit()


def case_none(site, out):
    b = Browser(out, "none", [NO_MSE_JS, CAN_PLAY_JS % "''"])
    try:
        b.d.get(site["path"])
        v = b.wait(lambda v: (v["s"] or {}).get("fatal"), 20, "none")
        check(v is not None and "cannot play HLS" in v["error"] and not v["errorHidden"]
              and v["s"]["player"] is None,
              "none: no MSE, no native HLS -> says so", v and v["error"] or "")
        if v:
            b.shot(out, "no-hls-light")
            b.shot(out, "no-hls-dark", dark=True)
    finally:
        b.quit()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None, help="screenshots and logs (default: a temp dir)")
    p.add_argument("--long", type=float, default=100, help="seconds of the long run (0: skip)")
    p.add_argument("--only", default=None, help="comma-separated cases")
    a = p.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="listener-test-")
    os.makedirs(out, exist_ok=True)
    site_dir = os.path.join(out, "site")
    mock = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "mock_site.py"), "--dir", site_dir],
        stdout=subprocess.PIPE, stderr=open(os.path.join(out, "mock.log"), "w"), text=True)
    try:
        line = mock.stdout.readline()
        site = json.loads(line)
        print("mock site: %s" % json.dumps(site), flush=True)
        only = set(a.only.split(",")) if a.only else None
        cases = [
            ("path", lambda: case_path(site, out, a.long)),
            ("subdomain", lambda: case_simple(site, out, "subdomain", site["subdomain"])),
            ("root", lambda: case_simple(site, out, "root", site["root"])),
            ("lag", lambda: case_lag(site, out)),
            ("snapshot", lambda: case_snapshot(site, out)),
            ("frozen", lambda: case_frozen(site, out)),
            ("native", lambda: case_native(site, out)),
            ("stub", lambda: case_stub(site, out)),
            ("none", lambda: case_none(site, out)),
        ]
        for name, f in cases:
            if only and name not in only:
                continue
            print("== %s" % name, flush=True)
            try:
                f()
            except Exception as e:
                check(False, name + ": ran", repr(e))
    finally:
        mock.terminate()
        mock.wait(10)
    print("screenshots and logs: %s" % out)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    sys.exit(1 if RESULTS["failed"] else 0)


if __name__ == "__main__":
    main()
