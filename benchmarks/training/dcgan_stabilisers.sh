#!/usr/bin/env bash
# Issue 19's A/B runs of the DCGAN stabilisers on the shipped model's data and size (vtest.avi,
# every 2nd frame, 80x160, the reduced G/D of python/fregan/models/MODELS.md), one run per variant,
# each measured by benchmarks/python/dcgan_diversity.py at its end.
#
#   bash benchmarks/training/dcgan_stabilisers.sh VARIANT [STEPS]     # e.g. plain 600
#   RUNS=/somewhere/else bash benchmarks/training/dcgan_stabilisers.sh snhinge-aug-ema 600
#
# A run that exists is continued (--resume) up to STEPS, so a short A/B run of the best variant
# becomes the long run by calling it again with more steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-$ROOT/../runs}
FREGAN=${FREGAN:-$ROOT/.venv/bin/fregan}
VARIANT=${1:?variant: plain, snhinge, snhinge-aug, snhinge-aug-ema, snhinge-aug-ema-r1, aug-ema}
STEPS=${2:-600}
D='"levels":4,"base_channels":8,"max_channels":64'
SN=',"spectral_norm":true,"batch_norm":false'
case "$VARIANT" in
  plain)              DOPT="{$D}";    STAB='{}' ;;
  snhinge)            DOPT="{$D$SN}"; STAB='{"loss":"hinge"}' ;;
  snhinge-aug)        DOPT="{$D$SN}"; STAB='{"loss":"hinge","diff_augment":"color,translation,cutout"}' ;;
  snhinge-aug-ema)    DOPT="{$D$SN}"; STAB='{"loss":"hinge","diff_augment":"color,translation,cutout","ema_decay":0.999}' ;;
  snhinge-aug-ema-r1) DOPT="{$D$SN}"; STAB='{"loss":"hinge","diff_augment":"color,translation,cutout","ema_decay":0.999,"r1_gamma":1,"r1_every":4}' ;;
  aug-ema)            DOPT="{$D}";    STAB='{"diff_augment":"color,translation,cutout","ema_decay":0.999}' ;;
  *) echo "unknown variant '$VARIANT'" >&2; exit 2 ;;
esac
OUT="$RUNS/dcgan-$VARIANT"
RESUME=()
[[ -f "$OUT/last.pt" ]] && RESUME=(--resume)
OMP_NUM_THREADS=1 nice -n 10 "$FREGAN" train --model dcgan --data ../shared/data/videos/vtest.avi --frame-skip 2 \
  --out "$OUT" --steps "$STEPS" --batch-size 16 --height 80 --width 160 \
  --generator-options '{"levels":4,"base_channels":16,"max_channels":128}' \
  --discriminator-options "$DOPT" --stabilisers "$STAB" \
  --sample-every 100 --checkpoint-every 50 --log-every 10 --seed 0 --threads 1 "${RESUME[@]}"
"$ROOT/.venv/bin/python" benchmarks/python/dcgan_diversity.py "$OUT/last.pt" ../shared/data/videos/vtest.avi \
  > "$OUT/diversity.txt"
cat "$OUT/diversity.txt"
