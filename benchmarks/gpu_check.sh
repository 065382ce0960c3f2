#!/usr/bin/env bash
# One command for the minutes a GPU is lent: the CUDA tests, then the training and feature-extraction
# speeds (about 8 minutes on one H100/H200); prints one summary table and appends it to
# benchmarks/RESULTS.md (or $GPU_CHECK_RESULTS).
#
#   benchmarks/gpu_check.sh            # on a machine with a CUDA GPU
#   benchmarks/gpu_check.sh --dry-run  # the same commands on the CPU at tiny sizes, in under a minute
#
# Exit status: non-zero when a CUDA test fails or a measurement crashes.
set -uo pipefail
cd "$(dirname "$0")/.."
dry_run=0
[ "${1:-}" = "--dry-run" ] && dry_run=1
results="${GPU_CHECK_RESULTS:-benchmarks/RESULTS.md}"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
if [ "$dry_run" = 1 ]; then
    device=cpu size=32 batches="1 2" steps=2 warmup=1 sr_size=24 sr_batch=2 fid_batch=2 fid_batches=1
    variants=("fp32" "bf16 --channels-last")  # CPU compilation alone would take minutes
else
    device=cuda size=256 batches="1 32" steps=20 warmup=5 sr_size=96 sr_batch=16 fid_batch=50 fid_batches=10
    variants=("fp32" "bf16 --channels-last" "bf16 --channels-last --compile")
fi
failed=0

echo "== CUDA tests (pytest -m cuda)"
python -m pytest -m cuda -q -p no:cacheprovider -o addopts="" tests/test_cuda.py -rs || failed=1

measure() {  # bench_train arguments -> one JSON row appended to $rows
    if ! out="$(python -m benchmarks.bench_train --device "$device" --steps "$steps" --warmup "$warmup" --json "$@")"; then
        echo "measurement failed: bench_train $*" >&2
        failed=1
        return
    fi
    echo "$out" | tail -n 1 >>"$rows"
}

echo "== training steps"
for model in pix2pix cyclegan; do
    for batch in $batches; do
        for variant in "${variants[@]}"; do
            # shellcheck disable=SC2086  # the variant is a list of flags
            measure --model "$model" --size "$size" --batch "$batch" --precision $variant
        done
    done
done
measure --model srresnet --size "$sr_size" --batch "$sr_batch" --precision bf16 --channels-last

echo "== FID feature extraction"
python - "$device" "$fid_batch" "$fid_batches" >>"$rows" <<'PY' || failed=1
import json, sys
from benchmarks.bench_metrics import throughput_rows
device, batch, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"model": "FID Inception", **throughput_rows(batch, batches, device)[0]}))
PY

python -m benchmarks.gpu_summary "$rows" --results "$results" $([ "$dry_run" = 1 ] && echo --dry-run) || failed=1
exit "$failed"
