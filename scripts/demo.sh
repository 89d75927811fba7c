#!/usr/bin/env bash
# The main job on a default that ships with the project: doubles the frame rate of a short real
# clip (../shared/data/videos/juggle.mp4, with its audio) using the shipped FREGAN model, or of a
# clip synthesised here when ../shared/data is absent.  Output: out/demo-x2.mp4
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/torch_choice.sh
bash scripts/setup.sh
mkdir -p out
input=../shared/data/videos/juggle.mp4
if [ ! -f "$input" ]; then
  echo "fregan demo: ../shared/data is absent; synthesising a 2 s test clip"
  input=out/synthetic.mp4
  ffmpeg -loglevel error -y -f lavfi -i "testsrc2=size=320x240:rate=12:duration=2" -pix_fmt yuv420p "$input"
fi
"$FREGAN_VENV/bin/fregan" interpolate "$input" -o out/demo-x2.mp4 --factor 2 --overwrite
ffprobe -v error -show_entries stream=codec_type,codec_name,width,height,r_frame_rate,nb_frames -show_entries format=duration \
  -of compact out/demo-x2.mp4
