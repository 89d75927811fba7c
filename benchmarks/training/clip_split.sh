# Sourced by the long-training scripts (fregan_flow_four_frame.sh, spectraframe_long.sh) from the
# repository root: the split of ../shared/data/clips by clip.  Sets CLIPS, VAL (the three
# validation clips, model selection), HELD (benchmarks/heldout_clips.json: never trained on) and
# TRAIN (every other clip, plus the RealBasicVSR frame folder).
CLIPS=../shared/data/clips
VAL=(cotracker_cat.mp4 intel_car_detection.mp4 sam2_02_cups.mp4)
mapfile -t HELD < <(/usr/bin/python3 -c "import json; [print(c['file']) for c in json.load(open('benchmarks/heldout_clips.json'))['clips']]")
TRAIN=()
for f in "$CLIPS"/*.*; do
  name=$(basename "$f")
  [[ "$name" == SOURCES.md ]] && continue
  [[ " ${HELD[*]} ${VAL[*]} " == *" $name "* ]] && continue
  TRAIN+=("$f")
done
TRAIN+=("$CLIPS/frames/realbasicvsr_hk_night")
