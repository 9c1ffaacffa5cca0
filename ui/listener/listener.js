// IPFS Station listener page: plays the station's live HLS stream from /ipns/<name> on
// the gateway this page is opened from (same origin), starting at the true air time.
//
// The station publishes this folder with a station.json beside it:
//   {"ipns_name": "k51...", "title": "Station name"}
// The live playlist carries #EXT-X-PROGRAM-DATE-TIME (air time) on every segment and
// looks ahead of the air point (so listeners keep playing while a new IPNS record
// propagates): a player's default "live edge" would be ahead of the air. So hls.js starts
// with autoStartLoad off, and the first loaded playlist decides where to start: the
// segment whose air time covers now, at the right offset into it.
//
// window.listenerState (for tests and the curious), updated every 250 ms:
//   {ready, fatal: null|string, currentTime, playheadPdtMs, behindLiveSeconds, nowPlaying}
(function () {
  'use strict';

  var TICK_MS = 250;
  // Behind the air by more than this is shown as "N s behind live".
  var BEHIND_SHOWN_S = 3;

  var state = {
    ready: false,
    fatal: null,
    currentTime: 0,
    playheadPdtMs: null,
    behindLiveSeconds: null,
    nowPlaying: null
  };
  window.listenerState = state;

  var el = {};
  var hls = null;
  var audio = null;
  var streamPath = null;
  var started = false;
  var fellBackToStart = false;
  var pausedAt = null;
  var mediaRecoveries = 0;

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(node, text) {
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
  }

  function setStatus(text) {
    setText(el.status, text);
  }

  // A fatal problem: the stream cannot be played; say so in words a listener understands.
  function fail(message) {
    state.fatal = message;
    state.ready = false;
    setText(el.error, message);
    el.error.hidden = false;
    setStatus('Not playing');
    el.liveDot.classList.remove('on');
    el.play.disabled = true;
    if (hls) {
      try {
        hls.stopLoad();
      } catch (e) {
        // Already torn down.
      }
    }
  }

  function httpCode(data) {
    var r = data && data.response;
    if (r && typeof r.code === 'number' && r.code > 0) {
      return r.code;
    }
    var ctx = data && data.networkDetails;
    if (ctx && typeof ctx.status === 'number' && ctx.status > 0) {
      return ctx.status;
    }
    return null;
  }

  function describeFatal(data) {
    var code = httpCode(data);
    var what = data.details || data.type || 'error';
    var Hls = window.Hls;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      if (code === 404) {
        return 'The stream was not found on this gateway (HTTP 404 for ' + streamPath + ').';
      }
      if (code === 500 || code === 502 || code === 504) {
        return 'This gateway cannot resolve the station\'s IPNS name right now (HTTP ' + code +
          ' for ' + streamPath + '). The station may be off the air; try again later.';
      }
      if (code) {
        return 'The stream cannot be loaded: HTTP ' + code + ' (' + what + ').';
      }
      return 'The stream cannot be loaded: the gateway did not answer (' + what + ').';
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      return 'This browser cannot decode the stream (' + what + ').';
    }
    return 'The stream stopped: ' + what + (data.reason ? ' (' + data.reason + ')' : '') + '.';
  }

  // The fragments of the newest playlist hls.js holds.
  function fragments() {
    if (!hls) {
      return [];
    }
    var d = hls.latestLevelDetails;
    if (!d && hls.levels && hls.levels.length) {
      var lvl = hls.levels[Math.max(hls.currentLevel, 0)];
      d = lvl && lvl.details;
    }
    return (d && d.fragments) || [];
  }

  function fragmentAt(frags, time) {
    for (var i = 0; i < frags.length; i++) {
      var f = frags[i];
      if (time >= f.start && time < f.start + f.duration) {
        return f;
      }
    }
    return null;
  }

  // Media time of the air point (wall clock now) in `frags`, or null when now is not
  // covered (before the first segment's air time or past the playlist's end).
  function airPosition(frags, nowMs) {
    for (var i = 0; i < frags.length; i++) {
      var f = frags[i];
      var pdt = f.programDateTime;
      if (typeof pdt !== 'number' || !isFinite(pdt)) {
        continue;
      }
      if (nowMs >= pdt && nowMs < pdt + f.duration * 1000) {
        return f.start + (nowMs - pdt) / 1000;
      }
    }
    return null;
  }

  function firstPdtPosition(frags, nowMs) {
    for (var i = 0; i < frags.length; i++) {
      var f = frags[i];
      if (typeof f.programDateTime === 'number' && nowMs < f.programDateTime) {
        // The listener's clock is behind the station's: start at the first segment.
        return f.start;
      }
      if (typeof f.programDateTime === 'number') {
        return null;
      }
    }
    return null;
  }

  function play() {
    if (!audio) {
      return;
    }
    var p = audio.play();
    if (p && typeof p.catch === 'function') {
      p.catch(function (e) {
        if (e && e.name === 'NotAllowedError') {
          setStatus('Press Play to listen.');
        } else if (e && e.name !== 'AbortError') {
          setStatus('Cannot start playback: ' + (e.message || e.name));
        }
      });
    }
  }

  // First playlist: start loading at the air point, or at #EXT-X-START when the air point
  // is past the playlist's end (a gateway serving an old record).
  function onFirstLevel(details) {
    var frags = details.fragments || [];
    var now = Date.now();
    var pos = airPosition(frags, now);
    if (pos === null) {
      pos = firstPdtPosition(frags, now);
    }
    if (pos === null) {
      // Now is past this playlist's end (the gateway serves an old record): start where
      // the playlist says, #EXT-X-START (RFC 8216 section 4.3.5.2; a negative TIME-OFFSET
      // counts from the end), and say how far behind live that is.
      fellBackToStart = true;
      var off = details.startTimeOffset;
      var first = frags.length ? frags[0].start : 0;
      if (typeof off === 'number' && isFinite(off)) {
        var total = details.totalduration || 0;
        hls.startLoad(off < 0 ? Math.max(first, first + total + off) : first + off);
      } else {
        hls.startLoad(-1);
      }
    } else {
      hls.startLoad(pos);
    }

    el.play.disabled = false;
    setStatus('Buffering\u2026');
    play();
  }

  // Back from a pause: a radio plays what is on air now, not what was on when paused.
  function resyncToAir() {
    var pos = airPosition(fragments(), Date.now());
    if (pos !== null && Math.abs(pos - audio.currentTime) > 1) {
      audio.currentTime = pos;
    }
  }

  function playheadPdt() {
    var d = hls && hls.playingDate;
    if (d && isFinite(d.getTime())) {
      return d.getTime();
    }
    var f = fragmentAt(fragments(), audio.currentTime);
    if (f && typeof f.programDateTime === 'number') {
      return f.programDateTime + (audio.currentTime - f.start) * 1000;
    }
    return null;
  }

  function update() {
    if (!audio) {
      return;
    }
    state.currentTime = audio.currentTime;
    var playing = !audio.paused && !audio.ended && audio.readyState >= 2;
    var pdt = playheadPdt();
    state.playheadPdtMs = pdt;
    state.behindLiveSeconds = pdt === null ? null : Math.max(0, (Date.now() - pdt) / 1000);
    var f = fragmentAt(fragments(), audio.currentTime);
    if (f && f.title) {
      state.nowPlaying = f.title;
    }
    setText(el.nowPlaying, state.nowPlaying || '\u2014');
    if (state.fatal) {
      return;
    }
    el.play.classList.toggle('playing', !audio.paused);
    setText(el.playLabel, audio.paused ? 'Play' : 'Pause');
    el.play.setAttribute('aria-label', audio.paused ? 'Play' : 'Pause');
    el.liveDot.classList.toggle('on', playing);
    if (playing) {
      var behind = state.behindLiveSeconds;
      if (behind !== null && behind > BEHIND_SHOWN_S) {
        setStatus(Math.round(behind) + ' s behind live' +
          (fellBackToStart ? ' (this gateway serves an older playlist)' : ''));
      } else {
        setStatus('Live');
      }
    } else if (audio.paused && started) {
      setStatus(state.ready ? 'Paused' : 'Press Play to listen.');
    }
  }

  function onError(_event, data) {
    if (!data || !data.fatal) {
      return;
    }
    var Hls = window.Hls;
    // A decode hiccup: hls.js can rebuild the media pipeline once or twice.
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
      mediaRecoveries += 1;
      hls.recoverMediaError();
      return;
    }
    fail(describeFatal(data));
  }

  function startPlayer(name) {
    var Hls = window.Hls;
    streamPath = '/ipns/' + name;
    if (!Hls) {
      fail('The player library (vendor/hls.min.js) did not load.');
      return;
    }
    if (!Hls.isSupported()) {
      fail('This browser cannot play the stream: it has no Media Source Extensions ' +
        '(try a current Firefox, Chrome, Edge or Safari).');
      return;
    }
    hls = new Hls({
      autoStartLoad: false,
      // No worker: a worker would need a blob: script, which a strict CSP forbids.
      enableWorker: false,
      lowLatencyMode: false,
      // The station has no interstitials; hls.js's interstitials controller would call
      // startLoad(0) on its own when the primary timeline attaches, racing ours.
      enableInterstitialPlayback: false,
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
    var parsed = false;
    var firstDetails = null;
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
    hls.loadSource(streamPath);
  }

  function bindControls() {
    el.play.addEventListener('click', function () {
      if (state.fatal) {
        return;
      }
      if (audio.paused) {
        if (pausedAt !== null) {
          resyncToAir();
        }
        pausedAt = null;
        play();
      } else {
        audio.pause();
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
    });
    audio.addEventListener('pause', function () {
      pausedAt = Date.now();
    });
  }

  function loadStation() {
    return fetch('./station.json', { cache: 'no-store', credentials: 'omit' })
      .then(function (r) {
        if (!r.ok) {
          throw new Error('HTTP ' + r.status);
        }
        return r.json();
      });
  }

  function init() {
    el = {
      title: byId('station-title'),
      nowPlaying: byId('now-playing'),
      status: byId('status'),
      error: byId('error'),
      play: byId('play'),
      playLabel: byId('play-label'),
      volume: byId('volume'),
      ipnsName: byId('ipns-name'),
      ipnsPath: byId('ipns-path'),
      liveDot: byId('live-dot')
    };
    audio = byId('audio');
    bindControls();
    window.setInterval(update, TICK_MS);
    loadStation().then(function (info) {
      var name = info && typeof info.ipns_name === 'string' ? info.ipns_name.trim() : '';
      if (!/^[A-Za-z0-9]{10,128}$/.test(name)) {
        fail('station.json has no valid "ipns_name".');
        return;
      }
      var title = info && typeof info.title === 'string' && info.title.trim()
        ? info.title.trim() : 'IPFS Station';
      setText(el.title, title);
      document.title = title + ' \u2014 live';
      setText(el.ipnsName, name);
      setText(el.ipnsPath, '/ipns/' + name);
      startPlayer(name);
    }, function (e) {
      fail('The station\'s details (station.json) cannot be loaded: ' +
        (e && e.message ? e.message : e) + '.');
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
