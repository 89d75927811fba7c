#!/usr/bin/env bash
# The adversarial SpectraFrame (issue 19): the shipped L1 (Charbonnier) model fine-tuned with a GAN
# term, as ESRGAN does after its PSNR-oriented stage: same data, split and generator as
# spectraframe_long.sh's 64x10 run, starting from that run's best.pt (its generator, its Adam state,
# its untrained discriminator).  Charbonnier stays in the loss so the picture stays where the truth
# is; the discriminator pushes toward the truth's fine detail, which validation measures as
# `sharpness_y` (the luma gradient over the truth's, metrics::sharpness_y) beside Y-PSNR.
#
#   bash benchmarks/training/spectraframe_adversarial.sh     # start, or continue where it stopped
#
# ADV (default 5e-3) is the adversarial weight, STEPS the last step (the start is step 5750).
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
OUT="$RUNS/spectraframe-adversarial"
KEPT=benchmarks/training/spectraframe-adversarial
if [[ ! -f "$OUT/last.pt" ]]; then
  mkdir -p "$OUT"
  if [[ -f $KEPT/last.pt ]]; then  # an unfinished run kept in the repository
    cp "$KEPT"/{last.pt,log.jsonl} "$OUT/"
  else  # the start: the L1 run's best checkpoint
    cp benchmarks/training/spectraframe-wide/best.pt "$OUT/last.pt"
  fi
fi
nice -n 5 env OMP_NUM_THREADS=1 "$FREGAN" train --model spectraframe \
  --generator-options '{"architecture":"lr_fusion","base_channels":64,"residual_blocks":10,"neighbours":2}' \
  --loss "{\"mse\":0,\"charbonnier\":1,\"perceptual\":0,\"adversarial\":${ADV:-5e-3},\"tv\":0}" \
  --data "$RUNS/sr-train" --val-data "$RUNS/sr-val" --out "$OUT" \
  --batch-size 16 --crop 96 --rotate --val-every 250 --val-frames 12 --val-crop 256 \
  --checkpoint-every 50 --log-every 25 --seed 0 --threads 1 \
  --steps "${STEPS:-7750}" --lr-g 5e-5 --lr-d 1e-4 --resume
