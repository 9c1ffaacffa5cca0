#!/usr/bin/env bash
# Builds IPFS Station as desktop software: a .deb (and an .rpm) holding the console
# (/usr/bin/ipfs-station-console), the headless engine beside it (/usr/bin/station, the
# console's Tauri sidecar), the desktop entry and icons, and the systemd user units of
# packaging/systemd/ (/usr/lib/systemd/user/).
#
#   scripts/package.sh           the release package, the one to hand out: release
#                                builds without debug info, source paths remapped
#   scripts/package.sh --debug   the CI package: the same package from the debug build the
#                                test suite already made (cargo's cache is reused), debug
#                                info stripped
#
# Either way the packages land in $CARGO_TARGET_DIR/dist/ (CARGO_TARGET_DIR defaults to
# target/): ipfs-station_<version>_<arch>.deb and ipfs-station-<version>-1.<arch>.rpm; the
# script prints their paths and sizes. It installs what it needs first (scripts/deps.sh
# --package: the build's system packages and the Tauri CLI from crates.io, once). Bundle
# formats whose tools Tauri downloads at build time (AppImage) are not made.
#
# Nothing in the packages points at this build tree: the console's page, the listener page
# and the bundled jingles are compiled into the binaries, and the binaries carry no debug
# info. The last step checks it with grep over every file of the .deb. What is left are
# the source paths of panic locations: this checkout's files are named relative to it, and
# the dependencies' are named in the cargo home (remapped to /cargo in the release package;
# in the CI package they stay, since remapping would rebuild every crate).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

profile=release
case "${1:-}" in
"") ;;
--debug) profile=debug ;;
*)
  echo "usage: scripts/package.sh [--debug]" >&2
  exit 2
  ;;
esac

"$root/scripts/deps.sh" --package
# deps.sh ran scripts/listener-page.sh; without the player the engine's build embeds an
# empty file (with a warning) and the package would publish a page that cannot play.
if [[ ! -s ui/listener/vendor/hls.min.js ]]; then
  echo "package.sh: ui/listener/vendor/hls.min.js is missing: the listener page would be published without its player (scripts/listener-page.sh)" >&2
  exit 1
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' src-tauri/Cargo.toml | head -n1)"
conf_version="$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' src-tauri/tauri.conf.json | head -n1)"
if [[ -z "$version" || "$version" != "$conf_version" ]]; then
  echo "package.sh: src-tauri/Cargo.toml says version '$version', tauri.conf.json '$conf_version': make them agree" >&2
  exit 1
fi
out="$target_dir/$profile"
config="$root/packaging/tauri.package.json"

if [[ "$profile" == release ]]; then
  # No debug info, and this checkout's, the target dir's and the cargo home's paths
  # remapped in what is left (the last matching rule wins: most specific last).
  export CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_PROFILE_RELEASE_STRIP=debuginfo
  flags=(--remap-path-prefix="$cargo_home=/cargo" --remap-path-prefix="$root=/ipfs-station"
    --remap-path-prefix="$target_dir=/target")
  # Encoded (separated by 0x1f) so that a path with a space stays one flag.
  CARGO_ENCODED_RUSTFLAGS="$(
    IFS=$'\x1f'
    echo "${RUSTFLAGS:+${RUSTFLAGS// /$'\x1f'}$'\x1f'}${flags[*]}"
  )"
  export CARGO_ENCODED_RUSTFLAGS
  # Every binary of the workspace with the features `cargo tauri build` below resolves, so
  # that it builds only the console again (with its packaging config), not the engine and
  # its dependencies a second time with other features.
  echo "== station (the console's sidecar), release" >&2
  cargo build --release --locked --workspace --bins --features tauri/custom-protocol
else
  # The binaries `cargo test --workspace --all-targets` built: the same command line (and
  # so the same features) makes this a no-op after the test suite.
  echo "== station (the console's sidecar), debug build of the test suite" >&2
  cargo build --locked --workspace --all-targets
fi

# A Tauri sidecar is named with the target triple; the bundler installs it as plain
# `station` beside the console, which is where the console looks for it
# (ipfs_station::console::onair::station_bin). The console's build script copies it back
# beside the console in $out (replacing cargo's link there with the stripped copy).
mkdir -p packaging/binaries
strip --strip-debug -o "packaging/binaries/station-$triple" "$out/station"

echo "== console ($profile, cargo tauri build)" >&2
# `cargo tauri build` is `cargo build --bins --features tauri/custom-protocol` (the page
# served from the binary, not a dev server) with the packaging config. Over the whole
# workspace, as the builds above: a build of the console alone resolves fewer features
# and builds the engine and its dependencies again (4.5 minutes here in debug).
mode=()
cargo_args=(--locked --workspace)
if [[ "$profile" == debug ]]; then
  mode=(--debug)
  # The test suite's command line: only tauri and what depends on it are built again,
  # with custom-protocol.
  cargo_args+=(--all-targets)
fi
rm -rf "$out/bundle/deb" "$out/bundle/rpm"
(cd src-tauri && cargo tauri build "${mode[@]}" --ci --no-bundle --config "$config" -- "${cargo_args[@]}")
# Debug info names the build tree; the bundler packs (and patches) the binary as it finds
# it. The stripped copy replaces cargo's hard link to deps/, which keeps its debug info
# (cargo links it again at its next build).
strip --strip-debug -o "$out/ipfs-station-console.stripped" "$out/ipfs-station-console"
mv -f "$out/ipfs-station-console.stripped" "$out/ipfs-station-console"

echo "== bundles (cargo tauri bundle)" >&2
(cd src-tauri && cargo tauri bundle "${mode[@]}" --ci --bundles deb,rpm --config "$config")

arch="$(dpkg --print-architecture)"
dist="$target_dir/dist"
mkdir -p "$dist"
# The bundler names the files after the product name ("IPFS Station_..."); the package
# itself is `ipfs-station`, and so is the file we hand out.
shopt -s nullglob
debs=("$out/bundle/deb/"*"_${version}_${arch}.deb")
rpms=("$out/bundle/rpm/"*"-${version}-"*.rpm)
shopt -u nullglob
if ((${#debs[@]} != 1)); then
  echo "package.sh: expected one .deb of version $version in $out/bundle/deb, found ${#debs[@]}" >&2
  exit 1
fi
if ((${#rpms[@]} != 1)); then
  echo "package.sh: expected one .rpm of version $version in $out/bundle/rpm, found ${#rpms[@]}" >&2
  exit 1
fi
deb="$dist/ipfs-station_${version}_${arch}.deb"
rpm="$dist/$(basename "${rpms[0]}" | sed 's/^IPFS Station/ipfs-station/; s/ /-/g')"
cp "${debs[0]}" "$deb"
cp "${rpms[0]}" "$rpm"

# Nothing in the package may point at the build tree (nor, in the release package, at the
# build machine's cargo home).
check="$(mktemp -d)"
trap 'rm -rf "$check"' EXIT
dpkg-deb -x "$deb" "$check/deb"
patterns=(-e "$root" -e "$target_dir")
[[ "$profile" == release ]] && patterns+=(-e "$cargo_home")
leaks="$(grep -rlF "${patterns[@]}" "$check/deb" || true)"
if [[ -n "$leaks" ]]; then
  echo "package.sh: these files of $deb name the build tree ($root or $target_dir) or $cargo_home:" >&2
  echo "$leaks" | sed "s#^$check/deb##" >&2
  exit 1
fi

echo "== made ($profile)" >&2
for f in "$deb" "$rpm"; do
  printf '%s  %s\n' "$(du -h "$f" | cut -f1)" "$f"
done
