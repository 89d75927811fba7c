#!/usr/bin/env bash
# The long training of SpectraFrame (issue 19): x4 video super-resolution on the real clips of
# ../shared/data/clips, in sittings of one run (each continues the last with --resume; a lower
# --lr-g per sitting is the learning-rate schedule).
#
#   bash benchmarks/training/spectraframe_long.sh            # start, or continue where it stopped
#   RUNS=/somewhere/else bash benchmarks/training/spectraframe_long.sh
#
# The larger generator's run (session 10 on; the shipped 48x6 model's curve had flattened):
#   SR_RUN=spectraframe-wide SR_GENERATOR='{"architecture":"lr_fusion","base_channels":64,"residual_blocks":10,"neighbours":2}' \
#   SR_SITTINGS="1500 5e-4,3000 2.5e-4,4500 1.2e-4,6000 6e-5" bash benchmarks/training/spectraframe_long.sh
#
# Split by clip: the held-out clips of benchmarks/heldout_clips.json and Vid4 calendar and walk are
# never trained on and pick nothing (they are the test figures of MODELS.md); three other clips
# validate (pick best.pt); the rest train.  Frames are area-downscaled to at most 720 px a side when
# prepared (Vid4's scale: 720x576 / 720x480), at most 200 frames per clip.
# Configuration (MODELS.md says why): the "lr_fusion" generator (flow-warped neighbours fused at
# LR size, an EDSR-style body of 48 channels x 6 residual blocks, one x4 sub-pixel step), 2
# neighbours, Charbonnier loss only (no perceptual, adversarial or TV term), batch 16 of 96 px HR
# crops, Adam.  Runs resume exactly; the checkpoint and log of an unfinished run are copied to
# benchmarks/training/spectraframe/ in the repository by the session that stops it, and a fresh
# machine continues from there.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-$ROOT/../runs/sr}
FREGAN=${FREGAN:-$ROOT/.venv/bin/fregan}
# shellcheck source=benchmarks/training/clip_split.sh
source benchmarks/training/clip_split.sh
mkdir -p "$RUNS"
PREP=(--task sr --max-side 720 --max-frames 200 --val-fraction 0 --test-fraction 0)
[[ -f "$RUNS/sr-train/manifest.json" ]] || "$FREGAN" prepare --videos "${TRAIN[@]}" --out "$RUNS/sr-train" "${PREP[@]}"
[[ -f "$RUNS/sr-val/manifest.json" ]] || "$FREGAN" prepare --videos "${VAL[@]/#/$CLIPS/}" --out "$RUNS/sr-val" "${PREP[@]}"
# The run: its folder under $RUNS and, in the repository, where its unfinished state is kept.
SR_RUN=${SR_RUN:-spectraframe-long}
KEPT=benchmarks/training/${SR_RUN/#spectraframe-long/spectraframe}
SR_GENERATOR=${SR_GENERATOR:-'{"architecture":"lr_fusion","base_channels":48,"residual_blocks":6,"neighbours":2}'}
OUT="$RUNS/$SR_RUN"
# A copy of an unfinished run kept in the repository is where a fresh machine continues from.
if [[ ! -f "$OUT/last.pt" && -f $KEPT/last.pt ]]; then
  mkdir -p "$OUT" && cp "$KEPT"/{last.pt,log.jsonl} "$OUT/"
  [[ -f $KEPT/best.pt ]] && cp "$KEPT/best.pt" "$OUT/"
fi
ARGS=(--model spectraframe
  --generator-options "$SR_GENERATOR"
  --loss '{"mse":0,"charbonnier":1,"perceptual":0,"adversarial":0,"tv":0}'
  --data "$RUNS/sr-train" --val-data "$RUNS/sr-val" --out "$OUT"
  --batch-size 16 --crop 96 --rotate --val-every 250 --val-frames 12 --val-crop 256
  --checkpoint-every 50 --log-every 25 --seed 0 --threads 1)
# Sittings: (last step, generator learning rate).  A sitting whose step is already reached does
# nothing, so re-running the script continues in the sitting where it stopped.
IFS=, read -r -a SITTINGS <<<"${SR_SITTINGS:-1200 5e-4,1800 2.5e-4,2400 1.2e-4,3000 6e-5}"
for sitting in "${SITTINGS[@]}"; do
  read -r steps lr <<<"$sitting"
  RESUME=()
  [[ -f "$OUT/last.pt" ]] && RESUME=(--resume)
  nice -n 5 env OMP_NUM_THREADS=1 "$FREGAN" train "${ARGS[@]}" --steps "$steps" --lr-g "$lr" "${RESUME[@]}"
done
