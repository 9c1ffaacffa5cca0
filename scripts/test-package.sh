#!/usr/bin/env bash
# Tests the desktop package the way an operator gets it:
#   scripts/test-package.sh --debug   the CI package (what src-tauri/tests/package.rs runs
#                                     in the test suite, from the suite's debug build)
#   scripts/test-package.sh           the release package
#
#   1. builds it (scripts/package.sh, with the same flag) and reads the .deb and .rpm:
#      files, dependencies;
#   2. installs the .deb with apt-get (sudo when not root);
#   3. checks the installed layout (console and station side by side, desktop entry, icons,
#      units), the versions, the shared libraries, and that no installed file names the
#      build tree;
#   4. runs the INSTALLED `station init` + `station setup` on generated audio against the
#      Kubo double, with the build tree hidden (an empty tmpfs over it, in a mount
#      namespace of its own), and checks every segment was added and is served;
#   5. checks the systemd user units: `systemd-analyze verify --user` (no finding at all), the
#      instance name resolving to the station folder (`systemd-analyze condition`), their
#      hardening (the settings, and `systemd-analyze security --offline` at or below 6.5),
#      then runs each unit's ExecStart= as systemd would, on air against the double (the listener
#      page it publishes is the embedded one, player included), and stops it with the
#      unit's KillSignal= within its TimeoutStopSec=;
#   6. starts the installed console under Xvfb, build tree hidden, and checks it draws its
#      window and found `station` beside itself;
#   7. removes the package.
# Every step fails loudly; nothing is skipped. The package is removed whatever happens.
# Artifacts (screenshot, logs) go to $CARGO_TARGET_DIR/tmp/package-test/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
flag=()
case "${1:-}" in
"") ;;
--debug) flag=(--debug) ;;
*)
  echo "usage: scripts/test-package.sh [--debug]" >&2
  exit 2
  ;;
esac
target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
pkg=ipfs-station
# The installed programs must find everything on their own: no override of the station
# binary or folder, and none of the library paths `cargo test` adds (they name the tree).
unset IPFS_STATION_BIN IPFS_STATION_DIR LD_LIBRARY_PATH
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

step() { printf '\n== %s\n' "$*" >&2; }
fail() {
  echo "test-package.sh: FAILED: $*" >&2
  exit 1
}
ok() { echo "   ok: $*" >&2; }

out="$target_dir/tmp/package-test"
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
pids=()
installed_by_us=0
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do
    # Each was started in a process group of its own (setsid): end the group.
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((installed_by_us)) && dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    echo "== removing $pkg" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq -o DPkg::Lock::Timeout=300 "$pkg" >/dev/null || rc=1
  fi
  rm -rf "$tmp"
  if ((rc != 0)); then echo "test-package.sh: logs are in $out" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

# Starts "$@" in a process group of its own, output to $out/$name.log; sets $last_pid.
start_bg() {
  local name="$1"
  shift
  setsid "$@" >"$out/$name.log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}
# Waits up to $1 seconds for the command "${@:2}" to succeed.
wait_for() {
  local secs="$1"
  shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
  fail "$pkg is installed already; this test installs and removes it: apt-get remove $pkg first"
fi

# ---------------------------------------------------------------------------------------
step "1. build the package (scripts/package.sh)"
scripts/package.sh "${flag[@]}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' src-tauri/Cargo.toml | head -n1)"
arch="$(dpkg --print-architecture)"
deb="$target_dir/dist/${pkg}_${version}_${arch}.deb"
[[ -f "$deb" ]] || fail "no $deb"
rpm_file="$(ls "$target_dir/dist/${pkg}-${version}-"*.rpm)"
[[ -f "$rpm_file" ]] || fail "no .rpm in $target_dir/dist"

[[ "$(dpkg-deb -f "$deb" Package)" == "$pkg" ]] || fail "the .deb's package name is not $pkg"
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "the .deb's version is not $version"
depends="$(dpkg-deb -f "$deb" Depends)"
for d in ffmpeg libwebkit2gtk-4.1-0 libasound2; do
  tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//' | grep -qx "$d" || fail "Depends: lacks $d ($depends)"
done
# The demo station the console makes on first start takes its music from lincity-ng-data.
[[ "$(dpkg-deb -f "$deb" Recommends)" == lincity-ng-data ]] || fail "Recommends: is not lincity-ng-data"
ok "Depends: $depends; Recommends: lincity-ng-data"
expected_files=(
  /usr/bin/ipfs-station-console
  /usr/bin/station
  "/usr/share/applications/IPFS Station.desktop"
  /usr/share/icons/hicolor/32x32/apps/ipfs-station-console.png
  /usr/share/icons/hicolor/128x128/apps/ipfs-station-console.png
  /usr/share/icons/hicolor/256x256/apps/ipfs-station-console.png
  /usr/share/icons/hicolor/512x512/apps/ipfs-station-console.png
  /usr/share/icons/hicolor/scalable/apps/ipfs-station-console.svg
  /usr/lib/systemd/user/station-stream@.service
  /usr/lib/systemd/user/station-health@.service
  /usr/share/doc/ipfs-station/README.md
)
# Files only (not directories), as absolute paths; a name with spaces is whole from the
# sixth field of dpkg-deb -c on.
deb_files="$(dpkg-deb -c "$deb" | grep -v '^d' | sed -E 's/^([^ ]+ +){5}//; s#^\./##; s#^/?#/#' | sort)"
for f in "${expected_files[@]}"; do
  grep -qxF "$f" <<<"$deb_files" || fail "the .deb lacks $f; it holds:"$'\n'"$deb_files"
done
ok "the .deb holds the console, station, desktop entry, icons, units and README ($(wc -l <<<"$deb_files") files)"
rpm_files="$(rpm -qlp "$rpm_file" 2>/dev/null | sort)"
for f in "${expected_files[@]}"; do
  grep -qxF "$f" <<<"$rpm_files" || fail "the .rpm lacks $f; it holds:"$'\n'"$rpm_files"
done
rpm_requires="$(rpm -qpR "$rpm_file" 2>/dev/null)"
for r in /usr/bin/ffmpeg 'libasound.so.2()(64bit)' 'libwebkit2gtk-4.1.so.0()(64bit)'; do
  grep -qxF "$r" <<<"$(sed 's/ *$//' <<<"$rpm_requires")" || fail "the .rpm does not require $r:"$'\n'"$rpm_requires"
done
ok "the .rpm holds the same files and requires ffmpeg, ALSA and WebKitGTK 4.1"

# ---------------------------------------------------------------------------------------
step "2. install it: apt-get install -y $deb"
installed_by_us=1
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$deb" >"$out/apt-install.log" 2>&1 ||
  { cat "$out/apt-install.log" >&2; fail "apt-get install"; }
dpkg-query -W -f='${Status}' "$pkg" | grep -q "ok installed" || fail "$pkg is not installed after apt-get install"
ok "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg")"

# ---------------------------------------------------------------------------------------
step "3. the installed layout"
console_bin="$(command -v ipfs-station-console)" || fail "ipfs-station-console is not on PATH"
station_bin="$(command -v station)" || fail "station is not on PATH"
[[ "$console_bin" == /usr/bin/ipfs-station-console && "$station_bin" == /usr/bin/station ]] ||
  fail "expected /usr/bin/ipfs-station-console and /usr/bin/station, got $console_bin and $station_bin"
# The console starts `station` from beside its own executable (console::onair::station_bin:
# IPFS_STATION_BIN, then <dir of the console>/station, then PATH).
[[ -x "$(dirname "$(readlink -f "$console_bin")")/station" ]] || fail "no station beside the console"
ok "station is beside the console in /usr/bin (the sidecar lost its target-triple suffix)"
v="$(env -u DISPLAY -u WAYLAND_DISPLAY ipfs-station-console --version)" || fail "ipfs-station-console --version"
[[ "$v" == "ipfs-station-console $version" ]] || fail "ipfs-station-console --version printed '$v'"
v2="$(station --version)" || fail "station --version"
[[ "$v2" == "station $version" ]] || fail "station --version printed '$v2'"
ok "$v (without a display); $v2"
for b in "$console_bin" "$station_bin"; do
  if ldd "$b" | grep -q "not found"; then fail "$b lacks shared libraries: $(ldd "$b" | grep 'not found')"; fi
done
ok "every shared library of both binaries resolves"
desktop="/usr/share/applications/IPFS Station.desktop"
grep -qx 'Exec=ipfs-station-console' "$desktop" || fail "$desktop: Exec= is not ipfs-station-console"
grep -qx 'Icon=ipfs-station-console' "$desktop" || fail "$desktop: Icon= is not ipfs-station-console"
desktop-file-validate "$desktop" || fail "desktop-file-validate $desktop"
ok "desktop entry valid: $(grep -E '^(Name|Exec|Icon|Categories)=' "$desktop" | tr '\n' ' ')"

mapfile -t files < <(dpkg -L "$pkg" | while read -r f; do [[ -f "$f" ]] && echo "$f"; done)
((${#files[@]} >= ${#expected_files[@]})) || fail "dpkg -L $pkg lists only ${#files[@]} files"
# The build tree, always; the cargo home too in the release package (the CI package keeps
# the dependencies' panic locations there: see scripts/package.sh).
never=("$root" "$target_dir")
((${#flag[@]})) || never+=("$cargo_home")
patterns=()
for p in "${never[@]}"; do patterns+=(-e "$p"); done
leaks=()
for f in "${files[@]}"; do
  if grep -qF "${patterns[@]}" "$f"; then leaks+=("$f"); fi
done
((${#leaks[@]} == 0)) || fail "installed files name ${never[*]}: ${leaks[*]}"
ok "none of the ${#files[@]} installed files names ${never[*]}"

# ---------------------------------------------------------------------------------------
step "4. the installed station: init + setup on generated audio, against the Kubo double"
# The test suite's own build (the same command line: nothing to do after it).
cargo build --locked --workspace --all-targets
double_bin="$target_dir/debug/kubo-double"
cp "$double_bin" "$tmp/kubo-double"
api_port="$(free_port)"
gw_port="$(free_port)"
while [[ "$gw_port" == "$api_port" ]]; do gw_port="$(free_port)"; done
start_bg kubo-double "$tmp/kubo-double" --api "127.0.0.1:$api_port" --gateway "127.0.0.1:$gw_port"
api="http://127.0.0.1:$api_port"
gw="http://127.0.0.1:$gw_port"
wait_for 30 curl -sf -X POST "$api/api/v0/version" || fail "the Kubo double does not answer at $api"
ok "Kubo double: API $api, gateway $gw"

st="$tmp/radio station"
# Runs the installed station with the build tree and the cargo home hidden under empty
# tmpfs mounts: whatever it needs must come from the package.
# `"${hide[@]}" cmd args...` execs cmd in place (same pid), so it also runs in background.
{
  echo 'set -e'
  # Deepest first, so that a folder inside another still exists when it is covered.
  while read -r d; do
    [[ -d "$d" ]] && echo "mount -t tmpfs tmpfs $(printf '%q' "$d")"
  done < <(printf '%s\n' "$root" "$target_dir" "$cargo_home" | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
  echo "test -z \"\$(ls -A $(printf '%q' "$root"))\""
  echo 'exec "$@"'
} >"$tmp/hide.sh"
hide=(unshare --mount bash "$tmp/hide.sh")
if [[ $(id -u) -ne 0 ]]; then hide=(unshare --user --map-root-user --mount bash "$tmp/hide.sh"); fi
hidden() { "${hide[@]}" "$@"; }
hidden true || fail "cannot hide the build tree in a mount namespace (unshare --mount)"
hidden /usr/bin/station init "$st" >"$out/init.log" 2>&1 || { cat "$out/init.log" >&2; fail "station init"; }
shopt -s nullglob
jingles=("$st/jingles/"*)
shopt -u nullglob
((${#jingles[@]} >= 1)) || fail "station init wrote no bundled jingles into $st/jingles"
ok "station init (build tree hidden): ${#jingles[@]} bundled jingle(s): $(cd "$st/jingles" && ls | tr '\n' ' ')"
python3 - "$st" "$api" "$gw" <<'EOF'
import json, sys
st, api, gw = sys.argv[1:4]
def edit(name, **kv):
    p = f"{st}/{name}"
    with open(p) as f:
        v = json.load(f)
    v.update(kv)
    with open(p, "w") as f:
        json.dump(v, f, indent=2)
edit("streaming.config.json", kubo_api=api)
edit("health.config.json", gateways=[gw], public_gateways=[], interval=2)
EOF
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=440:duration=20" \
  -metadata title="Tone 440" -metadata artist="Package Test" "$st/music/tone-440.flac"
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=660:duration=14" \
  -metadata title="Tone 660" -metadata artist="Package Test" "$st/music/tone-660.mp3"
hidden /usr/bin/station setup --station "$st" --quiet >"$out/setup.log" 2>&1 ||
  { cat "$out/setup.log" >&2; fail "station setup exited $?"; }
cat "$out/setup.log" >&2
added="$(sed -n 's/.* \([0-9][0-9]*\) segments added in .*/\1/p' "$out/setup.log")"
[[ -n "$added" ]] || fail "station setup did not report the segments it added"
read -r total with_cid items < <(python3 - "$st" <<'EOF'
import json, sys
m = json.load(open(f"{sys.argv[1]}/data/processed/manifest.json"))
segs = [s for i in m["items"] for s in i["segments"]]
print(len(segs), sum(1 for s in segs if s.get("cid")), len(m["items"]))
EOF
)
((total > 0)) || fail "the manifest holds no segments"
((added == total)) || fail "setup added $added segments; the manifest holds $total"
((with_cid == total)) || fail "only $with_cid of $total segments have a CID"
# Every segment is in the node: the gateway serves each CID with the file's bytes.
python3 - "$st" "$gw" <<'EOF' || fail "a segment is not served by the double's gateway as written"
import json, sys, urllib.request
st, gw = sys.argv[1:3]
m = json.load(open(f"{st}/data/processed/manifest.json"))
for item in m["items"]:
    for s in item["segments"]:
        body = urllib.request.urlopen(f"{gw}/ipfs/{s['cid']}", timeout=10).read()
        local = open(f"{st}/data/processed/items/{item['id']}/{s['file']}", "rb").read()
        if body != local:
            sys.exit(f"{item['id']}/{s['file']}: gateway bytes differ")
EOF
ok "setup added every segment: $added of $total (in $items items), each with a CID the gateway serves byte for byte"

# ---------------------------------------------------------------------------------------
step "5. the systemd user units"
units=(station-stream@.service station-health@.service)
instance="$(systemd-escape --path "$st")"
export XDG_RUNTIME_DIR="$tmp/xdg-runtime"
mkdir -m 700 "$XDG_RUNTIME_DIR"
# No user manager runs in a container; with a runtime dir, systemd-analyze loads the units
# from the user search path (/usr/lib/systemd/user) on its own, checks every directive and
# that ExecStart='s program exists. It exits 0 on unknown keys and bad values (it only
# warns), so any output at all counts as a failure.
verify() { systemd-analyze verify --user --man=no "$@" 2>&1; }
# The checker itself: a unit with a misspelt key and a bad signal must be reported.
mkdir "$tmp/badunit"
sed 's/^Restart=/Restrat=/; s/^KillSignal=.*/KillSignal=SIGNOPE/' \
  /usr/lib/systemd/user/station-stream@.service >"$tmp/badunit/bad@.service"
[[ -n "$(verify "$tmp/badunit/bad@x.service" || true)" ]] ||
  fail "systemd-analyze verify did not report a broken unit: the check below would prove nothing"
for u in "${units[@]}"; do
  [[ -f "/usr/lib/systemd/user/$u" ]] || fail "/usr/lib/systemd/user/$u is not installed"
  name="${u/@/@$instance}"
  report="$(verify "$name")" || fail "systemd-analyze verify --user $name: $report"
  [[ -z "$report" ]] || fail "systemd-analyze verify --user $name reported:"$'\n'"$report"
  # The instance name resolves to the station folder: the unit asserts its config exists.
  cond="$(systemd-analyze condition --user --unit="$name" 2>&1)" ||
    fail "systemd-analyze condition --user --unit=$name: $cond"
  grep -qF "AssertPathExists=$st/" <<<"$cond" || fail "$name does not resolve to $st: $cond"
  bad="${u/@/@$(systemd-escape --path "$tmp/not-a-station")}"
  if systemd-analyze condition --user --unit="$bad" >/dev/null 2>&1; then
    fail "$bad (no station there) passes its assertion"
  fi
  ok "$name: verify clean; %f is \"$st\"; an instance without a station fails its assertion"
done

# Their hardening (README "Services: hardening"): each setting a user manager applies
# without privileges, and the exposure `systemd-analyze security` gives the unit (0 best,
# 10 worst). 6.5 is what the units measure (systemd 252; without the hardening: 9.8):
# any loosening raises it above the threshold.
hardening=(NoNewPrivileges=yes LockPersonality=yes RestrictRealtime=yes RestrictSUIDSGID=yes
  RestrictNamespaces=yes SystemCallArchitectures=native MemoryDenyWriteExecute=yes UMask=0077
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" SystemCallFilter=@system-service
  SystemCallFilter=~@privileged SystemCallErrorNumber=EPERM)
max_exposure=6.5
# Sets $level to the exposure of unit file $1 as printed ("6.5"); returns 1 when it is
# above $max_exposure (--threshold is in tenths). No level to read fails the test.
exposure() {
  local report rc=0
  report="$(systemd-analyze security --offline=true --user --no-pager \
    --threshold="${max_exposure/./}" "$1" 2>&1)" || rc=$?
  level="$(sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\) .*/\1/p' <<<"$report" | tail -n1)"
  [[ -n "$level" ]] || fail "systemd-analyze security --offline=true --user $1 printed no exposure level:"$'\n'"$report"
  return "$rc"
}
# The checker itself: the stream unit without its hardening must be over the threshold.
keys="$(printf '%s\n' "${hardening[@]}" | sed 's/=.*//' | sort -u | paste -sd'|')"
grep -vE "^($keys)=" /usr/lib/systemd/user/station-stream@.service >"$tmp/badunit/bare@.service"
if exposure "$tmp/badunit/bare@.service"; then
  fail "the stream unit without its hardening scores $level, not above $max_exposure: the check below would prove nothing"
fi
bare="$level"
for u in "${units[@]}"; do
  f="/usr/lib/systemd/user/$u"
  for h in "${hardening[@]}"; do
    grep -qxF "$h" "$f" || fail "$u lacks $h"
  done
  exposure "$f" || fail "$u: exposure $level is above $max_exposure (systemd-analyze security --offline=true --user $f)"
  ok "$u: ${#hardening[@]} hardening settings; exposure $level (at most $max_exposure; $bare without them)"
done

# ExecStart=, KillSignal= and TimeoutStopSec= of a unit, with %f (the unescaped instance
# path) resolved for our station, as systemd would.
unit_value() { sed -n "s/^$2=//p" "/usr/lib/systemd/user/$1" | tail -n1; }
exec_of() {
  local line
  line="$(unit_value "$1" ExecStart)"
  line="${line//%f/$(systemd-escape --unescape --path "$instance")}"
  [[ "$line" != *%* ]] || fail "$1: ExecStart= has a specifier this test does not resolve: $line"
  echo "$line"
}
# Stops process $1 (its group) with the unit's KillSignal= and checks it exits 0 within
# the unit's TimeoutStopSec=.
stop_like_systemd() {
  local unit="$1" pid="$2" sig timeout t0 rc=0
  sig="$(unit_value "$unit" KillSignal)"
  timeout="$(unit_value "$unit" TimeoutStopSec)"
  [[ "$sig" == SIGTERM && "$timeout" =~ ^[0-9]+$ ]] || fail "$unit: KillSignal=$sig TimeoutStopSec=$timeout"
  [[ "$(cat "/proc/$pid/comm")" == station ]] || fail "$unit: pid $pid is not the station process"
  t0=$EPOCHREALTIME
  # KillMode=mixed: the signal goes to the main process only.
  kill "-${sig#SIG}" "$pid"
  local deadline=$((SECONDS + timeout))
  while running "$pid"; do
    ((SECONDS < deadline)) || fail "$unit: still running ${timeout}s after $sig (systemd would SIGKILL it)"
    sleep 0.1
  done
  stop_secs="$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.1f}')")"
  wait "$pid" || rc=$?
  ((rc == 0)) || fail "$unit: exited $rc after $sig"
}
# Whether process $1 runs (a zombie that waits for our `wait` does not).
running() { [[ -r "/proc/$1/stat" ]] && [[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

cmd="$(exec_of station-stream@.service)"
[[ "$cmd" == "/usr/bin/station stream --station $st" ]] || fail "station-stream@: ExecStart= is '$cmd'"
start_bg stream "${hide[@]}" /usr/bin/station stream --station "$st"
stream_pid=$last_pid
published() {
  station status --station "$st" --json >"$tmp/status.json" &&
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["on_air"] and (s.get("last_publish") or {}).get("ok") and s.get("ipns_name") else 1)' "$tmp/status.json"
}
wait_for 60 published || { cat "$out/stream.log" >&2; fail "the streamer is not on air with a publish within 60 s"; }
name="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ipns_name"])' "$tmp/status.json")"
site="$gw/ipns/$name/"
live="$(curl -sf "${site}live.m3u8")" || fail "${site}live.m3u8 does not answer"
[[ "$(head -n1 <<<"$live")" == "#EXTM3U" ]] || fail "${site}live.m3u8 is not a playlist: $live"
ok "ExecStart of station-stream@ ($cmd) is on air: ${site}live.m3u8 serves the live playlist"
# The station's site holds the listener page embedded in the binary, player included.
for f in index.html listener.js style.css vendor/hls.min.js; do
  curl -sf "$site$f" -o "$tmp/page-file" || fail "the station's site $site lacks $f"
  cmp -s "$tmp/page-file" "ui/listener/$f" || fail "the site's $f differs from ui/listener/$f"
done
curl -sf "${site}station.json" | grep -qF "$name" || fail "the site's station.json does not name $name"
ok "the station's site $site: its four page files are ui/listener's byte for byte (hls.min.js $(stat -c %s ui/listener/vendor/hls.min.js) bytes), station.json names the stream"

cmd="$(exec_of station-health@.service)"
[[ "$cmd" == "/usr/bin/station health --station $st" ]] || fail "station-health@: ExecStart= is '$cmd'"
start_bg health "${hide[@]}" /usr/bin/station health --station "$st"
health_pid=$last_pid
wait_for 60 test -s "$st/data/state/health.json" || { cat "$out/health.log" >&2; fail "the health monitor wrote no health.json within 60 s"; }
ok "ExecStart of station-health@ ($cmd) checks the stream: $(python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); print("verdict", h.get("verdict", h.get("status", "?")))' "$st/data/state/health.json")"

stop_like_systemd station-health@.service "$health_pid"
ok "station-health@ stopped cleanly ${stop_secs}s after SIGTERM"
stop_like_systemd station-stream@.service "$stream_pid"
grep -qx "Off air." "$out/stream.log" || fail "the streamer did not say \"Off air.\" on SIGTERM"
ok "station-stream@ stopped cleanly ${stop_secs}s after SIGTERM and said \"Off air.\""

# ---------------------------------------------------------------------------------------
step "6. the installed console under Xvfb"
# Xvfb picks a free display itself and writes its number to fd 3 once it accepts
# connections (it also clears lock files of servers that are gone).
setsid Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/xdisplay" >"$out/xvfb.log" 2>&1 &
pids+=("$!")
wait_for 30 test -s "$tmp/xdisplay" || fail "Xvfb did not start: $(tail -5 "$out/xvfb.log")"
display=":$(tr -dc 0-9 <"$tmp/xdisplay")"
wait_for 20 xdpyinfo -display "$display" || fail "Xvfb $display did not start"
# A home of its own (the console remembers the station it opened) and ALSA's null device.
home="$tmp/home"
mkdir -p "$home"
printf 'pcm.!default { type null }\nctl.!default { type hw card 0 }\n' >"$tmp/asound.conf"
start_bg console "${hide[@]}" env DISPLAY="$display" HOME="$home" XDG_CONFIG_HOME="$home/.config" \
  XDG_DATA_HOME="$home/.local/share" XDG_CACHE_HOME="$home/.cache" ALSA_CONFIG_PATH="$tmp/asound.conf" \
  /usr/bin/ipfs-station-console --station "$st"
console_pid=$last_pid
has_window() { xwininfo -display "$display" -root -tree | grep -q '"IPFS Station"'; }
wait_for 30 has_window || { cat "$out/console.log" >&2; fail "no \"IPFS Station\" window within 30 s"; }
# The page loads and draws its library: screenshots until one shows it (a loaded machine
# takes longer than an idle one), then a few seconds more running.
drawn() {
  DISPLAY="$display" import -window root "$out/console.png" &&
    read -r colors stddev < <(identify -format '%k %[fx:standard_deviation]\n' "$out/console.png") &&
    ((colors >= 64)) && python3 -c "import sys; sys.exit(0 if float('$stddev') > 0.05 else 1)"
}
colors=0 stddev=0
wait_for 90 drawn || { cat "$out/console.log" >&2; fail "the window stays blank for 90 s: the screenshot has $colors colours, stddev $stddev"; }
sleep 3
kill -0 "$console_pid" 2>/dev/null || { cat "$out/console.log" >&2; fail "the console exited"; }
# Go live starts `station` from beside the console (console::onair::station_bin); the
# console logs which one it found at start.
grep -qF "station binary /usr/bin/station" "$out/console.log" ||
  { cat "$out/console.log" >&2; fail "the console did not find /usr/bin/station beside itself"; }
geometry="$(xwininfo -display "$display" -name "IPFS Station" | sed -n 's/^ *-geometry //p')"
ok "window \"IPFS Station\" ($geometry), build tree hidden, station binary /usr/bin/station; screenshot $out/console.png: $colors colours, stddev $stddev"
kill -TERM -- "-$console_pid"
wait "$console_pid" 2>/dev/null || true

# ---------------------------------------------------------------------------------------
step "7. remove the package"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq -o DPkg::Lock::Timeout=300 "$pkg" >"$out/apt-remove.log" 2>&1 ||
  { cat "$out/apt-remove.log" >&2; fail "apt-get remove $pkg"; }
installed_by_us=0
for f in /usr/bin/station /usr/bin/ipfs-station-console /usr/lib/systemd/user/station-stream@.service; do
  [[ ! -e "$f" ]] || fail "$f is still there after apt-get remove"
done
ok "removed; its files are gone"
echo "test-package.sh: all checks passed" >&2
