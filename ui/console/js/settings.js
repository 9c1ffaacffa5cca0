// Settings screen: every key of the three config files, grouped, validated by the engine.
// Errors appear next to their field; a change that re-encodes says what it redoes before
// it is applied.
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
    for (const f of fields.filter((x) => x.group === g)) {
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

export async function load() {
  try {
    fields = await call(CMD.settings_get);
    render();
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
  return load();
}
