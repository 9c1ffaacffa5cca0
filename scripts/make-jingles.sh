#!/usr/bin/env bash
# Makes the bundled station IDs in jingles/: a spoken line (espeak-ng) over a soft major
# chord pad with a two-note chime, loudness-normalized to -16 LUFS, Ogg Vorbis stereo
# 44.1 kHz. Needs espeak-ng and ffmpeg (apt-get install espeak-ng ffmpeg).
set -euo pipefail
cd "$(dirname "$0")/.."
out=jingles
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make() { # name, text, root frequency (Hz), voice, title
  local name=$1 text=$2 f=$3 voice=$4 title=$5
  espeak-ng -v "$voice" -s 145 -p 45 -w "$tmp/voice.wav" "$text"
  local vdur
  vdur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$tmp/voice.wav")
  local total
  total=$(python3 -c "print(round($vdur + 1.6, 2))")
  local third fifth
  third=$(python3 -c "print($f * 1.25)")
  fifth=$(python3 -c "print($f * 1.5)")
  ffmpeg -nostdin -loglevel error -y \
    -f lavfi -i "sine=frequency=$f:duration=$total" \
    -f lavfi -i "sine=frequency=$third:duration=$total" \
    -f lavfi -i "sine=frequency=$fifth:duration=$total" \
    -f lavfi -i "sine=frequency=$((${f%.*} * 4)):duration=0.35" \
    -f lavfi -i "sine=frequency=$(python3 -c "print(int($fifth * 4))"):duration=0.5" \
    -i "$tmp/voice.wav" \
    -filter_complex "\
[0][1][2]amix=inputs=3,volume=0.5,afade=t=in:d=0.4,afade=t=out:st=$(python3 -c "print($total - 0.8)"):d=0.8,lowpass=f=1800[pad];\
[3]afade=t=out:st=0.05:d=0.3,volume=0.35[c1];[4]adelay=180|180,afade=t=out:st=0.25:d=0.45,volume=0.35[c2];\
[5]aresample=44100,adelay=500|500,volume=1.6[v];\
[pad][c1][c2][v]amix=inputs=4:normalize=0,aformat=channel_layouts=stereo,aresample=44100,loudnorm=I=-16:TP=-1.5:LRA=11" \
    -ar 44100 -ac 2 -c:a libvorbis -q:a 3 -metadata title="$title" -metadata artist="IPFS Station" \
    "$out/$name.ogg"
}

make 01-station-id "You are listening to I P F S Station." 220 en-us+f3 "Station ID"
make 02-distributed-web "I P F S Station. Music from the distributed web." 196 en-us+m3 "Music from the distributed web"
make 03-always-on "I P F S Station. Twenty four seven, on I P F S." 246.94 en-gb+f2 "Twenty-four seven"
ls -l "$out"
