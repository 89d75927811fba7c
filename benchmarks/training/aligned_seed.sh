#!/usr/bin/env bash
# A seed model in its flow-aligned form (issue 21, item 4): SEED=fregan|sin-gan|sepconv|adaconv.
# The network sees the two frames warped to t by the four-frame flows and starts as plain flow
# warping (registry: "<seed>-aligned"), so it only has to learn what warping misses; validation
# scores it beside that classical start, the bar it must stay at or above to ship.
#
#   SEED=fregan STEPS=600 bash benchmarks/training/aligned_seed.sh    # start, or continue
#
# Data: the same split and preparation as fregan_flow_four_frame.sh (the real clips minus the
# held-out and validation ones, <= 320 px, with neighbours).  L1 + MS-SSIM only (no adversarial
# term: a CPU budget of a few hundred steps); crops of 128 px, batch 8.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-$ROOT/../runs}
FREGAN=${FREGAN:-$ROOT/.venv/bin/fregan}
SEED=${SEED:?SEED=fregan, sin-gan, sepconv or adaconv}
# shellcheck source=benchmarks/training/clip_split.sh
source benchmarks/training/clip_split.sh
mkdir -p "$RUNS"
[[ -f "$RUNS/ff4s-train/manifest.json" ]] || "$FREGAN" prepare --videos "${TRAIN[@]}" --out "$RUNS/ff4s-train" \
  --max-side 320 --val-fraction 0 --test-fraction 0
[[ -f "$RUNS/ff4s-val/manifest.json" ]] || "$FREGAN" prepare --videos "${VAL[@]/#/$CLIPS/}" --out "$RUNS/ff4s-val" \
  --max-side 320 --val-fraction 0 --test-fraction 0
OUT="$RUNS/$SEED-aligned"
KEPT=benchmarks/training/$SEED-aligned
if [[ ! -f "$OUT/last.pt" && -f $KEPT/last.pt ]]; then
  mkdir -p "$OUT" && cp "$KEPT"/{last.pt,log.jsonl} "$OUT/"
fi
RESUME=()
[[ -f "$OUT/last.pt" ]] && RESUME=(--resume)
exec nice -n 5 env OMP_NUM_THREADS=1 "$FREGAN" train --model "$SEED-aligned" \
  --data "$RUNS/ff4s-train" --val-data "$RUNS/ff4s-val" --neighbours --out "$OUT" \
  --crop 128 --batch-size 8 --lr-g "${LR_G:-2e-4}" --adv-weight 0 --steps "${STEPS:-600}" --val-every 100 \
  --val-triplets 64 --checkpoint-every 25 --log-every 10 --seed 0 --workers 1 --threads 1 "${RESUME[@]}"
