#!/usr/bin/env bash
# The CUDA path of pyrovae, checked end to end on a machine with a GPU, in under 10 minutes.
#
#   bash benchmarks/gpu_check.sh [DATA_DIR] [OUT_DIR]
#
# DATA_DIR holds MNIST in torchvision's layout (default ../shared/data); OUT_DIR receives the
# runs and gpu_check.log (default: a fresh temporary folder). pyrovae must be installed in the
# current environment (README: pip install -e .). It runs, in order, and stops at the first
# failure with that command's status:
#
#   1. 2 MNIST epochs on cuda, eager
#   2. 2 MNIST epochs on cuda, compiled (--compile)
#   3. the eager run resumed to 3 epochs on cuda
#   4. evaluate --iwae-k 5000 of the resumed run on cuda (the K = 5 000 bound on the test set)
#   5. a 1-rank torchrun on cuda (NCCL), 1 epoch
#   6. 1 epoch on the CPU, for the comparison
#
# and ends with a table of training throughput (training images per second of the epochs'
# own clock, metrics.csv's epoch_seconds, which leaves out validation) against the CPU.
# Record its figures in docs/guide/performance.md (with the GPU's name and the date).
set -euo pipefail

DATA=${1:-../shared/data}
OUT=${2:-$(mktemp -d -t pyrovae-gpu-check.XXXXXX)}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
exec > >(tee -a "$LOG") 2>&1

if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch sees no CUDA device on this machine; run it where there is one"
    exit 3
fi
python -c "import torch, pyro, pyrovae; print('gpu_check:', torch.cuda.get_device_name(0), \
'| torch', torch.__version__, '| pyro', pyro.__version__, '| pyrovae', pyrovae.__version__)"

COMMON=(--dataset mnist --data-dir "$DATA" --quiet --set train.final_iwae_k=0)
step() {  # step NAME COMMAND...: run it, print its wall time
    local name=$1
    shift
    local start
    start=$(date +%s.%N)
    echo "gpu_check: $name: $*"
    "$@"
    echo "gpu_check: $name: done in $(python -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"
}

step eager pyrovae train "${COMMON[@]}" --epochs 2 --device cuda --out "$OUT/eager"
step compiled pyrovae train "${COMMON[@]}" --epochs 2 --device cuda --compile \
    --out "$OUT/compiled"
step resume pyrovae train --resume "$OUT/eager" --epochs 3 --quiet
step bound pyrovae evaluate "$OUT/eager" --iwae-k 5000 --device cuda --quiet
step nccl torchrun --standalone --nproc_per_node=1 -m pyrovae train "${COMMON[@]}" \
    --epochs 1 --device cuda --out "$OUT/nccl"
step cpu pyrovae train "${COMMON[@]}" --epochs 1 --device cpu --out "$OUT/cpu"

python - "$OUT" <<'EOF'
import csv
import sys
from pathlib import Path

out = Path(sys.argv[1])
TRAIN = 50_000  # MNIST's training split in pyrovae (10 000 of the 60 000 are the valid split)


def rate(run):
    rows = list(csv.DictReader(open(out / run / "metrics.csv", encoding="utf-8")))
    seconds = [float(r["epoch_seconds"]) for r in rows]
    # the first epoch of a compiled run includes tracing and compiling: the last epoch is the
    # steady state
    return TRAIN / seconds[-1], len(rows)


cpu, _ = rate("cpu")
print(f"{'run':<10} {'epochs':>6} {'images/s (last epoch)':>22} {'x CPU':>7}")
for run in ("eager", "compiled", "nccl", "cpu"):
    images, epochs = rate(run)
    print(f"{run:<10} {epochs:>6} {images:>22,.0f} {images / cpu:>7.1f}")
EOF
echo "gpu_check: all steps passed; log in $LOG"
