#!/usr/bin/env bash
# The long four-frame training of fregan-flow's net (issue 21): the net learns on top of the
# acceleration-aware flows, and validation scores it beside the same model untrained (its classical
# path, plain four-frame warping), the bar it must clear before it may ship.
#
#   bash benchmarks/training/fregan_flow_four_frame.sh            # start, or continue where it stopped
#   RUNS=/somewhere/else bash benchmarks/training/fregan_flow_four_frame.sh
#
# Data: the real clips of ../shared/data/clips minus the held-out ones of
# benchmarks/heldout_clips.json (never trained on) and three validation clips (model selection),
# area-downscaled to at most 320 px a side when prepared.  That is the scale the net meets at
# inference, where it runs on at most 256x256 pixels of the whole frame: trained on native-size
# crops, the net learned corrections at a scale it never sees (on one triplet, overfitting crops at
# full size lowered the full-frame PSNR below the classical path; at this scale it rose 3.6 dB).
# LR_G sets the learning rate of a sitting (5e-4 to step 4200, 2.5e-4 from there).
# Runs resume exactly (--resume); the checkpoint and log of an unfinished run are copied to
# benchmarks/training/fregan-flow-four-frame/ in the repository by the session that stops it.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-$ROOT/../runs}
FREGAN=${FREGAN:-$ROOT/.venv/bin/fregan}
# shellcheck source=benchmarks/training/clip_split.sh
source benchmarks/training/clip_split.sh
mkdir -p "$RUNS"
[[ -f "$RUNS/ff4s-train/manifest.json" ]] || "$FREGAN" prepare --videos "${TRAIN[@]}" --out "$RUNS/ff4s-train" \
  --max-side 320 --val-fraction 0 --test-fraction 0
[[ -f "$RUNS/ff4s-val/manifest.json" ]] || "$FREGAN" prepare --videos "${VAL[@]/#/$CLIPS/}" --out "$RUNS/ff4s-val" \
  --max-side 320 --val-fraction 0 --test-fraction 0
OUT="$RUNS/ff4s-net"
# A copy of an unfinished run kept in the repository is where a fresh machine continues from.
if [[ ! -f "$OUT/last.pt" && -f benchmarks/training/fregan-flow-four-frame/last.pt ]]; then
  mkdir -p "$OUT" && cp benchmarks/training/fregan-flow-four-frame/{last.pt,log.jsonl} "$OUT/"
  [[ -f benchmarks/training/fregan-flow-four-frame/best.pt ]] && cp benchmarks/training/fregan-flow-four-frame/best.pt "$OUT/"
fi
RESUME=()
[[ -f "$OUT/last.pt" ]] && RESUME=(--resume)
exec nice -n 5 env OMP_NUM_THREADS=1 "$FREGAN" train --model fregan-flow \
  --generator-options '{"flow":{"preset":"fine"},"refine_flow":true,"sampling":"bicubic","motion_inputs":true,"kaiming_init":true}' \
  --data "$RUNS/ff4s-train" --val-data "$RUNS/ff4s-val" --neighbours --out "$OUT" \
  --crop 160 --batch-size 8 --lr-g "${LR_G:-5e-4}" --adv-weight 0 --steps 30000 --val-every 250 --val-triplets 64 \
  --checkpoint-every 50 --seed 0 --workers 1 --threads 1 "${RESUME[@]}"
