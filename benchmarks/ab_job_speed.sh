#!/bin/bash
# The 1080p doubling job, two builds side by side in alternating runs (issue 21's speed check):
#   benchmarks/ab_job_speed.sh BASE_FREGAN NEW_FREGAN [ROUNDS]
# BASE_FREGAN: a `fregan` binary built from the commit before the change (e.g. `git archive <commit>`
# into /tmp, cmake -DFREGAN_BUILD_PYTHON=OFF, target fregan_cli); NEW_FREGAN: this tree's.  NEW is
# also run with --two-frame.  The clip: ../shared/data/clips/mmaction2_two_people_1080p.mp4 (72
# frames of 1080p) re-encoded at 28 fps, CRF 16.  BASE_WEIGHTS / NEW_WEIGHTS (optional): the
# checkpoint each build runs (when the base build cannot read the new default's options).
set -euo pipefail
BASE=$1; NEW=$2; ROUNDS=${3:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ffmpeg -loglevel error -y -i "$ROOT/../shared/data/clips/mmaction2_two_people_1080p.mp4" \
  -vf "scale=1920:1080:flags=lanczos,fps=28" -c:v libx264 -crf 16 -an "$WORK/clip.mp4"
for r in $(seq "$ROUNDS"); do
  for which in base new new-two-frame; do
    case $which in
      base) B=$BASE; X="${BASE_WEIGHTS:+--weights $BASE_WEIGHTS}" ;;
      new) B=$NEW; X="${NEW_WEIGHTS:+--weights $NEW_WEIGHTS}" ;;
      new-two-frame) B=$NEW; X="--two-frame ${NEW_WEIGHTS:+--weights $NEW_WEIGHTS}" ;;
    esac
    s=$(date +%s.%N)
    "$B" interpolate "$WORK/clip.mp4" -o "$WORK/out.mp4" --factor 2 --overwrite -q $X > /dev/null
    e=$(date +%s.%N)
    echo "$which run $r: $(echo "$e - $s" | bc) s"
  done
done
