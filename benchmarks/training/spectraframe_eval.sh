#!/usr/bin/env bash
# Test figures of a SpectraFrame checkpoint (MODELS.md): `fregan upscale --json` in evaluation mode
# (each frame cut to multiples of 4, bicubic x4 down, upscaled back, scored against the original)
# on the first VID4_FRAMES frames of Vid4 calendar and walk (0 = all) and on the first FRAMES frames
# of each held-out clip of benchmarks/heldout_clips.json at native size.  One JSON line per clip.
#
#   bash benchmarks/training/spectraframe_eval.sh WEIGHTS [FRAMES [VID4_FRAMES]]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
FREGAN=${FREGAN:-$ROOT/.venv/bin/fregan}
WEIGHTS=$1
FRAMES=${2:-12}
VID4_FRAMES=${3:-0}
VID4=../shared/data/vsr/vid4
mapfile -t HELD < <(/usr/bin/python3 -c "import json; [print(c['file']) for c in json.load(open('benchmarks/heldout_clips.json'))['clips']]")
score() {  # name, input, max frames
  "$FREGAN" upscale "$2" --weights "$WEIGHTS" --max-frames "$3" --json 2>/dev/null |
    /usr/bin/python3 -c "import json, sys; r = json.load(sys.stdin); s = r['scores']; print(json.dumps({'clip': '$1', 'frames': s['frames'], 'size': [r['width'], r['height']], 'seconds': round(r['seconds'], 1), 'model': s['model'], 'bicubic': s['bicubic'], 'gain_y': round(s['model']['psnr_y'] - s['bicubic']['psnr_y'], 3)}))"
}
score calendar "$VID4/calendar" "$VID4_FRAMES"
score walk "$VID4/walk" "$VID4_FRAMES"
for clip in "${HELD[@]}"; do score "$clip" "../shared/data/clips/$clip" "$FRAMES"; done
