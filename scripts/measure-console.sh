#!/usr/bin/env bash
# Measures the console with a 1,000-item library: time from launch to the first drawn
# library (cold = first launch after the build, warm = the launches after it), and idle
# memory (RSS of the app process and of its WebKit processes) 10 s after that paint.
# Runs the release build under Xvfb; prints a Markdown table for the README.
#   scripts/measure-console.sh [items]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS="${1:-1000}"
cargo build --release -q -p ipfs-station-console --bin ipfs-station-console
cargo build --release -q --bin station
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
ST="$WORK/station"
target/release/station init "$ST" >/dev/null
python3 - "$ST" "$ITEMS" <<'PY'
import hashlib, json, os, sys
st, n = sys.argv[1], int(sys.argv[2])
items = []
for i in range(n):
    src = os.path.join(st, "music", f"Artist {i % 37:02d} - Song {i:04d}.ogg")
    data = f"synthetic source {i}".encode() * 8
    with open(src, "wb") as f:
        f.write(data)
    segs = [{"file": f"seg_{k:05d}.ts", "cid": "bafkreib" + hashlib.sha256(f"{i}/{k}".encode()).hexdigest()[:51],
             "duration": 6.0, "bytes": 98000} for k in range(35)]
    items.append({"id": "t-" + hashlib.sha256(data).hexdigest()[:16], "kind": "track", "title": f"Song {i:04d}",
                  "artist": f"Artist {i % 37:02d}", "source": src,
                  "source_fingerprint": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)},
                  "source_mtime": int(os.stat(src).st_mtime), "duration": 210.0,
                  "loudness": {"measured_lufs": -14.2, "target_lufs": -16.0, "applied_gain_db": -1.8},
                  "encode_hash": "synthetic", "segments": segs})
m = {"format": 1, "config_hash": "synthetic", "segment_duration": 6.0, "jingle_cycle": 3, "items": items}
with open(os.path.join(st, "data/processed/manifest.json"), "w") as f:
    json.dump(m, f)
PY
# The bundled jingles would be prechunked on open; keep the measurement to the library.
rm -f "$ST"/jingles/*
DISPLAY_NUM=:$((RANDOM % 400 + 200))
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
sleep 1
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Private (not shared with other processes, e.g. library code) memory of the app process.
private_kb() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s + 0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
echo "| launch | library | first library paint | app RSS (private) | WebKit processes RSS | total RSS |"
echo "|---|---|---|---|---|---|"
EMPTY="$WORK/empty"
target/release/station init "$EMPTY" >/dev/null
rm -f "$EMPTY"/jingles/*
for run in cold warm warm baseline; do
  STN="$ST"; ROWS="$ITEMS items"
  if [[ $run == baseline ]]; then STN="$EMPTY"; ROWS="empty"; fi
  LOG="$WORK/$run.log"
  DISPLAY="$DISPLAY_NUM" XDG_CONFIG_HOME="$WORK/config" ALSA_CONFIG_PATH=/dev/null \
    target/release/ipfs-station-console --station "$STN" >"$LOG" 2>&1 &
  APP=$!
  for _ in $(seq 1 200); do grep -q "first library paint" "$LOG" && break; sleep 0.1; done
  PAINT=$(grep -o "first library paint [0-9]* ms" "$LOG" | head -1 | grep -o "[0-9]*" || echo "?")
  sleep 10
  APP_KB=$(rss_kb "$APP")
  PRIV_KB=$(private_kb "$APP")
  WK_KB=0
  for c in $(pgrep -P "$APP" || true); do WK_KB=$((WK_KB + $(rss_kb "$c"))); done
  echo "| $run | $ROWS | ${PAINT} ms | $((APP_KB / 1024)) MB ($((PRIV_KB / 1024)) MB) | $((WK_KB / 1024)) MB | $(((APP_KB + WK_KB) / 1024)) MB |"
  kill "$APP"; wait "$APP" 2>/dev/null || true
done
