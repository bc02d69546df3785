#!/usr/bin/env bash
# Makes the simulator's base clips (run once at development time; the clips are committed).
# Silent H.264 MP4s, 3 s at 12 fps, moov first, bit-exact so a re-run gives the same bytes.
# Needs ffmpeg (Debian: apt-get install ffmpeg); nothing at run or test time does.
set -euo pipefail
cd "$(dirname "$0")"

SOURCES=(
  "testsrc2=size=%s:rate=12"
  "nullsrc=size=%s:rate=12,geq=r='128+127*sin(X/40+T*3)':g='128+127*sin(Y/30-T*2)':b='128+127*sin((X+Y)/50+T)'"
  "mandelbrot=size=%s:rate=12:end_scale=0.05"
)

make_clip() {  # make_clip OUT SIZE SOURCE CRF
  local source
  # shellcheck disable=SC2059
  source=$(printf "$3" "$2")
  ffmpeg -loglevel error -y -f lavfi -i "$source" -t 3 -an \
    -threads 1 -c:v libx264 -preset veryslow -crf "$4" -profile:v main -pix_fmt yuv420p -g 48 \
    -fflags +bitexact -flags:v +bitexact -map_metadata -1 -movflags +faststart "$1"
}

for i in "${!SOURCES[@]}"; do
  make_clip "sd-$i.mp4" 854x480 "${SOURCES[$i]}" 40
  make_clip "hd-$i.mp4" 1280x720 "${SOURCES[$i]}" 44
done
ls -l ./*.mp4
