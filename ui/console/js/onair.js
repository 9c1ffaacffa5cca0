// On air screen: Go live / Stop, listener URLs, now playing, the live window, the
// programme timeline (items and programme blocks), "what plays at", the as-run log, level
// meters, gateway lights, alarms and the publish log. Everything comes
// from the state files the streamer and the health monitor write (through onair_view),
// so a console that was closed and reopened shows a stream that kept running.
import { call, on, el, fmtDuration } from "./api.js";
import { CMD, EVT } from "./bindings.js";
import { notice, dismiss, followAudition, auditionState } from "./library.js";
import { kubo, onKuboChange } from "./kubo.js";

let view = null;
let blocks = [];
let cycleSaved = null;
let visible = false;

// FNV-1a, spread by the golden angle so near-identical titles get distinct colours.
const hue = (s) => { let h = 0x811c9dc5; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return Math.round(((h % 997) * 137.508) % 360); };
const itemColour = (title, jingle) => jingle ? "hsl(32 85% 48%)" : `hsl(${hue(title)} 45% 42%)`;
const hhmmss = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function copyButton(text) {
  const b = el("button", { class: "ghost", text: "Copy" });
  b.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; }
    catch { b.textContent = "Select and copy"; }
    setTimeout(() => (b.textContent = "Copy"), 1500);
  });
  return b;
}

/** Whether the audition player plays the preview now. */
const listening = () => { const a = auditionState(); return !!(a && a.status && a.status.playing && a.status.live); };

function renderButtons(v) {
  const k = kubo();
  const preview = v.preview && !!v.stream_pid;
  const off = !v.stream_pid;
  const goLive = document.getElementById("go-live");
  const start = document.getElementById("preview-start");
  const listen = document.getElementById("preview-listen");
  const stop = document.getElementById("go-off");
  // Off air without Kubo, the preview is the thing to do; Go live waits for Kubo. In a
  // preview, Go live appears once Kubo answers (the stream goes on where it is).
  goLive.hidden = !(off || (preview && k.reachable));
  goLive.disabled = off && k.known && !k.reachable;
  goLive.title = goLive.disabled ? "Go live publishes through Kubo: start Kubo first (see the banner above)" : "";
  goLive.className = !k.known || k.reachable ? "big" : "ghost";
  start.hidden = !off;
  start.className = k.known && !k.reachable ? "big" : "ghost";
  listen.hidden = !preview || !v.preview_url;
  if (!listen.dataset.busy) listen.textContent = listening() ? "Stop listening" : "Listen";
  stop.hidden = off;
  if (!stop.dataset.armed) stop.textContent = preview ? "Stop preview" : "Stop";
}

function renderHeader(v) {
  const live = v.on_air;
  const preview = v.preview && !!v.stream_pid;
  const badge = document.getElementById("onair-badge");
  badge.textContent = preview ? (live ? "Preview" : "Starting preview") : live ? "On air" : v.stream_pid ? "Starting" : "Off air";
  badge.className = "onair-badge" + (preview ? " preview" : live ? " live" : "");
  document.getElementById("onair-dot").hidden = !live || preview;
  renderButtons(v);
  const st = v.state;
  document.getElementById("onair-title").textContent = preview
    ? (live ? "Previewing locally: only this computer hears the station." : "The preview is starting…")
    : live ? `On air as ${st.ipns_name || "…"}`
      : v.stream_pid ? "The streamer is starting…" : "The station is off air.";
  document.getElementById("onair-detail").textContent = st && v.stream_pid
    ? `media sequence ${st.media_sequence} · started ${new Date(st.started_at).toLocaleString()}`
      + (preview ? "" : ` · last publish ${st.last_publish ? new Date(st.last_publish.at).toLocaleTimeString() : "—"}`)
      + ` · streamer pid ${v.stream_pid}` + (v.health_pid ? ` · monitor pid ${v.health_pid}` : "")
      + (st.notice && !preview ? ` · ${st.notice}` : "")
    : kubo().known && !kubo().reachable
      ? "Preview locally plays the station on this computer without Kubo; Go live publishes it once Kubo runs."
      : "Go live runs setup if anything is pending, starts the streamer and the health monitor, and publishes the listener page.";
  // Say plainly that a preview publishes nothing, and the one way to publish.
  const note = document.getElementById("preview-note");
  note.hidden = !preview;
  if (preview) {
    const k = kubo();
    note.replaceChildren(el("strong", { text: "Nothing is published: " }), document.createTextNode(k.reachable
      ? "Kubo answers now, so press Go live to publish; the stream goes on where the preview is."
      : k.ipfsBinary
        ? "to publish, press Start Kubo in the header, then Go live."
        : "to publish, install Kubo (https://docs.ipfs.tech/install/command-line/), run `ipfs daemon`, then press Go live."));
  }
  // The streamer keeps a programme on air that the library no longer gives (or a block
  // plays the default): never silent, but the operator must know.
  const pa = document.getElementById("programme-alarm");
  pa.hidden = !(st && st.alarm && v.on_air);
  pa.textContent = st && st.alarm ? `Programme alarm: ${st.alarm}` : "";
  const urls = document.getElementById("urls");
  urls.replaceChildren();
  if (preview && v.preview_url) {
    urls.append(el("span", { class: "gw", text: "preview (this computer only)" }), el("code", { text: v.preview_url, title: v.preview_url }), copyButton(v.preview_url));
  }
  for (const u of v.urls) {
    // The site is the link to share (page, stream and station.json under the name).
    if (u.page) urls.append(el("span", { class: "gw", text: `${u.gateway} · share` }), el("code", { text: u.page, title: "The station's site: the listener page, on path and subdomain gateways" }), copyButton(u.page));
    urls.append(el("span", { class: "gw", text: `${u.gateway} · stream` }), el("code", { text: u.stream, title: "The live playlist, for HLS players" }), copyButton(u.stream));
  }
}

function renderNow(v) {
  const np = document.getElementById("now-playing");
  const st = v.state;
  if (st && st.now_playing && v.on_air) {
    const block = st.now_playing.block || st.block;
    // (replaceChildren writes a null as the text "null": leave absent parts out.)
    np.replaceChildren(...[document.createTextNode(st.now_playing.title),
      block && block !== "default" ? el("span", { class: "block", text: block }) : null,
      el("span", { class: "since", text: `${st.now_playing.kind || "item"} · since ${hhmmss(Date.parse(st.now_playing.air_time))}${block ? ` · block ${block}` : ""}` })].filter((x) => x));
  } else np.textContent = "—";
  const next = document.getElementById("next-up");
  let lastBlock = st && st.block;
  next.replaceChildren(...(v.on_air && st ? st.next_up : []).map((e) => {
    const change = e.block && e.block !== lastBlock;
    lastBlock = e.block || lastBlock;
    return el("li", {}, el("span", { class: "t", text: hhmmss(Date.parse(e.air_time)) }), document.createTextNode(e.title),
      change ? el("span", { class: "block", text: `→ ${e.block}` }) : null);
  }));
}

function renderPreviewHealth(v) {
  const c = v.preview_check;
  document.getElementById("levels-when").textContent = c ? `measured from the preview ${new Date(c.checked_at).toLocaleTimeString()}` : "";
  const badge = document.getElementById("health-badge");
  badge.textContent = c ? (c.ok ? "preview ok" : "preview fail") : "";
  badge.className = "health-badge " + (c ? (c.ok ? "ok" : "fail") : "");
  const problems = c ? [c.error, ...c.segments.filter((s) => s.error).map((s) => `segment ${s.sequence}: ${s.error}`)].filter((x) => x) : [];
  document.getElementById("alarms").replaceChildren(
    ...problems.map((p) => el("li", { class: "fail", text: p })),
    el("li", { class: "", text: "The health monitor listens through gateways, so it starts with Go live; meanwhile the console measures the preview itself." }));
  document.getElementById("gateways").replaceChildren(
    el("li", {}, el("span", { class: "light " + (c && c.ok ? "ok" : "bad") }), el("span", { class: "name", text: "preview server (127.0.0.1)" }),
      el("span", { class: "ms", text: c && c.playlist_ms != null ? `${c.playlist_ms} ms` : "—" })),
    el("li", {}, el("span", { class: "light " + (kubo().reachable ? "ok" : "bad") }), el("span", { class: "name", text: "Kubo" }),
      el("span", { class: "ms", text: kubo().reachable ? "up" : "not running" })));
}

function renderMeters(v) {
  const h = v.health;
  const img = document.getElementById("meters");
  const empty = document.getElementById("meters-empty");
  const at = v.preview_check ? v.preview_check.checked_at : h ? h.checked_at : "";
  if (v.meters_svg) {
    // Only a new check replaces the picture (no flicker between polls).
    if (img.dataset.svgLen !== String(v.meters_svg.length) || img.dataset.at !== at) {
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(v.meters_svg);
      img.dataset.svgLen = String(v.meters_svg.length);
      img.dataset.at = at;
    }
    img.hidden = false; empty.hidden = true;
  } else {
    img.hidden = true; empty.hidden = false;
    empty.textContent = v.preview && v.stream_pid ? "Measuring the preview…" : "The health monitor has not checked the stream yet.";
  }
}

function renderHealth(v) {
  renderMeters(v);
  if (v.preview && v.stream_pid) { renderPreviewHealth(v); return; }
  const h = v.health;
  document.getElementById("levels-when").textContent = h ? `checked ${new Date(h.checked_at).toLocaleTimeString()}` : "";
  const badge = document.getElementById("health-badge");
  badge.textContent = h ? h.status : "";
  badge.className = "health-badge " + (h ? h.status : "");
  const alarms = document.getElementById("alarms");
  // Each alarm carries its own severity (a public gateway down warns, Kubo down fails).
  const list = h ? (h.alarms || []) : [];
  alarms.replaceChildren(...(list.length
    ? list.map((a) => el("li", { class: a.severity, text: a.message }))
    : [el("li", { class: h ? "ok" : "", text: h ? "No alarms: audio present, not clipping, the stream advances, gateways answer." : "No check yet." })]));
  const about = (g) => list.filter((a) => a.gateway === g.gateway).map((a) => a.message).join("; ");
  const gws = document.getElementById("gateways");
  gws.replaceChildren(...(h ? h.gateways : []).map((g) => el("li", { title: about(g) },
    el("span", { class: "light " + (g.ok ? "ok" : "bad") }),
    el("span", { class: "name", text: `${g.gateway}${g.public ? " (public)" : ""}` }),
    el("span", { class: "ms", text: g.resolve_ms != null ? `${g.resolve_ms} ms` : "—" }))));
  if (h) gws.prepend(el("li", {}, el("span", { class: "light " + (h.kubo.ok ? "ok" : "bad") }), el("span", { class: "name", text: `Kubo ${h.kubo.version || ""}` }), el("span", { class: "ms", text: h.kubo.ok ? "up" : "down" })));
}

function renderWindow(v) {
  const box = document.getElementById("live-window");
  const w = v.window;
  document.getElementById("window-info").textContent = w
    ? `${w.segments.length} segments · media sequence ${w.media_sequence} · discontinuity sequence ${w.discontinuity_sequence} · target duration ${w.target_duration} s`
    : "";
  if (!w || !v.on_air) { box.replaceChildren(el("span", { class: "muted", text: v.on_air ? "Waiting for the first publish…" : "Off air." })); return; }
  box.replaceChildren(...w.segments.map((s) => {
    const jingle = /station id|jingle/i.test(s.title);
    const n = el("span", {
      class: "seg" + (s.discontinuity ? " disc" : "") + (s.live ? " live" : "") + (s.lookahead ? " lookahead" : ""),
      title: `#${s.media_sequence} · ${s.title} · ${s.duration.toFixed(2)} s · airs ${s.air_time ? hhmmss(Date.parse(s.air_time)) : "?"}\n${s.uri}`,
      "data-seq": String(s.media_sequence),
    }, document.createTextNode(String(s.media_sequence)));
    n.style.background = itemColour(s.title, jingle);
    if (s.live) n.append(el("span", { class: "tag", text: "LIVE" }));
    return n;
  }));
}

function renderLog(v) {
  const body = document.getElementById("publog");
  const log = v.state ? [...v.state.publish_log].reverse() : [];
  const secs = (ms) => ms >= 10000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
  // A publish under way (online it waits for the DHT put) heads the log.
  const f = v.state && v.state.publishing;
  const pending = f ? [el("tr", { class: "inflight" },
    el("td", { text: new Date(f.since).toLocaleTimeString() }),
    el("td", { text: String(f.media_sequence) }),
    el("td", { class: "cid", text: "…" }),
    el("td", { class: "num", text: secs(Date.now() - new Date(f.since).getTime()) }),
    el("td", { text: "publishing (waiting for the DHT)" }))] : [];
  body.replaceChildren(...pending, ...log.map((r) => el("tr", {},
    el("td", { text: new Date(r.at).toLocaleTimeString() }),
    el("td", { text: String(r.media_sequence) }),
    el("td", { class: "cid", text: r.cid || "—", title: r.cid || "" }),
    el("td", { class: "num", text: secs(r.duration_ms) }),
    el("td", { class: r.ok ? "" : "err", text: r.ok ? "published" : r.error || "failed" }))));
  const stats = v.state && v.state.publish_stats;
  const note = document.getElementById("publog-stats");
  if (note && v.preview && v.stream_pid) { note.textContent = log.length ? "A preview publishes nothing: the log below is of earlier publishes." : "A preview publishes nothing."; return; }
  const warming = ((v.state && v.state.warming) || []).map((w) =>
    `warming ${w.gateway}: ${w.warmed} segments ahead of air, ${w.failed} failed` +
    (w.mean_ms != null ? ` (${secs(w.mean_ms)} each)` : ""));
  if (note) note.textContent = [stats && stats.mean_ms != null
    ? `${stats.ok} published, ${stats.failed} failed · ${secs(stats.mean_ms)} on average, ${secs(stats.max_ms)} at most`
    : "", ...warming].filter(Boolean).join(" · ");
}

// One line per pinning service of remote_pinning (from the state files, no call).
function pinningLine(p) {
  const svc = p.service;
  const since = p.pinned_at ? ` since ${new Date(p.pinned_at).toLocaleString()}` : "";
  const why = p.last_error ? ` — ${p.last_error}` : "";
  switch (p.status) {
    case "pinned": return ["ok", `Pinned on ${svc}${since}`];
    case "pinning": return ["warn", `Pinning on ${svc}…`];
    case "queued": return ["warn", `Queued on ${svc}…`];
    case "replacing": return ["warn", `Replacing on ${svc}: the new library version is being sent…`];
    case "not sent": return ["warn", `${svc}: not sent yet (at the next setup or stream start)`];
    case "failed": return ["bad", `${svc}: failed${why}`];
    case "failing": return ["bad", `${svc}: failing${why}`];
    default: return ["warn", `${svc}: ${p.status}${why}`];
  }
}

function renderPinning(v) {
  const list = v.remote_pinning || [];
  const ul = document.getElementById("pinning-lines");
  document.getElementById("pinning-lines-title").hidden = ul.hidden = !list.length;
  ul.replaceChildren(...list.map((p) => {
    const [light, text] = pinningLine(p);
    const title = [p.cid ? `library ${p.cid}${p.current ? "" : " (an older version)"}` : "", p.requestid ? `request ${p.requestid}` : ""].filter((x) => x).join(" · ");
    return el("li", { title }, el("span", { class: "light " + light }), el("span", { class: "name", text }));
  }));
}

export async function refresh() {
  try {
    view = await call(CMD.onair_view);
  } catch (e) { return; }
  renderHeader(view);
  if (!visible) return;
  renderNow(view);
  renderHealth(view);
  renderPinning(view);
  renderWindow(view);
  renderLog(view);
}

// ---- timeline ------------------------------------------------------------------------

function zoomHours() { return parseFloat(document.getElementById("tl-zoom").value); }

async function loadTimeline() {
  const cycle = parseInt(document.getElementById("tl-cycle").value, 10);
  const preview = Number.isFinite(cycle) && cycle !== cycleSaved ? cycle : null;
  document.getElementById("tl-apply").hidden = preview == null;
  try {
    blocks = await call(CMD.timeline, { hours: zoomHours(), jingleCycle: preview });
    document.getElementById("tl-note").textContent = preview != null
      ? `Preview with a jingle every ${preview} tracks: apply it to rebuild the rotation (no re-encoding).`
      : `${blocks.length} items in the next ${document.getElementById("tl-zoom").selectedOptions[0].text}.`;
  } catch (e) {
    blocks = [];
    document.getElementById("tl-note").textContent = e.message;
  }
  drawTimeline();
}

function drawTimeline() {
  const c = document.getElementById("tl-canvas");
  const dpr = window.devicePixelRatio || 1;
  const W = c.clientWidth, H = c.clientHeight;
  if (!W) return;
  c.width = W * dpr; c.height = H * dpr;
  const g = c.getContext("2d");
  g.scale(dpr, dpr);
  const css = getComputedStyle(document.body);
  const range = zoomHours() * 3600e3;
  const now = Date.now();
  const t0 = now - range * 0.04;
  const x = (t) => ((t - t0) / range) * W;
  g.clearRect(0, 0, W, H);
  // Time ticks.
  const step = [60e3, 300e3, 600e3, 1800e3, 3600e3, 7200e3].find((s) => range / s <= 12) || 7200e3;
  g.fillStyle = css.getPropertyValue("--muted");
  g.font = "11px system-ui, sans-serif";
  for (let t = Math.ceil(t0 / step) * step; t < t0 + range; t += step) {
    g.fillRect(x(t), 0, 1, 16);
    g.fillText(new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), x(t) + 3, 12);
  }
  // Programme blocks: one band per run of items in the same block, named.
  let run = null;
  const bands = [];
  for (const b of blocks) {
    if (run && run.block === b.block) run.end = b.start_ms + b.duration * 1000;
    else { run = { block: b.block, start: b.start_ms, end: b.start_ms + b.duration * 1000 }; bands.push(run); }
  }
  for (const r of bands) {
    const x0 = Math.max(0, x(r.start)), x1 = Math.min(W, x(r.end));
    if (x1 <= 0 || x0 >= W) continue;
    g.fillStyle = r.block === "default" ? css.getPropertyValue("--line") : `hsl(${hue(r.block)} 55% 38%)`;
    g.fillRect(x0, 17, Math.max(1, x1 - x0 - 1), 13);
    if (x1 - x0 > 30) {
      g.save(); g.beginPath(); g.rect(x0, 17, x1 - x0, 13); g.clip();
      g.fillStyle = r.block === "default" ? css.getPropertyValue("--muted") : "#fff";
      g.font = "bold 10px system-ui, sans-serif";
      g.fillText(r.block, x0 + 4, 27);
      g.restore();
    }
  }
  for (const b of blocks) {
    const x0 = x(b.start_ms), x1 = x(b.start_ms + b.duration * 1000);
    if (x1 < 0 || x0 > W) continue;
    const jingle = b.kind === "jingle";
    g.fillStyle = itemColour(b.artist ? `${b.artist} - ${b.title}` : b.title, jingle);
    const top = jingle ? 34 : 42, h = jingle ? H - 38 : H - 50;
    g.fillRect(Math.max(0, x0) + 1, top, Math.max(1, x1 - x0 - 2), h);
    if (x1 - x0 > 40) {
      g.save();
      g.beginPath(); g.rect(x0 + 2, top, x1 - x0 - 4, h); g.clip();
      g.fillStyle = "#fff";
      g.font = (jingle ? "bold " : "") + "12px system-ui, sans-serif";
      g.fillText(jingle ? `♪ ${b.title}` : b.title, Math.max(0, x0) + 6, top + 18);
      if (b.artist && !jingle) { g.font = "11px system-ui, sans-serif"; g.fillText(b.artist, Math.max(0, x0) + 6, top + 34); }
      g.restore();
    }
  }
  g.fillStyle = css.getPropertyValue("--bad");
  g.fillRect(x(now) - 1, 0, 2, H);
}

function hover(ev) {
  const c = document.getElementById("tl-canvas");
  const tip = document.getElementById("tl-tip");
  const r = c.getBoundingClientRect();
  const range = zoomHours() * 3600e3;
  const t = Date.now() - range * 0.04 + ((ev.clientX - r.left) / r.width) * range;
  const b = blocks.find((b) => b.start_ms <= t && t < b.start_ms + b.duration * 1000);
  if (!b) { tip.hidden = true; return; }
  tip.textContent = `${b.kind === "jingle" ? "Jingle: " : ""}${b.title}${b.artist ? " — " + b.artist : ""} · ${hhmmss(b.start_ms)} · ${fmtDuration(b.duration)} · block ${b.block}`;
  tip.hidden = false;
  tip.style.left = Math.min(ev.clientX - r.left, r.width - tip.offsetWidth) + "px";
}

// ---- what plays at, the as-run log ---------------------------------------------------

const localInput = (d) => {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

async function whatAt(ev) {
  ev.preventDefault();
  const box = document.getElementById("whatat-answer");
  const when = new Date(document.getElementById("whatat-when").value);
  if (isNaN(when)) { box.textContent = "Pick a day and time."; return; }
  try {
    const a = await call(CMD.programme_at, { atMs: when.getTime(), hours: 1 });
    const title = (i) => `${i.artist ? i.artist + " – " : ""}${i.title}${i.kind === "jingle" ? " (jingle)" : ""}`;
    const basis = { streamer: "as the running stream plays it", "as-run log": "from the as-run log", estimate: "off air: as a stream started now would play it" }[a.basis];
    const zone = a.timezone ? ` · ${a.local_time.slice(11, 16)} in ${a.timezone}` : "";
    box.replaceChildren(
      el("div", {}, el("strong", { text: `${when.toLocaleString([], { weekday: "long", hour: "2-digit", minute: "2-digit" })}${zone}: block ${a.block}` }),
        el("span", { class: "muted small", text: ` (${basis})` })),
      el("div", { text: a.item ? `On air: ${title(a.item)}, from ${hhmmss(a.item.start_ms)} for ${fmtDuration(a.item.duration)}` : "Nothing known at that time." }),
      el("ol", {}, ...a.ahead.slice(0, 8).map((i) => el("li", {}, el("span", { class: "t", text: hhmmss(i.start_ms) }),
        document.createTextNode(title(i)), i.block !== a.block ? el("span", { class: "block", text: i.block }) : null))));
  } catch (e) {
    box.textContent = e.message;
  }
}

async function loadHistory() {
  const body = document.getElementById("asrun");
  try {
    const h = await call(CMD.history, { hours: 24 });
    body.replaceChildren(...h.slice(0, 200).map((e) => el("tr", {},
      el("td", { text: new Date(e.air_start).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" }) }),
      el("td", { text: e.block }),
      el("td", { text: e.kind }),
      el("td", { text: `${e.artist ? e.artist + " – " : ""}${e.title}` }),
      el("td", { text: e.album || "" }),
      el("td", { text: e.isrc || "" }),
      el("td", { class: "num", text: fmtDuration(e.duration) }))));
    document.getElementById("asrun-note").textContent = h.length
      ? `${h.length} item${h.length === 1 ? "" : "s"} aired in the last 24 hours${h.length > 200 ? " (the newest 200 shown)" : ""}.`
      : "Nothing aired in the last 24 hours.";
  } catch (e) {
    document.getElementById("asrun-note").textContent = e.message;
  }
}

// ---- actions -------------------------------------------------------------------------

async function goLive() {
  const b = document.getElementById("go-live");
  b.disabled = true;
  b.textContent = "Going live…";
  try {
    const v = await call(CMD.go_live);
    if (v.problem) notice("warn", "On air, with a problem", [v.problem]);
    else notice("ok", "On air", v.urls.map((u) => u.page || u.stream), { timeout: 10000, key: "onair" });
  } catch (e) {
    if (e.code === "kubo_unreachable") notice("bad", "Go live publishes through Kubo, and none answers: start Kubo (see the banner above), or press Preview locally to hear the station now.", [], { key: "onair", more: [e.message] });
    else notice("bad", "Could not go live: the details say why.", [], { key: "onair", more: [e.message] });
  }
  b.disabled = false;
  b.textContent = "Go live";
  refresh();
  loadTimeline();
}

async function previewStart() {
  const b = document.getElementById("preview-start");
  b.disabled = true;
  b.textContent = "Starting the preview…";
  try {
    await call(CMD.preview_start);
    // The screen's header now says what the preview is: no notice repeats it, and the
    // setup notice's hint to preview is done.
    dismiss("onair");
    dismiss("setup");
  } catch (e) {
    notice("bad", "The preview did not start: the details say why.", [], { key: "onair", more: [e.message] });
  }
  b.disabled = false;
  b.textContent = "Preview locally";
  refresh();
  loadTimeline();
}

async function previewListen() {
  const b = document.getElementById("preview-listen");
  b.dataset.busy = "1";
  try {
    if (listening()) followAudition(await call(CMD.audition_stop));
    else followAudition(await call(CMD.preview_listen));
  } catch (e) {
    notice("bad", e.code === "audio" ? "No sound device to play the preview on: the details say why." : "Cannot play the preview: the details say why.", [], { key: "listen", more: [e.message] });
  }
  delete b.dataset.busy;
  if (view) renderButtons(view);
}

async function offAir() {
  const b = document.getElementById("go-off");
  if (!b.dataset.armed) {
    b.dataset.armed = "1";
    b.textContent = view && view.preview ? "Stop the preview?" : "Stop the stream?";
    setTimeout(() => { delete b.dataset.armed; if (view) renderButtons(view); }, 4000);
    return;
  }
  delete b.dataset.armed;
  b.disabled = true;
  b.textContent = "Stopping…";
  try { await call(CMD.off_air); } catch (e) { notice("bad", "Could not stop the stream: the details say why.", [], { more: [e.message] }); }
  b.disabled = false;
  b.textContent = "Stop";
  refresh();
}

async function applyCycle() {
  const v = document.getElementById("tl-cycle").value;
  const out = await call(CMD.settings_apply, { edits: { "setup.config.json": { jingle_cycle: v } } }).catch((e) => ({ errors: [{ message: e.message }] }));
  if (out.errors && out.errors.length) { notice("bad", "Tracks between jingles not changed", out.errors.map((e) => e.message)); return; }
  cycleSaved = parseInt(v, 10);
  await call(CMD.setup_start).catch(() => {});
  notice("ok", `A jingle every ${v} tracks: the rotation is rebuilt; on air it takes over at the next item.`, [], { timeout: 8000 });
  loadTimeline();
}

export function setVisible(v) {
  visible = v;
  if (v) { refresh(); loadTimeline(); loadHistory(); }
}

export async function initOnAir() {
  document.getElementById("go-live").addEventListener("click", goLive);
  document.getElementById("go-off").addEventListener("click", offAir);
  document.getElementById("preview-start").addEventListener("click", previewStart);
  document.getElementById("preview-listen").addEventListener("click", previewListen);
  onKuboChange(() => { if (view) renderHeader(view); });
  document.getElementById("tl-zoom").addEventListener("change", loadTimeline);
  document.getElementById("tl-cycle").addEventListener("input", loadTimeline);
  document.getElementById("tl-apply").addEventListener("click", applyCycle);
  document.getElementById("whatat-form").addEventListener("submit", whatAt);
  document.getElementById("whatat-when").value = localInput(new Date(Date.now() + 3600e3));
  const c = document.getElementById("tl-canvas");
  c.addEventListener("mousemove", hover);
  c.addEventListener("mouseleave", () => (document.getElementById("tl-tip").hidden = true));
  new ResizeObserver(drawTimeline).observe(c);
  const fields = await call(CMD.settings_get).catch(() => []);
  const f = fields.find((x) => x.key === "jingle_cycle");
  cycleSaved = f ? parseInt(f.value, 10) : 3;
  document.getElementById("tl-cycle").value = cycleSaved;

  const dialog = document.getElementById("close-dialog");
  on(EVT.close_requested, () => { if (!dialog.open) dialog.showModal(); });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "keep" || dialog.returnValue === "stop") {
      call(CMD.quit, { keepOnAir: dialog.returnValue === "keep" }).catch((e) => notice("bad", "Could not quit", [e.message]));
    }
  });
  // Escape closes the dialog with "cancel"; the stream keeps running either way.
  dialog.addEventListener("cancel", () => (dialog.returnValue = "cancel"));

  setInterval(refresh, 2000);
  setInterval(() => { if (visible) drawTimeline(); }, 1000);
  setInterval(() => { if (visible) loadTimeline(); }, 30000);
  setInterval(() => { if (visible) loadHistory(); }, 10000);
  refresh();
}
