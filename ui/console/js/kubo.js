// What the header knows about Kubo, shared by the screens: whether one answers, and
// whether an `ipfs` program is there for Start Kubo. main.js asks; the others listen.

const state = { known: false, reachable: false, ipfsBinary: false };
const listeners = [];

/** The last answer: {known, reachable, ipfsBinary}. */
export function kubo() {
  return state;
}

/** Records an answer of `kubo_status` and tells every listener when it changed. */
export function setKubo(k) {
  const next = { known: true, reachable: !!k.reachable, ipfsBinary: !!k.ipfs_binary };
  const changed = next.reachable !== state.reachable || next.ipfsBinary !== state.ipfsBinary || !state.known;
  const was = { ...state };
  Object.assign(state, next);
  if (changed) for (const f of listeners) f(state, was);
}

/** Calls `f(now, before)` whenever the answer changes. */
export function onKuboChange(f) {
  listeners.push(f);
}
