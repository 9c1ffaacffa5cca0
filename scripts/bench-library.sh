#!/bin/sh
# Builds the benchmark library of README "Measured": 13 tracks of real music in five
# formats (MP3, FLAC, Opus, AAC in M4A, Vorbis), cut from the three lincity-ng-data
# tracks at different offsets and lengths (so no two files hold the same audio), about
# 35 minutes in all. `station bench --music DIR` then sets it up beside the bundled
# jingles. Usage: scripts/bench-library.sh DIR
set -eu
out=${1:?usage: scripts/bench-library.sh DIR}
src=/usr/share/games/lincity-ng/music/default
[ -d "$src" ] || { echo "no $src: apt-get install lincity-ng-data" >&2; exit 1; }
mkdir -p "$out"
n=0
cut() { # cut SOURCE START SECONDS NAME CODEC-ARGS...
    s=$1; from=$2; len=$3; name=$4; shift 4
    n=$((n + 1))
    ffmpeg -nostdin -loglevel error -y -ss "$from" -t "$len" -i "$s" -vn "$@" "$out/$name"
}
a="$src/01 - pronobozo - lincity.ogg"
b="$src/02 - Robert van Herk - City Blues.ogg"
c="$src/03 - Robert van Herk - Architectural Contemplations.ogg"
cut "$a" 0 210 "pronobozo - Lincity (MP3).mp3" -c:a libmp3lame -b:a 192k
cut "$a" 20 180 "pronobozo - Lincity (FLAC edit).flac" -c:a flac
cut "$a" 40 150 "pronobozo - Lincity (Opus edit).opus" -c:a libopus -b:a 128k
cut "$a" 60 120 "pronobozo - Lincity (M4A edit).m4a" -c:a aac -b:a 192k
cut "$a" 5 200 "pronobozo - Lincity (Vorbis).ogg" -c:a libvorbis -q:a 5
cut "$b" 0 224 "Robert van Herk - City Blues (MP3).mp3" -c:a libmp3lame -b:a 160k
cut "$b" 10 200 "Robert van Herk - City Blues (FLAC).flac" -c:a flac
cut "$b" 30 170 "Robert van Herk - City Blues (Opus).opus" -c:a libopus -b:a 96k
cut "$b" 50 140 "Robert van Herk - City Blues (M4A).m4a" -c:a aac -b:a 160k
cut "$c" 0 129 "Robert van Herk - Architectural Contemplations (MP3).mp3" -c:a libmp3lame -b:a 128k
cut "$c" 8 110 "Robert van Herk - Architectural Contemplations (FLAC).flac" -c:a flac
cut "$c" 16 100 "Robert van Herk - Architectural Contemplations (Opus).opus" -c:a libopus -b:a 128k
cut "$c" 24 90 "Robert van Herk - Architectural Contemplations (Vorbis).ogg" -c:a libvorbis -q:a 4
echo "$n tracks in $out"
