// The console's entry point: header (station, Kubo), tabs, and the screens.
import { call } from "./api.js";
import { CMD, EVT } from "./bindings.js";
import { initLibrary, notice } from "./library.js";
import { initSettings } from "./settings.js";
import { initSchedule } from "./schedule.js";
import { initOnAir, setVisible as onAirVisible } from "./onair.js";

function showScreen(name) {
  for (const b of document.querySelectorAll(".tabs [data-screen]")) {
    b.setAttribute("aria-selected", String(b.dataset.screen === name));
  }
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  onAirVisible(name === "onair");
}

async function refreshKubo(start = false) {
  const light = document.getElementById("kubo-light");
  const title = document.getElementById("kubo-title");
  const detail = document.getElementById("kubo-detail");
  const startBtn = document.getElementById("kubo-start");
  const help = document.getElementById("kubo-help");
  let k;
  try {
    k = await call(start ? CMD.kubo_start : CMD.kubo_status);
  } catch (e) {
    notice("bad", "Kubo did not start", [e.message]);
    k = await call(CMD.kubo_status).catch(() => null);
    if (!k) return;
  }
  if (k.reachable) {
    light.className = "light ok";
    title.textContent = `Kubo ${k.version}${k.managed ? " (started by the console)" : ""}`;
    detail.textContent = `Peer ${k.peer_id} · API ${k.api} · gateway ${k.gateway}`;
    detail.title = detail.textContent;
    startBtn.hidden = true;
    help.hidden = true;
  } else {
    light.className = "light bad";
    title.textContent = "No Kubo";
    detail.textContent = `API ${k.api} · gateway ${k.gateway}`;
    detail.title = k.error || "";
    startBtn.hidden = !k.ipfs_binary;
    help.textContent = `${k.help || ""} (${k.error || "no answer"})`;
    help.hidden = false;
  }
}

async function boot() {
  for (const b of document.querySelectorAll(".tabs [data-screen]")) {
    b.addEventListener("click", () => showScreen(b.dataset.screen));
  }
  const info = await call(CMD.station_info).catch((e) => ({ dir: e.message, name: "" }));
  const path = document.getElementById("station-path");
  path.textContent = info.dir;
  path.title = info.dir;
  document.title = `IPFS Station — ${info.name}`;
  document.getElementById("kubo-retry").addEventListener("click", () => refreshKubo());
  const startBtn = document.getElementById("kubo-start");
  startBtn.addEventListener("click", async () => {
    startBtn.disabled = true;
    startBtn.textContent = "Starting…";
    await refreshKubo(true);
    startBtn.disabled = false;
    startBtn.textContent = "Start Kubo";
  });
  await initLibrary();
  await initOnAir();
  // A stream that kept running while the console was closed: show it.
  const v = await call(CMD.onair_view).catch(() => null);
  if (v && (v.on_air || v.stream_pid)) showScreen("onair");
  refreshKubo();
  setInterval(() => refreshKubo(), 15000);
  initSettings();
  initSchedule();
}

boot();
