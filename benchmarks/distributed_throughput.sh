#!/usr/bin/env bash
# Training throughput of one process vs two data-parallel processes (Gloo on loopback) on this
# machine: the same global batch, crop and steps; samples/s as rank 0 logs it (after the first
# steps, so start-up and data decoding are left out).
#   benchmarks/distributed_throughput.sh [FREGAN_BINARY] [DATA] [STEPS] [MODEL] [BATCH] [CROP]
set -euo pipefail
FREGAN=${1:-build/release/cpp/fregan}
DATA=${2:-../shared/data/videos/juggle.mp4}
STEPS=${3:-60}
MODEL=${4:-fregan-flow}
BATCH=${5:-8}
CROP=${6:-128}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PORT=$((29700 + RANDOM % 200))
common=(train --model "$MODEL" --data "$DATA" --steps "$STEPS" --batch-size "$BATCH" --crop "$CROP"
        --max-frames 60 --val-fraction 0 --workers 1 --log-every 10 --checkpoint-every 100000 --seed 0)

# samples/s over the steps after the first 10 (log.jsonl: step, elapsed since the loop began).
rate() {
  python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if "elapsed" in l]
a, b = lines[0], lines[-1]
print("%.2f" % ((b["step"] - a["step"]) * int(sys.argv[2]) / (b["elapsed"] - a["elapsed"])))' "$1" "$BATCH"
}

nice -n 15 "$FREGAN" "${common[@]}" --out "$OUT/one2" --threads 2 2>/dev/null
echo "1 process, 2 threads:            $(rate "$OUT/one2/log.jsonl") samples/s"
nice -n 15 "$FREGAN" "${common[@]}" --out "$OUT/one1" --threads 1 2>/dev/null
echo "1 process, 1 thread:             $(rate "$OUT/one1/log.jsonl") samples/s"
nice -n 15 "$FREGAN" "${common[@]}" --out "$OUT/two" --threads 1 --world-size 2 --rank 1 --master-port $PORT 2>/dev/null &
nice -n 15 "$FREGAN" "${common[@]}" --out "$OUT/two" --threads 1 --world-size 2 --rank 0 --master-port $PORT 2>/dev/null
wait
echo "2 processes (Gloo), 1 thread each: $(rate "$OUT/two/log.jsonl") samples/s"
