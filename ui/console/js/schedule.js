// Schedule editor (Settings screen): schedule.json as text, validated by the engine as
// you type (the block and field of the first problem named), saved atomically and set up
// at once; the streamer takes the new programme at the next boundary.
import { call } from "./api.js";
import { CMD } from "./bindings.js";
import { notice } from "./library.js";

let saved = "";
let exists = false;
let timer = null;

function status(view) {
  const box = document.getElementById("schedule-status");
  const panel = document.querySelector(".schedule-editor");
  const text = document.getElementById("schedule-text").value;
  if (view.error) {
    box.className = "schedule-status bad";
    box.textContent = view.error;
  } else {
    box.className = "schedule-status ok";
    box.textContent = view.blocks.length
      ? `Valid: ${view.blocks.length} block${view.blocks.length === 1 ? "" : "s"} (${view.blocks.join(", ")}) in ${view.timezone}; the default fills the other hours.`
      : `Valid: no blocks, the default plays all day (${view.timezone}).`;
    if (!exists && text === saved) box.textContent = "No schedule yet: the whole library plays in one rotation. Edit this template and save to add programme blocks.";
  }
  panel.classList.toggle("invalid", !!view.error);
  document.getElementById("schedule-save").disabled = !!view.error || (exists && text === saved);
  document.getElementById("schedule-revert").disabled = text === saved;
  document.getElementById("schedule-remove").hidden = !exists;
}

async function check() {
  const text = document.getElementById("schedule-text").value;
  try { status(await call(CMD.schedule_check, { text })); }
  catch (e) { status({ error: e.message, blocks: [] }); }
}

export async function loadSchedule() {
  try {
    const v = await call(CMD.schedule_get);
    saved = v.text;
    exists = v.exists;
    document.getElementById("schedule-text").value = v.text;
    document.getElementById("schedule-path").textContent = v.path;
    status(v);
  } catch (e) {
    status({ error: e.message, blocks: [] });
  }
}

async function save(text) {
  const b = document.getElementById("schedule-save");
  b.disabled = true;
  try {
    const r = await call(CMD.schedule_save, { text });
    notice("ok", text.trim() ? "Schedule saved: setting it up" : "Schedule removed: one rotation all day",
      ["On air, the new programme takes over at the next item boundary (a hard block at the next segment)."], { timeout: 8000, key: "schedule" });
    saved = r.view.text; exists = r.view.exists;
    document.getElementById("schedule-text").value = r.view.text;
    status(r.view);
  } catch (e) {
    notice("bad", "Schedule not saved", [e.message], { key: "schedule" });
    b.disabled = false;
  }
}

export function initSchedule() {
  const t = document.getElementById("schedule-text");
  t.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 300); });
  document.getElementById("schedule-save").addEventListener("click", () => save(t.value));
  document.getElementById("schedule-revert").addEventListener("click", () => { t.value = saved; check(); });
  const rm = document.getElementById("schedule-remove");
  rm.addEventListener("click", () => {
    if (!rm.dataset.armed) {
      rm.dataset.armed = "1"; rm.textContent = "Remove it? (kept as schedule.json.previous)";
      setTimeout(() => { delete rm.dataset.armed; rm.textContent = "Remove the schedule"; }, 4000);
      return;
    }
    delete rm.dataset.armed; rm.textContent = "Remove the schedule";
    save("");
  });
  return loadSchedule();
}
