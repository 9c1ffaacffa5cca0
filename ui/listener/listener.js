// IPFS Station listener page.
//
// The station publishes its SITE as one directory under its IPNS name, so that one link,
// https://<gateway>/ipns/<name>/, works on path gateways AND on subdomain gateways
// (https://<name>.ipns.<gateway>/, where absolute /ipns/... or /ipfs/... paths break):
//
//   index.html listener.js style.css vendor/hls.min.js   this page
//   live.m3u8      the live window, segment URIs relative ("s/<media sequence>.ts")
//   station.json   refreshed with every publish (shape below)
//   s/<seq>.ts     the window's segments
//
// So everything here is RELATIVE to the page's own URL: station.json, the stream
// (station.stream, default live.m3u8) and, inside the playlist, the segments. Nothing is
// fetched from anywhere but the page's own origin (the CSP in index.html says so too).
//
// station.json (format 1; any field may be missing, old pages' {"ipns_name", "title"} too):
//   {"format": 1, "station": "Night Shift FM", "ipns_name": "k51...", "stream": "live.m3u8",
//    "updated_at": "RFC 3339",
//    "now_playing": {"title", "artist" (or null), "kind": "track"|"jingle",
//                    "air_start": "RFC 3339", "duration": seconds},
//    "next_up": [items as now_playing], "programme": [{"block", "start", "end"}],
//    "history": [items as now_playing]}
// It is read again every 10 s; a failed read keeps the last one and never stops playback.
//
// Starting at the TRUE AIR TIME: the live playlist carries #EXT-X-PROGRAM-DATE-TIME (air
// time) on every segment and reaches well past the air point (its lookahead keeps
// listeners playing while a new IPNS record propagates), so a player's default "live
// edge" would be minutes ahead of the air. On the first playlist the page starts at the
// segment whose air time covers the wall clock, at the right offset into it; when the
// whole playlist is in the past (a gateway serving an old record) it starts at
// #EXT-X-START (RFC 8216 4.3.5.2: a negative TIME-OFFSET counts from the end) and says how
// far behind live that is.
//
// Players: hls.js over Media Source Extensions (or ManagedMediaSource, iOS Safari 17.1+)
// wherever the browser has them; the browser's own HLS player (audio.src = the playlist)
// where it has none but plays HLS natively (older iOS Safari); otherwise a clear message.
//
// window.listenerState (for tests and the curious), updated every 250 ms:
//   {ready, fatal: null|string, currentTime, playheadPdtMs, behindLiveSeconds,
//    nowPlaying: "Artist - Title"|null, nextUp: [{title, artist, kind, air_start,
//    duration}], player: "hls.js"|"native"|null, station: name|null,
//    airOffsetSeconds: playhead's air time minus the wall clock (negative: behind),
//    anchor: how the native player's media time was tied to air time, or null}
// window.listenerPage holds the page's pure helpers (parsing, choices), for unit tests.
(function () {
  'use strict';

  var TICK_MS = 250;
  var STATION_REFRESH_MS = 10000;
  // Behind the air by more than this is shown as "N s behind live".
  var BEHIND_SHOWN_S = 3;
  // Wanting to play but no audio for this long: say so (the stream may have stopped).
  var STALL_SHOWN_S = 12;
  // Playing this far behind the air time (after a stall) while the air point is in the
  // playlist: jump back to the air time, as a radio does after a dropout; at most every
  // CATCH_UP_EVERY_MS.
  var CATCH_UP_S = 10;
  var CATCH_UP_EVERY_MS = 20000;
  var DEFAULT_STREAM = 'live.m3u8';
  var NEXT_UP_SHOWN = 3;
  // MIME types a native HLS player answers to (canPlayType non-empty).
  var HLS_TYPES = ['application/vnd.apple.mpegurl', 'audio/mpegurl', 'application/x-mpegurl'];
  // hls.js buffers, for listening for days: keep at most 60 s behind the playhead (older
  // audio is evicted from the SourceBuffer as it plays, so memory stays flat), and fetch
  // up to 60 s ahead (about 1 MB at 128 kbit/s: rides out a slow gateway for a minute;
  // the playlist's lookahead means those segments already exist). Native players manage
  // their own buffers.
  var HLS_BUFFER = {
    backBufferLength: 60,
    maxBufferLength: 60,
    maxMaxBufferLength: 120,
    maxBufferSize: 8 * 1000 * 1000
  };

  // ---------------------------------------------------------------------------------
  // Pure helpers (no DOM, no globals): exported as window.listenerPage for tests.

  function isNum(x) {
    return typeof x === 'number' && isFinite(x);
  }

  function str(x) {
    return typeof x === 'string' && x.trim() ? x.trim() : null;
  }

  function parseTime(x) {
    if (typeof x !== 'string') {
      return null;
    }
    var ms = Date.parse(x);
    return isFinite(ms) ? ms : null;
  }

  // An RFC 8216 media playlist: {targetDuration, mediaSequence, startOffset, endList,
  // totalDuration, segments: [{seq, uri, duration, title, pdt (ms or null), start (s from
  // the playlist's first segment)}]}, or null when `text` is not a playlist. Segments
  // without their own #EXT-X-PROGRAM-DATE-TIME get the previous one's end (4.3.2.6).
  function parsePlaylist(text) {
    if (typeof text !== 'string') {
      return null;
    }
    var lines = text.split(/\r?\n/);
    if (!lines.length || lines[0].replace(/^\uFEFF/, '').trim() !== '#EXTM3U') {
      return null;
    }
    var pl = {
      targetDuration: null,
      mediaSequence: 0,
      startOffset: null,
      endList: false,
      totalDuration: 0,
      segments: []
    };
    var dur = null;
    var title = '';
    var pdt = null;
    var nextPdt = null;
    for (var i = 1; i < lines.length; i++) {
      var l = lines[i].trim();
      if (!l) {
        continue;
      }
      if (l.charAt(0) === '#') {
        var colon = l.indexOf(':');
        var tag = colon < 0 ? l : l.slice(0, colon);
        var val = colon < 0 ? '' : l.slice(colon + 1);
        if (tag === '#EXTINF') {
          var comma = val.indexOf(',');
          var d = parseFloat(comma < 0 ? val : val.slice(0, comma));
          dur = isFinite(d) && d >= 0 ? d : null;
          title = comma < 0 ? '' : val.slice(comma + 1).trim();
        } else if (tag === '#EXT-X-PROGRAM-DATE-TIME') {
          pdt = parseTime(val.trim());
        } else if (tag === '#EXT-X-TARGETDURATION') {
          var t = parseFloat(val);
          pl.targetDuration = isFinite(t) ? t : null;
        } else if (tag === '#EXT-X-MEDIA-SEQUENCE') {
          var s = parseInt(val, 10);
          pl.mediaSequence = isFinite(s) ? s : 0;
        } else if (tag === '#EXT-X-START') {
          var m = /(?:^|,)TIME-OFFSET=(-?[0-9]+(?:\.[0-9]*)?)/.exec(val);
          pl.startOffset = m ? parseFloat(m[1]) : null;
        } else if (tag === '#EXT-X-ENDLIST') {
          pl.endList = true;
        }
        continue;
      }
      var segDur = dur === null ? 0 : dur;
      var segPdt = pdt !== null ? pdt : nextPdt;
      pl.segments.push({
        seq: pl.mediaSequence + pl.segments.length,
        uri: l,
        duration: segDur,
        title: title,
        pdt: segPdt,
        start: pl.totalDuration
      });
      pl.totalDuration += segDur;
      nextPdt = segPdt === null ? null : segPdt + segDur * 1000;
      dur = null;
      title = '';
      pdt = null;
    }
    return pl;
  }

  // hls.js fragments as the segments parsePlaylist gives.
  function fromFragments(frags) {
    var out = [];
    for (var i = 0; i < (frags || []).length; i++) {
      var f = frags[i];
      out.push({
        seq: f.sn,
        duration: f.duration,
        title: f.title || '',
        pdt: isNum(f.programDateTime) ? f.programDateTime : null,
        start: f.start
      });
    }
    return out;
  }

  function segmentAt(segs, time) {
    for (var i = 0; i < segs.length; i++) {
      var s = segs[i];
      if (time >= s.start && time < s.start + s.duration) {
        return s;
      }
    }
    return null;
  }

  function segmentAtPdt(segs, ms) {
    for (var i = 0; i < segs.length; i++) {
      var s = segs[i];
      if (s.pdt !== null && ms >= s.pdt && ms < s.pdt + s.duration * 1000) {
        return s;
      }
    }
    return null;
  }

  // Where to start in a playlist's segments at wall-clock `nowMs`: {pos (media time, or
  // null for the player's own default), fellBack (true when the air point is past the
  // playlist's end and #EXT-X-START was used)}.
  function startPosition(segs, nowMs, startOffset) {
    var s = segmentAtPdt(segs, nowMs);
    if (s) {
      return { pos: s.start + (nowMs - s.pdt) / 1000, fellBack: false };
    }
    for (var i = 0; i < segs.length; i++) {
      if (segs[i].pdt !== null) {
        if (nowMs < segs[i].pdt) {
          // The listener's clock is behind the station's: start at the first air time.
          return { pos: segs[i].start, fellBack: false };
        }
        break;
      }
    }
    if (!segs.length) {
      return { pos: null, fellBack: true };
    }
    var first = segs[0].start;
    var last = segs[segs.length - 1];
    var end = last.start + last.duration;
    if (isNum(startOffset)) {
      var pos = startOffset < 0 ? end + startOffset : first + startOffset;
      return { pos: Math.min(Math.max(first, pos), end), fellBack: true };
    }
    return { pos: null, fellBack: true };
  }

  // Which player this browser gets: {player: "hls.js"|"native"|null, reason}. hls.js
  // wherever Media Source Extensions are (more control: it starts at the air time to the
  // millisecond); the browser's own HLS player where they are not (iOS Safari before
  // 17.1); null when neither (reason "no-library" when only hls.js failed to load).
  function choosePlayer(win, audio) {
    var Hls = win.Hls;
    var mse = !!(win.MediaSource || win.ManagedMediaSource || win.WebKitMediaSource);
    if (mse && Hls && typeof Hls.isSupported === 'function' && Hls.isSupported()) {
      return { player: 'hls.js', reason: null };
    }
    if (nativeHls(audio)) {
      return { player: 'native', reason: null };
    }
    if (mse && !Hls) {
      return { player: null, reason: 'no-library' };
    }
    return { player: null, reason: 'no-hls' };
  }

  function nativeHls(audio) {
    if (!audio || typeof audio.canPlayType !== 'function') {
      return false;
    }
    for (var i = 0; i < HLS_TYPES.length; i++) {
      try {
        if (audio.canPlayType(HLS_TYPES[i])) {
          return true;
        }
      } catch (e) {
        // Not a media element after all.
      }
    }
    return false;
  }

  // The folder the page lives in (its own URL without index.html, query or fragment):
  // what everything is resolved against.
  function pageBase(href) {
    return new URL('./', href).href;
  }

  // The stream's URL: station.json's "stream" resolved against the page, as long as it
  // stays on the page's origin (the CSP allows nothing else); else live.m3u8.
  function streamUrl(href, stream) {
    var base = pageBase(href);
    var s = str(stream);
    if (s) {
      try {
        var u = new URL(s, base);
        if (u.origin === new URL(base).origin) {
          return u.href;
        }
      } catch (e) {
        // Not a URL: the default.
      }
    }
    return new URL(DEFAULT_STREAM, base).href;
  }

  // The IPNS name in the page's own address, if any: /ipns/<name>/ on a path gateway,
  // <name>.ipns.<gateway> on a subdomain gateway.
  function nameFromLocation(href) {
    var u = new URL(href);
    var m = /^\/ipns\/([^/]+)\//.exec(u.pathname);
    if (m) {
      return decodeURIComponent(m[1]);
    }
    var h = /^([^.]+)\.ipns\./.exec(u.hostname);
    return h ? h[1] : null;
  }

  // The link to share: the live site. That is this page's own folder, unless the page was
  // opened as a fixed copy (/ipfs/<cid>/ on a path gateway, <cid>.ipfs.<gateway> on a
  // subdomain one), which never changes: then the live site is the same gateway's address
  // for the IPNS name, built the way the page's own address is built.
  // {url, snapshot: true when the page is such a fixed copy}.
  function liveSiteUrl(href, ipnsName) {
    var base = new URL(pageBase(href));
    var name = str(ipnsName);
    var path = /^\/ipfs\/[^/]+\//.test(base.pathname);
    var sub = /^[^.]+\.ipfs\.(.+)$/.exec(base.hostname);
    if (path) {
      return {
        url: name ? base.origin + '/ipns/' + encodeURIComponent(name) + '/' : base.href,
        snapshot: true
      };
    }
    if (sub) {
      if (!name) {
        return { url: base.href, snapshot: true };
      }
      // DNSLink names are inlined as one DNS label: "-" -> "--", "." -> "-".
      var label = name.indexOf('.') >= 0
        ? name.replace(/-/g, '--').replace(/\./g, '-') : name;
      return {
        url: base.protocol + '//' + label + '.ipns.' + sub[1] + (base.port ? ':' + base.port : '') + '/',
        snapshot: true
      };
    }
    return { url: base.href, snapshot: false };
  }

  function normItem(o) {
    if (!o || typeof o !== 'object') {
      return null;
    }
    var title = str(o.title);
    var artist = str(o.artist);
    if (!title && !artist) {
      return null;
    }
    var dur = isNum(o.duration) && o.duration >= 0 ? o.duration : null;
    return {
      title: title || artist,
      artist: title ? artist : null,
      kind: str(o.kind) || 'track',
      airStartMs: parseTime(o.air_start),
      duration: dur,
      raw: {
        title: title || artist,
        artist: title ? artist : null,
        kind: str(o.kind) || 'track',
        air_start: typeof o.air_start === 'string' ? o.air_start : null,
        duration: dur
      }
    };
  }

  function normList(a) {
    var out = [];
    if (Array.isArray(a)) {
      for (var i = 0; i < a.length; i++) {
        var it = normItem(a[i]);
        if (it) {
          out.push(it);
        }
      }
    }
    return out;
  }

  // station.json, made safe to use: {name, ipnsName, stream, nowPlaying, nextUp, items
  // (history + now playing + next up, with air times, in air order), programme}.
  function normStation(raw) {
    raw = raw && typeof raw === 'object' ? raw : {};
    var name = str(raw.station) || str(raw.title);
    var ipns = str(raw.ipns_name);
    var np = normItem(raw.now_playing);
    var next = normList(raw.next_up);
    var items = normList(raw.history).concat(np ? [np] : [], next)
      .filter(function (it) { return it.airStartMs !== null; })
      .sort(function (a, b) { return a.airStartMs - b.airStartMs; });
    var programme = [];
    if (Array.isArray(raw.programme)) {
      for (var i = 0; i < raw.programme.length; i++) {
        var p = raw.programme[i] || {};
        var block = str(p.block) || str(p.name);
        var start = parseTime(p.start);
        var end = parseTime(p.end);
        if (block && start !== null && end !== null) {
          programme.push({ block: block, start: start, end: end });
        }
      }
    }
    return {
      name: name,
      ipnsName: ipns && /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(ipns) ? ipns : null,
      stream: str(raw.stream),
      nowPlaying: np,
      nextUp: next,
      items: items,
      programme: programme
    };
  }

  // The station.json item on air at air time `ms`, or null.
  function itemAt(items, ms) {
    if (ms === null) {
      return null;
    }
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var end = it.duration !== null ? it.airStartMs + it.duration * 1000
        : (i + 1 < items.length ? items[i + 1].airStartMs : it.airStartMs);
      if (ms >= it.airStartMs && ms < end) {
        return it;
      }
    }
    return null;
  }

  // The items after air time `ms`: from the timed items when there are any, else
  // station.json's next_up as it is.
  function upcoming(st, ms, n) {
    if (!st) {
      return [];
    }
    if (!st.items.length || ms === null) {
      return st.nextUp.slice(0, n);
    }
    var cur = itemAt(st.items, ms);
    var out = [];
    for (var i = 0; i < st.items.length && out.length < n; i++) {
      var it = st.items[i];
      if (it !== cur && it.airStartMs > ms) {
        out.push(it);
      }
    }
    return out;
  }

  function blockAt(programme, ms) {
    for (var i = 0; i < programme.length; i++) {
      if (ms >= programme[i].start && ms < programme[i].end) {
        return programme[i];
      }
    }
    return null;
  }

  // "Artist - Title" (the #EXTINF form) of an item; the title alone without an artist.
  function itemLabel(it) {
    return it.artist ? it.artist + ' - ' + it.title : it.title;
  }

  // An #EXTINF title "Artist - Title" split for display: {title, artist}.
  function splitExtinf(t) {
    var i = t.indexOf(' - ');
    if (i > 0 && i < t.length - 3) {
      return { artist: t.slice(0, i), title: t.slice(i + 3) };
    }
    return { artist: null, title: t };
  }

  var api = {
    parsePlaylist: parsePlaylist,
    startPosition: startPosition,
    choosePlayer: choosePlayer,
    pageBase: pageBase,
    streamUrl: streamUrl,
    nameFromLocation: nameFromLocation,
    liveSiteUrl: liveSiteUrl,
    normStation: normStation,
    itemAt: itemAt,
    upcoming: upcoming,
    itemLabel: itemLabel,
    splitExtinf: splitExtinf
  };
  if (typeof module === 'object' && module && module.exports) {
    module.exports = api;
  }
  if (typeof window === 'undefined' || typeof document === 'undefined') {
    return;
  }
  window.listenerPage = api;

  // ---------------------------------------------------------------------------------
  // The page.

  var state = {
    ready: false,
    fatal: null,
    currentTime: 0,
    playheadPdtMs: null,
    behindLiveSeconds: null,
    nowPlaying: null,
    nextUp: [],
    player: null,
    station: null,
    airOffsetSeconds: null,
    anchor: null
  };
  window.listenerState = state;

  var el = {};
  var audio = null;
  var station = null; // normStation(...) of the last station.json read
  var ipnsName = null;
  var stream = null; // the stream's absolute URL
  var player = null; // {kind, segments(), playheadPdt(), resync(), stop()}
  var started = false;
  var fellBackToStart = false;
  var wantPlay = false;
  var pausedAt = null;
  var progress = { time: 0, at: Date.now() };
  var shownBehind = null;
  var caughtUpAt = 0;
  var sessionKey = null;
  var nextUpKey = null;

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(node, text) {
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
  }

  function setHidden(node, hidden) {
    if (node && node.hidden !== hidden) {
      node.hidden = hidden;
    }
  }

  function setStatus(text) {
    setText(el.status, text);
  }

  function displayName() {
    return ipnsName || 'the station\u2019s IPNS name';
  }

  // A fatal problem: the stream cannot be played; say so in words a listener understands.
  function fail(message) {
    state.fatal = message;
    state.ready = false;
    setText(el.error, message);
    setHidden(el.error, false);
    setStatus('Not playing');
    el.liveDot.classList.remove('on');
    el.play.disabled = true;
    if (player) {
      try {
        player.stop();
      } catch (e) {
        // Already torn down.
      }
    }
  }

  function describeHttp(code, what) {
    if (code === 404 || code === 410) {
      return 'The stream was not found (HTTP ' + code + ' for ' + stream + '): this site has ' +
        'no live playlist. The station may be off the air.';
    }
    if (code === 500 || code === 502 || code === 503 || code === 504) {
      return 'This gateway cannot resolve ' + displayName() + ' right now (HTTP ' + code +
        ' for ' + stream + '). The station may be off the air; try again later.';
    }
    if (code) {
      return 'The stream cannot be loaded: HTTP ' + code + ' (' + what + ').';
    }
    return 'The stream cannot be loaded: the gateway did not answer (' + what + ').';
  }

  function play() {
    wantPlay = true;
    var p = audio.play();
    if (p && typeof p.catch === 'function') {
      p.catch(function (e) {
        if (e && e.name === 'NotAllowedError') {
          wantPlay = false;
          setStatus('Press Play to listen.');
        } else if (e && e.name !== 'AbortError') {
          setStatus('Cannot start playback: ' + (e.message || e.name));
        }
      });
    }
  }

  function pause() {
    wantPlay = false;
    audio.pause();
  }

  // Play (from the button or the system's media controls). Back from a pause, a radio
  // plays what is on air now, not what was on when it was paused.
  function resume() {
    if (state.fatal || !player) {
      return;
    }
    if (pausedAt !== null) {
      player.resync();
    }
    pausedAt = null;
    play();
  }

  function canStart() {
    el.play.disabled = false;
    setStatus('Buffering\u2026');
    play();
  }

  // ---------------------------------------------------------------------------------
  // hls.js

  function startHlsJs(Hls) {
    var hls;
    var parsed = false;
    var firstDetails = null;
    var mediaRecoveries = 0;

    function segments() {
      var d = hls.latestLevelDetails;
      if (!d && hls.levels && hls.levels.length) {
        var lvl = hls.levels[Math.max(hls.currentLevel, 0)];
        d = lvl && lvl.details;
      }
      return fromFragments(d && d.fragments);
    }

    // First playlist: start loading at the air point, or at #EXT-X-START when the air
    // point is past the playlist's end (a gateway serving an old record).
    function onFirstLevel(details) {
      var segs = fromFragments(details.fragments);
      var start = startPosition(segs, Date.now(), details.startTimeOffset);
      fellBackToStart = start.fellBack;
      if (start.pos !== null && segs.length) {
        // hls.js's own idea of the live point (used if the playhead ever falls out of the
        // window, e.g. after a long stall) is 3 target durations before the end: minutes
        // ahead of the air. Tell it how far from this gateway's playlist end we start.
        var last = segs[segs.length - 1];
        try {
          hls.targetLatency = Math.max(0, last.start + last.duration - start.pos);
        } catch (e) {
          // An hls.js without the setter: its default.
        }
      }
      hls.startLoad(start.pos === null ? -1 : start.pos);
      canStart();
    }

    function onError(_event, data) {
      if (!data || !data.fatal) {
        return;
      }
      // A decode hiccup: hls.js can rebuild the media pipeline once or twice.
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
        mediaRecoveries += 1;
        hls.recoverMediaError();
        return;
      }
      var what = data.details || data.type || 'error';
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        var code = null;
        var r = data.response;
        if (r && isNum(r.code) && r.code > 0) {
          code = r.code;
        } else if (data.networkDetails && isNum(data.networkDetails.status) &&
          data.networkDetails.status > 0) {
          code = data.networkDetails.status;
        }
        if (data.details === Hls.ErrorDetails.LEVEL_PARSING_ERROR ||
          data.details === Hls.ErrorDetails.MANIFEST_PARSING_ERROR) {
          // A playlist that arrived but breaks RFC 8216 (or contradicts the last one).
          var why = String(data.reason || (data.error && data.error.message) || what);
          fail('The station\u2019s playlist cannot be played: ' + why.split('\n')[0] + '.');
        } else {
          fail(describeHttp(code, what));
        }
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        fail('This browser cannot decode the stream (' + what + ').');
      } else {
        fail('The stream stopped: ' + what + (data.reason ? ' (' + data.reason + ')' : '') + '.');
      }
    }

    hls = new Hls({
      autoStartLoad: false,
      // No worker: hls.js's inline worker needs a blob: script, which the CSP forbids, and
      // its worker file (vendor/hls.worker.js, workerPath) made a listener on a cold
      // gateway fall 6 s behind air time in the listener tests (hls.js 1.7.4).
      enableWorker: false,
      lowLatencyMode: false,
      // The station has no interstitials; hls.js's interstitials controller would call
      // startLoad(0) on its own when the primary timeline attaches, racing ours.
      enableInterstitialPlayback: false,
      backBufferLength: HLS_BUFFER.backBufferLength,
      maxBufferLength: HLS_BUFFER.maxBufferLength,
      maxMaxBufferLength: HLS_BUFFER.maxMaxBufferLength,
      maxBufferSize: HLS_BUFFER.maxBufferSize,
      // Keep loading the playlist if a reload fails for a while (IPNS is slow at times).
      manifestLoadPolicy: {
        default: {
          maxTimeToFirstByteMs: Infinity,
          maxLoadTimeMs: 20000,
          timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
          errorRetry: { maxNumRetry: 1, retryDelayMs: 1000, maxRetryDelayMs: 8000 }
        }
      },
      playlistLoadPolicy: {
        default: {
          maxTimeToFirstByteMs: 10000,
          maxLoadTimeMs: 20000,
          timeoutRetry: { maxNumRetry: 4, retryDelayMs: 0, maxRetryDelayMs: 0 },
          errorRetry: { maxNumRetry: 6, retryDelayMs: 1000, maxRetryDelayMs: 8000 }
        }
      }
    });
    hls.on(Hls.Events.ERROR, onError);
    // Start once the playlist is parsed AND its first load is in: a media playlist given
    // as the source is loaded as the manifest, and LEVEL_LOADED can come before
    // MANIFEST_PARSED (when startLoad would be deferred and its position dropped).
    function maybeStart() {
      if (!started && parsed && firstDetails) {
        started = true;
        onFirstLevel(firstDetails);
      }
    }
    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      parsed = true;
      maybeStart();
    });
    hls.on(Hls.Events.LEVEL_LOADED, function (_e, data) {
      if (data && data.details) {
        // The newest one: time may have passed between the two events.
        firstDetails = data.details;
        maybeStart();
      }
    });
    hls.attachMedia(audio);
    hls.loadSource(stream);

    return {
      kind: 'hls.js',
      segments: segments,
      playheadPdt: function () {
        var d = hls.playingDate;
        if (d && isFinite(d.getTime())) {
          return d.getTime();
        }
        var s = segmentAt(segments(), audio.currentTime);
        return s && s.pdt !== null ? s.pdt + (audio.currentTime - s.start) * 1000 : null;
      },
      resync: function () {
        var s = startPosition(segments(), Date.now(), null);
        if (!s.fellBack && s.pos !== null && Math.abs(s.pos - audio.currentTime) > 1) {
          audio.currentTime = s.pos;
        }
      },
      stop: function () {
        hls.stopLoad();
      }
    };
  }

  // ---------------------------------------------------------------------------------
  // The browser's own HLS player (iOS Safari without ManagedMediaSource, and any browser
  // that plays HLS but has no MSE).
  //
  // What native players do: they fetch and reload the playlist themselves and keep their
  // own buffers. Where they start a live playlist (no #EXT-X-ENDLIST) is theirs to choose:
  // Safari (AVFoundation) honours #EXT-X-START, which the station points at the air
  // point; others start about three segments before the end (RFC 8216 6.3.3), which is
  // the END of the station's lookahead, minutes ahead of the air (Chromium's own HLS
  // player does that: measured 3 segments from the end). Safari exposes the live window
  // as audio.seekable and getStartDate(), the air time (#EXT-X-PROGRAM-DATE-TIME) of
  // media time 0; Chromium's gives neither (seekable is empty: it cannot seek a live
  // stream at all). A media fragment (#t=) is no help: it is an offset into the media,
  // and a live stream's offsets are unknown before it loads.
  //
  // So the page fetches live.m3u8 itself too (a few KB, again every target duration, for
  // the air times and titles) and ties the player's media time to air time, an "anchor",
  // from the best evidence there is: getStartDate(); else the furthest segment the player
  // fetched (Resource Timing lists the media element's fetches), whose end is the end of
  // what the player buffered; else the seekable range lined up with the page's copy of the
  // playlist (both start at its first segment). Where the player can seek, the page then
  // seeks it to the air point, on metadata and again on "playing" (iOS ignores seeks before
  // the first play a listener started) and after a pause. Where it cannot, the page plays
  // where the player started and says how far that is from the air time. The playhead's
  // air time is the anchor plus the media time played since.
  function startNative() {
    var known = []; // segments seen in the page's copies of the playlist, oldest first
    var byUrl = {}; // the same, by absolute URL
    var ownFirst = null; // the first segment of the page's newest copy
    var ownStatus = null; // the HTTP status of the last fetch of the playlist
    var ownTarget = null; // its #EXT-X-TARGETDURATION
    var anchor = null; // {time, pdt, how}: media time `time` has air time `pdt`
    var candidate = null; // an anchor seen once, frozen when seen again unchanged
    var seekedOnce = false;
    var timer = null;
    var stopped = false;

    function remember(pl) {
      var last = known.length ? known[known.length - 1].seq : -1;
      for (var i = 0; i < pl.segments.length; i++) {
        var seg = pl.segments[i];
        if (seg.seq > last) {
          seg.url = new URL(seg.uri, stream).href;
          known.push(seg);
          byUrl[seg.url] = seg;
        }
      }
      // Days of playback must not grow this without bound: keep the newest 600 segments.
      while (known.length > 600) {
        delete byUrl[known.shift().url];
      }
      ownFirst = pl.segments.length ? pl.segments[0] : ownFirst;
    }

    function fetchOwn() {
      return fetch(stream, { cache: 'no-store', credentials: 'same-origin' })
        .then(function (r) {
          ownStatus = r.status;
          if (!r.ok) {
            throw new Error('HTTP ' + r.status);
          }
          return r.text();
        })
        .then(function (text) {
          var pl = parsePlaylist(text);
          if (pl) {
            ownTarget = pl.targetDuration;
            remember(pl);
          }
          return pl;
        });
    }

    var fetching = false;

    // The page's copy, now (one fetch at a time).
    function fetchSoon() {
      if (fetching || stopped) {
        return;
      }
      fetching = true;
      fetchOwn().then(null, function () {
        // Kept the last copy.
      }).then(function () {
        fetching = false;
      });
    }

    function refreshLater() {
      if (stopped) {
        return;
      }
      var td = isNum(ownTarget) ? ownTarget : 6;
      timer = window.setTimeout(function () {
        fetchOwn().then(refreshLater, refreshLater);
      }, Math.min(10, Math.max(2, td)) * 1000);
    }

    function seekable() {
      var r = audio.seekable;
      if (!r || !r.length) {
        return null;
      }
      return { start: r.start(0), end: r.end(r.length - 1) };
    }

    function startDateAnchor() {
      if (typeof audio.getStartDate !== 'function') {
        return null;
      }
      try {
        var sd = audio.getStartDate().getTime();
        return isNum(sd) && sd > 0 ? { time: 0, pdt: sd, how: 'getStartDate' } : null;
      } catch (e) {
        return null;
      }
    }

    // The furthest segment of the stream the player fetched ends where its buffer ends
    // (players append in media sequence order; by completion time would be wrong, as
    // two fetched at once can finish in either order).
    function resourceAnchor() {
      var perf = window.performance;
      var b = audio.buffered;
      if (!perf || typeof perf.getEntriesByType !== 'function' || !b || !b.length) {
        return null;
      }
      var entries = perf.getEntriesByType('resource');
      if (entries.length > 150 && typeof perf.clearResourceTimings === 'function') {
        // The buffer holds 250 entries, then records no more: keep room for new fetches.
        perf.clearResourceTimings();
        return null;
      }
      var newest = null;
      for (var j = 0; j < entries.length; j++) {
        var en = entries[j];
        var seg = byUrl[en.name];
        if (!seg && (en.initiatorType === 'audio' || en.initiatorType === 'video') &&
          en.name !== stream) {
          // The player has a newer playlist than the page's copy: it fetched a segment the
          // page does not know yet, which may be the furthest. Look again once it does.
          fetchSoon();
          return null;
        }
        if (seg && seg.pdt !== null && en.responseEnd > 0 && (!newest || seg.seq > newest.seq)) {
          newest = seg;
        }
      }
      if (!newest) {
        return null;
      }
      return {
        time: b.end(b.length - 1),
        pdt: newest.pdt + newest.duration * 1000,
        how: 'resource timing'
      };
    }

    function seekableAnchor() {
      var r = seekable();
      return r && ownFirst && ownFirst.pdt !== null
        ? { time: r.start, pdt: ownFirst.pdt, how: 'seekable' } : null;
    }

    // Milliseconds between what two anchors say of the same media time.
    function apart(a, b) {
      return Math.abs((a.pdt - a.time * 1000) - (b.pdt - b.time * 1000));
    }

    // Every tick: getStartDate() is taken at once. The others count once two looks in a
    // row agree (a segment fetched but not yet buffered would put one a segment off).
    // Resource Timing is looked at all along: a player that cannot seek may still jump
    // on its own (Chromium's goes back to its live point when resumed after a pause), and
    // its media time then no longer follows the segments. The seekable line-up is taken
    // once: a seekable player keeps one timeline, and the two copies of the playlist are
    // not always the same one.
    function findAnchor() {
      if (stopped || audio.readyState < 1) {
        return;
      }
      var a = startDateAnchor();
      if (!a) {
        if (anchor && anchor.how !== 'resource timing') {
          return;
        }
        a = resourceAnchor() || (anchor ? null : seekableAnchor());
        if (!a) {
          return;
        }
        var agreed = candidate && candidate.how === a.how && apart(candidate, a) < 100;
        candidate = a;
        if (!agreed) {
          return;
        }
      }
      if (anchor && anchor.how === a.how && apart(anchor, a) < 300) {
        return;
      }
      var first = !anchor;
      anchor = a;
      state.anchor = a.how;
      if (first) {
        airSeek();
      }
    }

    // Seeks to the air point when the player can seek there.
    function airSeek() {
      if (!anchor) {
        return;
      }
      var target = anchor.time + (Date.now() - anchor.pdt) / 1000;
      var r = seekable();
      if (r && target >= r.start && target <= r.end) {
        fellBackToStart = false;
        if (Math.abs(audio.currentTime - target) > 1) {
          audio.currentTime = target;
        }
      } else if (r && target > r.end) {
        // Now is past this playlist's end (the gateway serves an old record): stay where
        // the player started (#EXT-X-START or its own live point), behind live.
        fellBackToStart = true;
      }
      seekedOnce = true;
    }

    function onError() {
      var e = audio.error;
      if (stopped || !e) {
        return;
      }
      var codes = { 1: 'aborted', 2: 'network error', 3: 'decode error', 4: 'not supported' };
      var what = (codes[e.code] || 'error ' + e.code) + (e.message ? ': ' + e.message : '');
      if (ownStatus !== null && (ownStatus < 200 || ownStatus >= 300)) {
        fail(describeHttp(ownStatus, what));
      } else if (e.code === 4) {
        fail('This browser\u2019s own HLS player cannot play the stream (' + what + ').');
      } else {
        fail('The stream stopped: ' + what + '.');
      }
    }

    function onPlaying() {
      if (anchor && seekedOnce) {
        // iOS may have ignored the first seek; once more, if it is a second or more off.
        audio.removeEventListener('playing', onPlaying);
        airSeek();
      }
    }

    var look = null;

    function startLooking() {
      window.clearInterval(look);
      look = window.setInterval(function () {
        findAnchor();
        if (stopped || (anchor && anchor.how !== 'resource timing')) {
          window.clearInterval(look);
        }
      }, TICK_MS);
    }

    // Back from a pause: seek to the air point where the player can; a player that
    // cannot seek and is now well behind is loaded afresh (it starts at its live point).
    function resync() {
      if (anchor && !seekable() && Date.now() - (anchor.pdt + (audio.currentTime - anchor.time) * 1000) > 10000) {
        anchor = null;
        candidate = null;
        seekedOnce = false;
        state.anchor = null;
        // The Resource Timing buffer holds 250 entries: start it afresh for the new anchor.
        if (window.performance && typeof window.performance.clearResourceTimings === 'function') {
          window.performance.clearResourceTimings();
        }
        audio.addEventListener('playing', onPlaying);
        audio.src = stream;
        startLooking();
        return;
      }
      airSeek();
    }

    audio.addEventListener('error', onError);
    audio.addEventListener('loadedmetadata', findAnchor);
    audio.addEventListener('playing', onPlaying);
    startLooking();
    // The player loads the playlist itself; the page's own copy comes alongside.
    fetchOwn().then(null, function () {
      // The player's own load says what is wrong.
    }).then(refreshLater);
    audio.preload = 'auto';
    audio.src = stream;
    started = true;
    canStart();

    return {
      kind: 'native',
      segments: function () {
        return known;
      },
      playheadPdt: function () {
        return anchor ? anchor.pdt + (audio.currentTime - anchor.time) * 1000 : null;
      },
      resync: resync,
      stop: function () {
        stopped = true;
        window.clearTimeout(timer);
        window.clearInterval(look);
        audio.removeEventListener('error', onError);
        audio.removeAttribute('src');
        try {
          audio.load();
        } catch (e) {
          // Nothing loaded.
        }
      }
    };
  }

  function startPlayer() {
    var choice = choosePlayer(window, audio);
    state.player = choice.player;
    if (choice.player === 'hls.js') {
      player = startHlsJs(window.Hls);
    } else if (choice.player === 'native') {
      player = startNative();
    } else if (choice.reason === 'no-library') {
      fail('The player library (vendor/hls.min.js) did not load. Reload the page, or open ' +
        stream + ' in an HLS player.');
    } else {
      fail('This browser cannot play HLS streams: it has neither Media Source Extensions ' +
        'nor a built-in HLS player. Try a current Firefox, Chrome, Edge or Safari, or open ' +
        stream + ' in an HLS player such as VLC or mpv.');
    }
  }

  // ---------------------------------------------------------------------------------
  // station.json, now playing, next up, Media Session.

  function loadStation(timeoutMs) {
    var ctl = typeof window.AbortController === 'function' ? new window.AbortController() : null;
    var timer = ctl ? window.setTimeout(function () {
      ctl.abort();
    }, timeoutMs) : null;
    var done = function () {
      window.clearTimeout(timer);
    };
    var opts = { cache: 'no-store', credentials: 'same-origin' };
    if (ctl) {
      opts.signal = ctl.signal;
    }
    return fetch(new URL('station.json', pageBase(location.href)).href, opts)
      .then(function (r) {
        if (!r.ok) {
          throw new Error('HTTP ' + r.status);
        }
        // Parsed from text: gateways label .json variously.
        return r.text();
      })
      .then(function (text) {
        done();
        return normStation(JSON.parse(text));
      }, function (e) {
        done();
        throw e;
      });
  }

  function applyStation(st) {
    station = st;
    if (st.name) {
      state.station = st.name;
      setText(el.title, st.name);
      document.title = st.name + ' \u2014 live';
    }
    if (st.ipnsName) {
      ipnsName = st.ipnsName;
    }
    showLinks();
  }

  function showLinks() {
    setText(el.ipnsName, ipnsName || '\u2014');
    var live = liveSiteUrl(location.href, ipnsName);
    var liveStream = streamUrl(live.url, station && station.stream);
    setText(el.pageUrl, live.url);
    el.pageUrl.href = live.url;
    setText(el.streamUrl, live.snapshot ? liveStream : (stream || liveStream));
    el.streamUrl.href = live.snapshot ? liveStream : (stream || liveStream);
    if (live.snapshot) {
      setText(el.snapshotLink, live.url);
      el.snapshotLink.href = live.url;
      setHidden(el.snapshot, false);
    }
  }

  var stationLoading = false;

  function refreshStation() {
    if (stationLoading) {
      return;
    }
    stationLoading = true;
    loadStation(STATION_REFRESH_MS).then(applyStation, function () {
      // Keep the last one: station.json is a nicety, the stream is what matters.
    }).then(function () {
      stationLoading = false;
    });
  }

  function clock(ms) {
    try {
      return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return new Date(ms).toISOString().slice(11, 16);
    }
  }

  function mmss(s) {
    s = Math.max(0, Math.floor(s));
    var m = Math.floor(s / 60);
    var r = s % 60;
    return m + ':' + (r < 10 ? '0' : '') + r;
  }

  function renderNextUp(items, behindS) {
    var key = items.map(function (it) {
      return itemLabel(it) + '@' + it.airStartMs;
    }).join('|') + '~' + Math.round(behindS / 30);
    if (key === nextUpKey) {
      return;
    }
    nextUpKey = key;
    while (el.nextUp.firstChild) {
      el.nextUp.removeChild(el.nextUp.firstChild);
    }
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var li = document.createElement('li');
      if (it.airStartMs !== null) {
        // When this listener will hear it: the air time plus how far behind live they are.
        var at = it.airStartMs + behindS * 1000;
        var t = document.createElement('time');
        t.dateTime = new Date(at).toISOString();
        t.textContent = clock(at);
        li.appendChild(t);
      }
      var what = document.createElement('span');
      what.className = 'what';
      var ti = document.createElement('span');
      ti.className = 't';
      ti.textContent = it.title;
      what.appendChild(ti);
      if (it.artist) {
        var ar = document.createElement('span');
        ar.className = 'a';
        ar.textContent = it.artist;
        what.appendChild(ar);
      }
      li.appendChild(what);
      if (it.kind === 'jingle') {
        var k = document.createElement('span');
        k.className = 'tag';
        k.textContent = 'station ID';
        li.appendChild(k);
      }
      el.nextUp.appendChild(li);
    }
    setHidden(el.nextUpBox, items.length === 0);
  }

  function mediaSession() {
    var ms = navigator.mediaSession;
    return ms && typeof ms === 'object' ? ms : null;
  }

  function updateMediaSession(title, artist) {
    var ms = mediaSession();
    if (!ms || typeof window.MediaMetadata !== 'function') {
      return;
    }
    var album = (station && station.name) || 'IPFS Station';
    var key = title + '\n' + artist + '\n' + album;
    if (key === sessionKey) {
      return;
    }
    sessionKey = key;
    try {
      ms.metadata = new window.MediaMetadata({ title: title, artist: artist, album: album });
    } catch (e) {
      // An old or partial implementation: the page plays without it.
    }
  }

  function bindMediaSession() {
    var ms = mediaSession();
    if (!ms || typeof ms.setActionHandler !== 'function') {
      return;
    }
    var handlers = {
      play: resume,
      pause: pause,
      stop: pause,
      // A live radio: no seeking, no skipping.
      seekbackward: null,
      seekforward: null,
      seekto: null,
      previoustrack: null,
      nexttrack: null
    };
    Object.keys(handlers).forEach(function (action) {
      try {
        ms.setActionHandler(action, handlers[action]);
      } catch (e) {
        // This browser does not know the action.
      }
    });
  }

  // ---------------------------------------------------------------------------------
  // Every 250 ms: what is playing, how far from live, the controls.

  function update() {
    if (!audio) {
      return;
    }
    var now = Date.now();
    state.currentTime = audio.currentTime;
    var playing = !!player && !audio.paused && !audio.ended && audio.readyState >= 3;
    // Without a player (this browser cannot play) the page still shows what is on air.
    var pdt = player ? player.playheadPdt() : null;
    state.playheadPdtMs = pdt;
    state.airOffsetSeconds = pdt === null ? null : (pdt - now) / 1000;
    state.behindLiveSeconds = pdt === null ? null : Math.max(0, (now - pdt) / 1000);
    // Signed: how much later than the air time this listener hears things.
    var behind = pdt === null ? 0 : (now - pdt) / 1000;
    // The air time heard now; before the player says, the air time itself.
    var at = pdt !== null ? pdt : now;

    // Now playing: station.json's item at the playhead's air time, else the #EXTINF title
    // of the segment at the playhead.
    var item = station ? itemAt(station.items, at) : null;
    var title = null;
    var artist = null;
    if (item) {
      state.nowPlaying = itemLabel(item);
      title = item.title;
      artist = item.artist;
    } else {
      var segs = player ? player.segments() : [];
      var seg = pdt !== null ? segmentAtPdt(segs, pdt) : null;
      if (!seg && player && player.kind === 'hls.js') {
        seg = segmentAt(segs, audio.currentTime);
      }
      if (seg && seg.title) {
        state.nowPlaying = seg.title;
      } else if (!state.nowPlaying && station && station.nowPlaying && !station.items.length) {
        state.nowPlaying = itemLabel(station.nowPlaying);
      }
      if (state.nowPlaying) {
        var sp = splitExtinf(state.nowPlaying);
        title = sp.title;
        artist = sp.artist;
      }
    }
    setText(el.nowPlaying, title || '\u2014');
    setText(el.nowArtist, artist || '');
    setHidden(el.nowArtist, !artist);
    setHidden(el.nowJingle, !(item && item.kind === 'jingle'));
    if (title) {
      updateMediaSession(title, artist || (station && station.name) || '');
    }

    // How far into the item.
    if (item && item.duration) {
      var into = Math.min(item.duration, Math.max(0, (at - item.airStartMs) / 1000));
      el.itemProgress.max = item.duration;
      el.itemProgress.value = into;
      setText(el.itemTime, mmss(into) + ' / ' + mmss(item.duration));
      setHidden(el.itemTimes, false);
    } else {
      setHidden(el.itemTimes, true);
    }

    // Next up and the programme block.
    var next = upcoming(station, at, NEXT_UP_SHOWN);
    state.nextUp = next.map(function (it) {
      return it.raw;
    });
    renderNextUp(next, behind);
    var block = station ? blockAt(station.programme, at) : null;
    setText(el.programme, block ? block.block + ' \u00b7 until ' + clock(block.end + behind * 1000) : '');
    setHidden(el.programme, !block);

    if (state.fatal || !player) {
      return;
    }
    if (audio.currentTime !== progress.time || audio.paused) {
      progress = { time: audio.currentTime, at: now };
    }
    var paused = audio.paused;
    el.play.classList.toggle('playing', !paused);
    setText(el.playLabel, paused ? 'Play' : 'Pause');
    el.play.setAttribute('aria-label', paused ? 'Play' : 'Pause');
    el.liveDot.classList.toggle('on', playing);
    var ms = mediaSession();
    if (ms) {
      try {
        ms.playbackState = paused ? 'paused' : 'playing';
      } catch (e) {
        // Read-only in some old implementations.
      }
    }
    if (playing && behind > CATCH_UP_S && now - caughtUpAt > CATCH_UP_EVERY_MS) {
      // Does nothing when the air point is past the playlist (a gateway's old view).
      caughtUpAt = now;
      player.resync();
    }
    if (playing) {
      // Shown in whole seconds, changed only when it moves by 2 s or more (the status is
      // read out by screen readers: no chatter).
      if (Math.abs(behind) > BEHIND_SHOWN_S) {
        if (shownBehind === null || Math.abs(shownBehind - behind) >= 2) {
          shownBehind = Math.round(behind);
        }
        if (shownBehind > 0) {
          setStatus(shownBehind + ' s behind live' +
            (fellBackToStart ? ' (this gateway serves an older playlist)' : ''));
        } else {
          // A native player that started near the playlist's end and cannot seek.
          setStatus('Live, ' + (-shownBehind) + ' s ahead of the air time (this ' +
            'browser\u2019s player starts near the end of the playlist)');
        }
      } else {
        shownBehind = null;
        setStatus('Live');
      }
    } else if (!paused && started && wantPlay && now - progress.at > STALL_SHOWN_S * 1000) {
      // In steps of 10 s: the status is read out by screen readers.
      setStatus('Waiting for the stream: no new audio for over ' +
        Math.floor((now - progress.at) / 10000) * 10 + ' s. The station may be off the ' +
        'air, or this gateway is slow.');
    } else if (!paused && started) {
      setStatus('Buffering\u2026');
    } else if (paused && started) {
      setStatus(state.ready ? 'Paused' : 'Press Play to listen.');
    }
  }

  function bindControls() {
    el.play.addEventListener('click', function () {
      if (state.fatal) {
        return;
      }
      if (audio.paused) {
        resume();
      } else {
        pause();
      }
    });
    el.volume.addEventListener('input', function () {
      var v = Number(el.volume.value);
      if (isFinite(v)) {
        audio.volume = Math.min(1, Math.max(0, v));
      }
    });
    audio.volume = Number(el.volume.value) || 0.8;
    audio.addEventListener('playing', function () {
      state.ready = true;
      wantPlay = true;
    });
    audio.addEventListener('pause', function () {
      pausedAt = Date.now();
    });
    bindMediaSession();
  }

  function init() {
    el = {
      title: byId('station-title'),
      programme: byId('programme'),
      nowPlaying: byId('now-playing'),
      nowArtist: byId('now-artist'),
      nowJingle: byId('now-jingle'),
      itemTimes: byId('item-times'),
      itemProgress: byId('item-progress'),
      itemTime: byId('item-time'),
      status: byId('status'),
      error: byId('error'),
      play: byId('play'),
      playLabel: byId('play-label'),
      volume: byId('volume'),
      nextUpBox: byId('next-up-box'),
      nextUp: byId('next-up'),
      ipnsName: byId('ipns-name'),
      pageUrl: byId('page-url'),
      streamUrl: byId('stream-url'),
      snapshot: byId('snapshot'),
      snapshotLink: byId('snapshot-link'),
      liveDot: byId('live-dot')
    };
    audio = byId('audio');
    ipnsName = nameFromLocation(location.href);
    stream = streamUrl(location.href, null);
    showLinks();
    bindControls();
    window.setInterval(update, TICK_MS);
    // The first station.json decides the stream; without one, live.m3u8 plays anyway.
    loadStation(15000).then(function (st) {
      applyStation(st);
      stream = streamUrl(location.href, st.stream);
    }, function () {
      // No station details: play the default stream.
    }).then(function () {
      showLinks();
      startPlayer();
      window.setInterval(refreshStation, STATION_REFRESH_MS);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
