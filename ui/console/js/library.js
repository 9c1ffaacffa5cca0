// Library screen: drop zones, the overall bar, one virtualized table per kind, audition.
import { call, on, el, fmtDuration, details } from "./api.js";
import { CMD, EVT } from "./bindings.js";
import { kubo, onKuboChange } from "./kubo.js";

const ROW_H = 36;
const OVERSCAN = 8;

/** Live state of items during a setup run, keyed by source path. */
const live = new Map(); // source -> {phase: queued|prechunking|adding|failed, frac, reason}
const idToSource = new Map();
const run = { running: false, toEncode: 0, adding: null, finishedIds: new Set() };
let view = null; // the last LibraryView from the engine
let audition = { available: false, reason: "checking the audio device…" };
const tables = {};

function statusOf(row) {
  const l = live.get(row.source);
  // Prechunked during this run: added to IPFS next, unless no Kubo answers.
  if (l && l.phase === "adding" && kubo().known && !kubo().reachable) return { phase: "waiting_for_kubo" };
  if (l) return l;
  if (row.status === "pending") return { phase: run.running ? "queued" : "pending" };
  return { phase: row.status, reason: row.reason };
}

const LABELS = {
  pending: "not prechunked",
  queued: "queued",
  prechunking: "prechunking",
  adding: "adding to IPFS",
  ready: "ready",
  waiting_for_kubo: "waiting for Kubo",
  failed: "failed",
};

class VTable {
  constructor(host, kind) {
    this.kind = kind;
    this.rows = [];
    this.host = host;
    host.append(
      el("div", { class: "thead", role: "row" },
        el("div", { text: "Title" }), el("div", { text: "Artist" }),
        el("div", { class: "num", text: "Duration" }), el("div", { class: "num", text: "Loudness" }),
        el("div", { text: "Status" }), el("div", { class: "num", text: "" })));
    this.body = el("div", { class: "tbody", role: "rowgroup" });
    this.spacer = el("div", { class: "spacer-y" });
    this.body.append(this.spacer);
    this.emptyNote = el("div", { class: "empty", text: kind === "track" ? "No music yet: drop files above." : "No jingles yet: drop station IDs above." });
    host.append(this.body);
    this.pool = new Map(); // index -> element
    this.body.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.body);
  }
  setRows(rows) {
    this.rows = rows;
    this.index = new Map(rows.map((r, i) => [r.source, i]));
    this.spacer.style.height = rows.length * ROW_H + "px";
    if (!rows.length) { if (!this.emptyNote.isConnected) this.body.append(this.emptyNote); }
    else this.emptyNote.remove();
    for (const [, n] of this.pool) n.remove();
    this.pool.clear();
    this.render();
  }
  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.render(); });
  }
  render() {
    const top = this.body.scrollTop, h = this.body.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    for (const [i, n] of this.pool) if (i < first || i >= last) { n.remove(); this.pool.delete(i); }
    for (let i = first; i < last; i++) {
      if (this.pool.has(i)) continue;
      const n = this.makeRow(this.rows[i]);
      n.style.transform = `translateY(${i * ROW_H}px)`;
      this.pool.set(i, n);
      this.body.append(n);
    }
  }
  refresh(source) {
    const i = this.index?.get(source);
    if (i == null) return;
    const n = this.pool.get(i);
    if (n) this.fillStatus(n, this.rows[i]);
  }
  refreshAll() { for (const [i, n] of this.pool) this.fillStatus(n, this.rows[i]); }
  makeRow(row) {
    const loud = row.loudness_lufs != null
      ? `${row.loudness_lufs.toFixed(1)} LUFS`
      : "";
    const n = el("div", { class: "row", role: "row", "data-source": row.source },
      el("div", { class: "cell", title: row.source, text: row.title }),
      el("div", { class: "cell muted", text: row.artist || "" }),
      el("div", { class: "cell num", text: fmtDuration(row.duration) }),
      el("div", { class: "cell num", title: row.gain_db != null ? `gain ${row.gain_db.toFixed(1)} dB` : "", text: loud }),
      el("div", { class: "status" },
        el("span", { class: "label" }),
        el("div", { class: "bar" }, el("div", { class: "fill" })),
        el("span", { class: "why cell small" })),
      this.actions(row));
    this.fillStatus(n, row);
    return n;
  }
  actions(row) {
    const playTitle = audition.available ? "Play the source file" : `Audition unavailable: ${audition.reason}`;
    const segTitle = !audition.available ? `Audition unavailable: ${audition.reason}`
      : row.id ? "Play the prechunked segments" : "Not prechunked yet";
    const rm = el("button", { title: "Remove: the source goes to the station's trash folder", text: "✕" });
    rm.addEventListener("click", () => confirmRemove(rm, row));
    return el("div", { class: "actions" },
      el("button", { class: "play-src", title: playTitle, disabled: !audition.available, text: "▶",
        onclick: () => play(row, "source") }),
      el("button", { class: "play-seg", title: segTitle, disabled: !audition.available || !row.id, text: "▶ seg",
        onclick: () => play(row, "segments") }),
      rm);
  }
  fillStatus(n, row) {
    const s = statusOf(row);
    const box = n.querySelector(".status");
    box.className = "status " + s.phase;
    n.dataset.status = s.phase;
    const label = box.querySelector(".label");
    const bar = box.querySelector(".bar");
    const fill = box.querySelector(".fill");
    const why = box.querySelector(".why");
    let text = LABELS[s.phase] || s.phase;
    if (s.phase === "prechunking") text += ` ${Math.round((s.frac || 0) * 100)}%`;
    label.textContent = text;
    const showBar = ["queued", "prechunking", "adding"].includes(s.phase);
    bar.hidden = !showBar;
    why.hidden = showBar;
    why.textContent = s.phase === "failed" ? (s.reason || "") : "";
    why.title = why.textContent;
    label.title = s.reason || "";
    const frac = s.phase === "prechunking" ? (s.frac || 0) : s.phase === "adding" ? 1 : 0;
    fill.style.transform = `scaleX(${frac})`;
  }
}

function confirmRemove(btn, row) {
  if (btn.dataset.armed) {
    btn.disabled = true;
    call(CMD.library_remove, { source: row.source })
      .then((r) => {
        notice("ok", `Removed “${row.title}”`, [`${r.trashed_to} (the source is kept in the station's trash folder)`]);
        reload();
      })
      .catch((e) => { notice("bad", `Cannot remove “${row.title}”`, [e.message]); btn.disabled = false; });
    return;
  }
  btn.dataset.armed = "1";
  btn.textContent = "Remove?";
  setTimeout(() => { delete btn.dataset.armed; btn.textContent = "✕"; }, 3000);
}

// ---- notices -------------------------------------------------------------------------

export function notice(kind, title, lines = [], { timeout, key, more } = {}) {
  const box = document.getElementById("notices");
  if (key) dismiss(key);
  const close = el("button", { class: "ghost", text: "Dismiss" });
  const n = el("div", { class: "notice " + kind, role: kind === "bad" ? "alert" : "status" },
    el("div", { class: "notice-head" }, el("span", { text: title }), el("span", { class: "spacer" }), close));
  if (lines.length) {
    const ul = el("ul");
    for (const l of lines.slice(0, 200)) {
      if (typeof l === "string") ul.append(el("li", { text: l }));
      else ul.append(el("li", {}, el("span", { text: l.path }), document.createTextNode(" — "), el("span", { class: "reason", text: l.reason })));
    }
    if (lines.length > 200) ul.append(el("li", { text: `… and ${lines.length - 200} more` }));
    n.append(ul);
  }
  // The technical detail (what an engine error says, word for word), behind a toggle.
  if (more && more.filter((x) => x).length) n.append(details(more));
  if (key) n.dataset.key = key;
  close.addEventListener("click", () => n.remove());
  box.prepend(n);
  while (box.children.length > 4) box.lastChild.remove();
  if (timeout) setTimeout(() => n.remove(), timeout);
  return n;
}

/** Removes the notice shown under `key`, if any. */
export function dismiss(key) {
  for (const n of document.querySelectorAll(`#notices .notice[data-key="${key}"]`)) n.remove();
}

// ---- overall bar ---------------------------------------------------------------------

function renderOverall() {
  const text = document.getElementById("overall-text");
  const fill = document.getElementById("overall-fill");
  const btn = document.getElementById("setup-run");
  btn.disabled = run.running;
  btn.textContent = run.running ? "Setup running…" : "Run setup";
  if (run.running) {
    fill.className = "fill";
    if (run.adding) {
      const { done, total } = run.adding;
      text.textContent = `Adding to IPFS: ${done} of ${total} segments`;
      fill.style.transform = `scaleX(${total ? done / total : 1})`;
      return;
    }
    let sum = 0, finished = 0, failed = 0;
    for (const l of live.values()) {
      if (l.phase === "prechunking") sum += l.frac || 0;
      else if (l.phase === "adding" || l.phase === "waiting_for_kubo") { sum += 1; finished++; }
      else if (l.phase === "failed") { sum += 1; failed++; }
    }
    const total = run.toEncode || live.size;
    text.textContent = total
      ? `Prechunking: ${finished} of ${total} done${failed ? `, ${failed} failed` : ""}`
      : "Scanning the library…";
    fill.style.transform = `scaleX(${total ? Math.min(1, sum / total) : 0})`;
    return;
  }
  if (!view) return;
  const all = view.tracks.length + view.jingles.length;
  const ready = all - view.not_ready;
  const tracks = view.tracks.filter((r) => r.status === "ready").length;
  const jingles = view.jingles.filter((r) => r.status === "ready").length;
  const trash = view.trash && view.trash.files
    ? ` · trash: ${view.trash.files} file${view.trash.files === 1 ? "" : "s"}, ${(view.trash.bytes / 1048576).toFixed(1)} MB`
      + (view.trash.retention_days ? ` (kept ${view.trash.retention_days} days)` : " (kept)")
    : "";
  // Prechunked items that only wait for Kubo are said so, not lumped with the rest.
  const waiting = view.tracks.concat(view.jingles).filter((r) => r.status === "waiting_for_kubo").length;
  const other = view.not_ready - waiting;
  text.textContent = `${tracks} tracks · ${jingles} jingles ready · ${fmtDuration(view.ready_seconds)} of audio · rotation of ${view.rotation_len}`
    + (waiting ? ` · ${waiting} prechunked, waiting for Kubo` : "")
    + (other > 0 ? ` · ${other} not ready` : "") + trash;
  fill.className = "fill " + (view.not_ready ? "" : "ok");
  fill.style.transform = `scaleX(${all ? ready / all : 0})`;
  const last = view.last_setup;
  document.getElementById("last-setup").textContent = last
    ? `Last setup ${new Date(last.finished_at).toLocaleString()}: ${last.encoded} encoded, ${last.reused} reused`
      // (What waits for Kubo is said once, on the line above.)
      + (last.error ? ` · ${last.error}` : "")
      + (last.failures.length ? ` · ${last.failures.length} failed` : "")
    : "";
}

// ---- data ----------------------------------------------------------------------------

let firstPaint = true;

export async function reload() {
  try {
    view = await call(CMD.library);
  } catch (e) {
    notice("bad", "Cannot read the library", [e.message]);
    return;
  }
  tables.track.setRows(view.tracks);
  tables.jingle.setRows(view.jingles);
  document.getElementById("count-track").textContent = `${view.tracks.length}`;
  document.getElementById("count-jingle").textContent = `${view.jingles.length}`;
  renderOverall();
  if (firstPaint) {
    firstPaint = false;
    const rows = view.tracks.length + view.jingles.length;
    requestAnimationFrame(() => requestAnimationFrame(() => call(CMD.ui_ready, { rows }).catch(() => {})));
  }
}

function onSetupEvent(ev) {
  if (ev.type === "scanned") {
    run.running = true;
    run.toEncode = ev.to_encode;
    run.adding = null;
  } else if (ev.type === "adding") {
    run.adding = { done: ev.done, total: ev.total };
  }
  renderOverall();
}

function onPrechunk(p) {
  let source = idToSource.get(p.id);
  if (p.type === "queued") {
    source = p.path;
    idToSource.set(p.id, source);
    live.set(source, { phase: "queued" });
  } else if (!source) return;
  else if (p.type === "started") live.set(source, { phase: "prechunking", frac: 0 });
  else if (p.type === "progress") live.set(source, { phase: "prechunking", frac: p.total_seconds ? Math.min(1, p.done_seconds / p.total_seconds) : 0 });
  else if (p.type === "finished") live.set(source, { phase: "adding" });
  else if (p.type === "failed") live.set(source, { phase: "failed", reason: p.error });
  for (const t of Object.values(tables)) t.refresh(source);
  scheduleOverall();
}

let overallQueued = false;
function scheduleOverall() {
  if (overallQueued) return;
  overallQueued = true;
  requestAnimationFrame(() => { overallQueued = false; renderOverall(); });
}

// ---- adding files --------------------------------------------------------------------

/** What a drop on a zone does: copy in, report per file, prechunk. Returns the report. */
export async function addFiles(kind, paths) {
  const where = kind === "track" ? "Music" : "Jingles";
  try {
    const r = await call(CMD.library_add, { kind, paths });
    reportImport(where, r);
    return r;
  } catch (e) {
    notice("bad", `Could not add to ${where}`, [e.message]);
    return { error: e };
  }
}

function reportImport(where, r) {
  if (r.added.length) {
    notice("ok", `Added ${r.added.length} file${r.added.length === 1 ? "" : "s"} to ${where}; prechunking starts`, [], { timeout: 8000 });
    run.running = true;
    reload();
  }
  if (r.refused.length) {
    notice("bad", `${r.refused.length} file${r.refused.length === 1 ? " was" : "s were"} not added to ${where}`,
      r.refused.map((x) => ({ path: x.path, reason: x.reason })));
  }
  if (!r.added.length && !r.refused.length) notice("warn", "Nothing to add", []);
}

function zoneAt(pos) {
  if (!pos) return null;
  const dpr = window.devicePixelRatio || 1;
  const target = document.elementFromPoint(pos.x / dpr, pos.y / dpr);
  const zone = target && target.closest(".dropzone");
  if (zone) return zone.dataset.kind;
  if (target && target.closest("#table-jingle")) return "jingle";
  if (target && target.closest("#table-track")) return "track";
  return null;
}

function highlight(kind) {
  for (const z of document.querySelectorAll(".dropzone")) z.classList.toggle("over", z.dataset.kind === kind);
}

// ---- audition ------------------------------------------------------------------------

let auditionTimer = 0;

async function play(row, what) {
  try {
    const v = await call(CMD.audition_play, { source: row.source, what });
    showAudition(v);
    if (!auditionTimer) auditionTimer = setInterval(pollAudition, 250);
  } catch (e) {
    notice("bad", `Cannot play “${row.title}”`, [e.message]);
  }
}

let lastAudition = null;

async function pollAudition() {
  const v = await call(CMD.audition_status).catch(() => null);
  if (!v) return;
  showAudition(v);
  if (!v.status.playing) { clearInterval(auditionTimer); auditionTimer = 0; }
}

function showAudition(v) {
  lastAudition = v;
  const label = document.getElementById("audition-label");
  const stop = document.getElementById("audition-stop");
  const fill = document.getElementById("audition-fill");
  const time = document.getElementById("audition-time");
  if (!v.available) {
    label.textContent = `Audition unavailable: ${v.reason}`;
    label.title = v.reason;
    stop.disabled = true;
    return;
  }
  const s = v.status;
  stop.disabled = !s.playing;
  label.textContent = s.playing ? `Playing: ${s.playing}` : s.error ? `Audition stopped: ${s.error}` : "Audition: press ▶ on an item";
  const frac = s.live ? 1 : s.duration ? Math.min(1, s.position / s.duration) : 0;
  fill.style.transform = `scaleX(${s.playing ? frac : 0})`;
  time.textContent = !s.playing ? "" : s.live ? `${fmtDuration(s.position)} live` : `${fmtDuration(s.position)} / ${fmtDuration(s.duration)}`;
  document.getElementById("audition").classList.toggle("live", !!(s.playing && s.live));
}

/** Shows what the audition player does (`v`: an AuditionView) and follows it. */
export function followAudition(v) {
  showAudition(v);
  if (!auditionTimer) auditionTimer = setInterval(pollAudition, 250);
}

/** The audition player's last known state. */
export function auditionState() {
  return lastAudition;
}

// ---- boot ----------------------------------------------------------------------------

export async function initLibrary() {
  // The drop path, for automation (the end-to-end test): a real drop cannot be sent
  // over WebDriver.
  window.stationConsole = Object.freeze({ addFiles });
  tables.track = new VTable(document.getElementById("table-track"), "track");
  tables.jingle = new VTable(document.getElementById("table-jingle"), "jingle");

  on(EVT.setup_event, onSetupEvent);
  on(EVT.setup_prechunk, onPrechunk);
  on(EVT.setup_finished, (r) => {
    run.running = false;
    run.adding = null;
    live.clear();
    idToSource.clear();
    dismiss("setup");
    if (r.error && r.error.code === "rotation") notice("warn", "No rotation yet: add music", [r.error.message], { key: "setup" });
    else if (r.error) notice("bad", "Setup stopped", [r.error.message], { key: "setup" });
    else if (r.report && r.report.kubo_error) {
      // Say it once: the Kubo banner says how to get Kubo; this says what it means for
      // the library, and the one thing to do meanwhile (or, with Kubo there, to finish).
      if (kubo().reachable) notice("warn", "Some segments were not added to IPFS: press Run setup to add the rest.", [], { key: "setup", more: [r.report.kubo_error] });
      else notice("warn", "Prechunked: the segments wait for Kubo to be added to IPFS; meanwhile, hear the station with Preview locally on the On air screen.", [], { key: "setup", more: [r.report.kubo_error] });
    }
    reload();
  });
  on(EVT.library_dropped, ({ paths, x, y }) => {
    highlight(null);
    const kind = zoneAt({ x, y });
    if (!kind) {
      notice("warn", "Drop files on Music or on Jingles", []);
      return;
    }
    addFiles(kind, paths);
  });
  on(EVT.drag_over, (p) => highlight(zoneAt(p && p.position)));
  on(EVT.drag_leave, () => highlight(null));

  for (const b of document.querySelectorAll("[data-pick]")) {
    b.addEventListener("click", async () => {
      const kind = b.dataset.pick;
      try {
        const r = await call(CMD.library_pick, { kind, folders: b.dataset.folders === "true" });
        reportImport(kind === "track" ? "Music" : "Jingles", r);
      } catch (e) {
        notice("bad", "Could not add files", [e.message]);
      }
    });
  }
  document.getElementById("setup-run").addEventListener("click", async () => {
    run.running = true;
    renderOverall();
    await call(CMD.setup_start).catch((e) => notice("bad", "Cannot run setup", [e.message]));
  });
  document.getElementById("audition-stop").addEventListener("click", async () => {
    showAudition(await call(CMD.audition_stop));
  });

  // Rows finished in this run say "waiting for Kubo" while none answers.
  onKuboChange((k, was) => {
    for (const t of Object.values(tables)) t.refreshAll();
    // Kubo came up: what waited for it is added now (nothing is encoded again).
    if (k.reachable && was.known && !was.reachable && !run.running && view
        && view.tracks.concat(view.jingles).some((r) => r.status === "waiting_for_kubo")) {
      run.running = true;
      renderOverall();
      call(CMD.setup_start).catch(() => {});
    }
  });
  run.running = await call(CMD.setup_running).catch(() => false);
  audition = await call(CMD.audition_status).catch((e) => ({ available: false, reason: e.message }));
  showAudition(audition);
  await reload();
  // Sources waiting for prechunking (e.g. copied into the folder by hand, or a first
  // start on the demo station): start setup right away, as a drop would.
  if (!run.running && view && (view.tracks.concat(view.jingles)).some((r) => r.status === "pending")) {
    run.running = true;
    renderOverall();
    call(CMD.setup_start).catch(() => {});
  }
}
