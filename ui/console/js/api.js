// Bridge to the Rust side. Every call goes through Tauri's IPC (window.__TAURI__, enabled
// by app.withGlobalTauri); the page itself has no network access (see the CSP).

const tauri = window.__TAURI__;

/** Calls a console command; rejects with {code, message}. */
export async function call(cmd, args = {}) {
  if (!tauri) throw { code: "no_tauri", message: "This page runs inside the IPFS Station console." };
  try {
    return await tauri.core.invoke(cmd, args);
  } catch (e) {
    if (e && typeof e === "object" && "message" in e) throw e;
    throw { code: "error", message: String(e) };
  }
}

/** Listens to a console event; the handler gets the payload. */
export function on(event, handler) {
  if (!tauri) return Promise.resolve(() => {});
  return tauri.event.listen(event, (e) => handler(e.payload));
}

/** Text helpers shared by the screens. */
export function fmtDuration(s) {
  if (s == null || !isFinite(s)) return "";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) n.append(c);
  return n;
}

/** A "details" toggle: `summary` opens the technical lines (strings) under it. */
export function details(lines, summary = "details") {
  const d = el("details", { class: "details" }, el("summary", { text: summary }));
  for (const l of lines.filter((x) => x)) d.append(el("div", { class: "detail-line", text: l }));
  return d;
}
