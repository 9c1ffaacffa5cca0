// The console's entry point: header (station, Kubo), tabs, and the screens.
import { call, el, details } from "./api.js";
import { CMD, EVT } from "./bindings.js";
import { setKubo } from "./kubo.js";
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
    notice("bad", "Kubo did not start: the details say why.", [], { more: [e.message] });
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
    // Say it once: the engine's one sentence with the one action; the rest is detail.
    const open = help.querySelector("details")?.open;
    help.replaceChildren(el("span", { class: "help-text", text: k.help || "Kubo does not answer, so nothing is published yet." }),
      details([
        k.error,
        k.ipfs_binary
          ? `Start Kubo runs ${k.ipfs_binary} as a daemon on this station's own repo (data/kubo) and stops it when you quit, unless the station is on air. To use a Kubo of your own instead, start it with \`ipfs daemon\` or set the Kubo API in Settings.`
          : "If your Kubo listens elsewhere, set the Kubo API in Settings.",
        "Until Kubo answers, everything but publishing works: adding music, prechunking, the rotation, and Preview locally on the On air screen.",
      ]));
    if (open) help.querySelector("details").open = true;
    help.hidden = false;
  }
  setKubo(k);
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
