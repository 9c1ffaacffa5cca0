#!/usr/bin/env bash
# Installs the system packages IPFS Station needs on Debian/Ubuntu, only when missing.
#   scripts/deps.sh            runtime and build: ffmpeg (ffprobe), the demo's music
#                              (lincity-ng-data), WebKitGTK 4.1 and ALSA headers for the console
#   scripts/deps.sh --package  also what scripts/package.sh needs: strip (binutils) and the
#                              Tauri CLI (from crates.io, `cargo install tauri-cli --version
#                              =2.12.4 --locked`, about 10 minutes, once)
#   scripts/deps.sh --test     also what the test suite needs: Xvfb, xauth, WebKitWebDriver,
#                              and tauri-driver (from crates.io) for the console's end-to-end
#                              test; and for scripts/test-package.sh what --package adds,
#                              xwininfo (x11-utils), ImageMagick, desktop-file-utils,
#                              systemd-analyze (systemd), rpm, curl and python3
set -euo pipefail

mode="${1:-}"

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
want() { have_pkg "$1" || need+=("$1"); }

want ffmpeg
want lincity-ng-data
want ca-certificates
want pkg-config
want libwebkit2gtk-4.1-dev
want libasound2-dev
# npm builds the listener page (hls.js from the npm registry).
command -v npm >/dev/null 2>&1 || want npm
if [[ "$mode" == "--test" || "$mode" == "--package" ]]; then
  want binutils
fi
if [[ "$mode" == "--test" ]]; then
  want xvfb
  want xauth
  want webkit2gtk-driver
  # The listener page's test plays the stream in headless Chromium.
  want chromium
  want chromium-driver
  # scripts/test-package.sh: the installed console's window (xwininfo, import, identify),
  # the desktop entry (desktop-file-validate), the systemd units (systemd-analyze), the
  # .rpm's contents (rpm -qp), the Kubo double's API (curl).
  want x11-utils
  want imagemagick
  want desktop-file-utils
  want systemd
  want rpm
  want curl
  command -v python3 >/dev/null 2>&1 || want python3
fi

if ((${#need[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "Installing: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo (Rust >= 1.90) is needed: install Rust with rustup (https://rustup.rs) and run this again." >&2
  exit 1
fi

if [[ "$mode" == "--test" ]] && ! command -v tauri-driver >/dev/null 2>&1; then
  echo "Installing tauri-driver (WebDriver bridge for the console's end-to-end test)" >&2
  cargo install tauri-driver --locked --quiet
fi

# The Tauri CLI bundles the console (scripts/package.sh), at the version the packages were
# made and measured with. cargo install builds it in a temporary directory of its own, not
# in the project's target dir.
tauri_cli=2.12.4
if [[ "$mode" == "--test" || "$mode" == "--package" ]]; then
  if [[ "$(cargo tauri --version 2>/dev/null)" != "tauri-cli $tauri_cli" ]]; then
    echo "Installing the Tauri CLI $tauri_cli (cargo install tauri-cli, about 10 minutes, once)" >&2
    env -u CARGO_TARGET_DIR cargo install tauri-cli --version "=$tauri_cli" --locked --quiet
  fi
fi

# The listener page's player: hls.js from the npm registry, copied beside the page.
"$(dirname "$0")/listener-page.sh"
