// Settings screen: every key of the three config files, grouped, validated by the engine.
// Errors appear next to their field; a change that re-encodes says what it redoes before
// it is applied. Remote pinning services have their own section (add, remove).
import { call, el } from "./api.js";
import { CMD, EVT } from "./bindings.js";

const GROUPS = ["Library", "Encoding", "On air", "Kubo", "Health"];
let fields = [];
let confirmArmed = false;

const id = (f) => `set-${f.file.replace(/\W/g, "_")}-${f.key}`;

function input(f) {
  const attrs = { id: id(f), name: `${f.file}:${f.key}`, "data-file": f.file, "data-key": f.key, "aria-describedby": id(f) + "-help" };
  let n;
  if (f.kind === "choice" || f.kind === "bool") {
    n = el("select", attrs, ...f.choices.map((c) => el("option", { value: c, text: c })));
  } else if (f.kind === "list") {
    n = el("textarea", { ...attrs, rows: 2, spellcheck: "false" });
  } else {
    const numeric = ["number", "integer", "optional_number"].includes(f.kind);
    n = el("input", { ...attrs, type: "text", inputmode: numeric ? "decimal" : null, spellcheck: "false",
      placeholder: f.kind.startsWith("optional") ? "empty = off / automatic" : null });
  }
  n.value = f.value;
  n.dataset.original = f.value;
  n.addEventListener("input", () => { markChanged(n); confirmArmed = false; hideImpact(); });
  return n;
}

// A folder setting: the text field and "Choose…", the system folder picker (outside the
// station folder the engine accepts only a folder picked there).
function folderInput(f) {
  const n = input(f);
  const pick = el("button", { type: "button", class: "pick-folder", text: "Choose…", title: `Pick the ${f.label.toLowerCase()} in a folder dialog` });
  pick.addEventListener("click", async () => {
    try {
      const path = await call(CMD.settings_pick_folder, { label: f.label });
      if (path === null || path === undefined) return;
      n.value = path;
      markChanged(n);
      confirmArmed = false;
      hideImpact();
    } catch (e) {
      document.getElementById("settings-status").textContent = e.message;
    }
  });
  return el("div", { class: "folder-field" }, n, pick);
}

function markChanged(n) {
  n.closest(".field").classList.toggle("changed", n.value !== n.dataset.original);
}

function render() {
  const host = document.getElementById("settings-groups");
  host.replaceChildren();
  for (const g of GROUPS) {
    const fs = el("fieldset", {}, el("legend", { text: g }));
    // The services' list has its own section (renderPinning), never a generic field.
    for (const f of fields.filter((x) => x.group === g && x.kind !== "services")) {
      fs.append(el("div", { class: "field", "data-field": `${f.file}:${f.key}` },
        el("label", { for: id(f) }, document.createTextNode(f.label), el("div", { class: "key", text: `${f.file} · ${f.key}` })),
        f.kind === "folder" ? folderInput(f) : input(f),
        el("div", { class: "help", id: id(f) + "-help", text: f.help }),
        el("div", { class: "error", role: "alert" })));
    }
    host.append(fs);
  }
}

function edits() {
  const out = {};
  for (const n of document.querySelectorAll("#settings-groups [data-key]")) {
    if (n.value === n.dataset.original) continue;
    (out[n.dataset.file] ||= {})[n.dataset.key] = n.value;
  }
  return out;
}

function showErrors(errors) {
  for (const f of document.querySelectorAll("#settings-groups .field")) {
    f.classList.remove("invalid");
    f.querySelector(".error").textContent = "";
  }
  const orphans = [];
  for (const e of errors) {
    const f = document.querySelector(`#settings-groups .field[data-field="${CSS.escape(e.file + ":" + e.key)}"]`);
    if (!f) { orphans.push(`${e.file}: ${e.message}`); continue; }
    f.classList.add("invalid");
    f.querySelector(".error").textContent = e.message;
  }
  const first = document.querySelector("#settings-groups .field.invalid");
  if (first) first.scrollIntoView({ block: "center" });
  return orphans;
}

function hideImpact() { document.getElementById("settings-impact").hidden = true; }

function showImpact(impact, confirm) {
  const box = document.getElementById("settings-impact");
  box.replaceChildren(
    el("strong", { text: confirm ? "Before applying:" : "Applied:" }),
    el("ul", {}, ...impact.summary.map((s) => el("li", { text: s }))));
  if (confirm) box.append(el("div", { class: "muted small", text: "Press Apply again to apply these changes." }));
  box.hidden = !impact.summary.length;
}

async function apply(ev) {
  ev.preventDefault();
  const status = document.getElementById("settings-status");
  const e = edits();
  if (!Object.keys(e).length) { status.textContent = "Nothing changed."; return; }
  try {
    const checked = await call(CMD.settings_check, { edits: e });
    const orphans = showErrors(checked.errors);
    if (checked.errors.length) {
      status.textContent = `${checked.errors.length} setting${checked.errors.length === 1 ? " is" : "s are"} not valid: nothing was saved.` + (orphans.length ? " " + orphans.join("; ") : "");
      hideImpact();
      return;
    }
    if (checked.impact.reencode_items > 0 && !confirmArmed) {
      confirmArmed = true;
      showImpact(checked.impact, true);
      status.textContent = "Check what this redoes, then press Apply again.";
      return;
    }
    const out = await call(CMD.settings_apply, { edits: e });
    showErrors(out.errors);
    if (!out.applied) { status.textContent = "Nothing was saved."; return; }
    confirmArmed = false;
    showImpact(out.impact, false);
    status.textContent = "Saved.";
    await load();
  } catch (err) {
    status.textContent = err.message;
  }
}

// ---- remote pinning ------------------------------------------------------------------
// The `remote_pinning` key (kind `services`, JSON text): listed with a Remove button
// each, and an "Add service" form. Names, endpoints and paths are shown as text only;
// the token never reaches the page.

const servicesField = () => fields.find((f) => f.kind === "services");

function services() {
  const f = servicesField();
  if (!f || !f.value.trim()) return [];
  try {
    const list = JSON.parse(f.value);
    return Array.isArray(list) ? list : [];
  } catch { return []; }
}

function pinStatus(text, bad = false, where = "pinning-status") {
  const s = document.getElementById(where);
  s.textContent = text;
  s.classList.toggle("bad", bad);
}

/** The settings after a pinning change: only the services' list is redrawn (edits in the
 * generic form are kept). */
function tookSettings(next) {
  const f = next.find((x) => x.kind === "services");
  const mine = servicesField();
  if (f && mine) mine.value = f.value;
  renderPinning();
}

/** Asks "Also delete this station's pins on <name>?": "delete", "keep" or "cancel". */
function askDelete(name) {
  const dialog = document.getElementById("pinning-dialog");
  document.getElementById("pinning-dialog-title").textContent = `Remove ${name}`;
  document.getElementById("pinning-dialog-text").textContent = `Also delete this station's pins on ${name}?`;
  return new Promise((resolve) => {
    dialog.returnValue = "cancel";
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "cancel"), { once: true });
    dialog.showModal();
  });
}

async function removeService(name, button) {
  const answer = await askDelete(name);
  if (answer !== "delete" && answer !== "keep") return;
  button.disabled = true;
  const result = (text, bad = false) => pinStatus(text, bad, "pinning-result");
  result(answer === "delete" ? `Deleting this station's pins on ${name}…` : `Removing ${name}…`);
  try {
    const out = await call(CMD.pinning_remove, { name, deleteRequests: answer === "delete" });
    tookSettings(out.settings);
    result(out.summary.join(" "), !!out.error);
  } catch (e) {
    button.disabled = false;
    result(e.message, true);
  }
}

function renderPinning() {
  const list = document.getElementById("pinning-services");
  const f = servicesField();
  if (f) document.getElementById("pinning-help").textContent = f.help;
  const svcs = services();
  list.replaceChildren(...(svcs.length ? svcs.map((s) => {
    const name = String(s.name ?? "");
    const remove = el("button", { type: "button", class: "ghost", text: "Remove", title: `Remove ${name} from remote_pinning` });
    remove.addEventListener("click", () => removeService(name, remove));
    return el("li", { "data-service": name },
      el("span", { class: "svc-name", text: name }), remove,
      el("span", { class: "svc-detail", text: String(s.endpoint ?? "") }),
      el("span", { class: "svc-detail", text: `token file: ${s.access_token_file ?? ""}` }));
  }) : [el("li", { class: "none", text: "No pinning service: the library lives on this machine's Kubo only." })]));
}

async function addService(ev) {
  ev.preventDefault();
  const name = document.getElementById("pin-name");
  const endpoint = document.getElementById("pin-endpoint");
  const token = document.getElementById("pin-token");
  if (!name.value.trim() || !endpoint.value.trim() || !token.value.trim()) {
    pinStatus("Give the service a name, its endpoint and its token file.", true);
    return;
  }
  pinStatus("Checking…");
  try {
    const next = await call(CMD.pinning_add, { name: name.value, endpoint: endpoint.value, tokenFile: token.value });
    tookSettings(next);
    pinStatus(`Added ${name.value.trim()}: the library is sent there at the next setup (the running stream picks it up when it restarts).`);
    for (const n of [name, endpoint, token]) n.value = "";
  } catch (e) {
    pinStatus(e.message, true);
  }
}

async function pickToken() {
  try {
    const path = await call(CMD.pinning_pick_token_file);
    if (path === null || path === undefined) return;
    document.getElementById("pin-token").value = path;
  } catch (e) {
    pinStatus(e.message, true);
  }
}

export async function load() {
  try {
    fields = await call(CMD.settings_get);
    render();
    renderPinning();
  } catch (e) {
    document.getElementById("settings-status").textContent = e.message;
  }
}

export function initSettings() {
  document.getElementById("settings-form").addEventListener("submit", apply);
  document.getElementById("settings-reset").addEventListener("click", () => {
    confirmArmed = false;
    hideImpact();
    showErrors([]);
    document.getElementById("settings-status").textContent = "";
    render();
  });
  document.getElementById("pinning-add").addEventListener("submit", addService);
  document.getElementById("pin-token-pick").addEventListener("click", pickToken);
  return load();
}
