#!/usr/bin/env bash
# The one command of a GPU slot (under 9 minutes): a smoke test, the training benchmark,
# as many steps of the paper's protocol as the time allows, and the new results packed
# into at most 8 files of at most 16 MiB in $OUT.
#
# Run from the repository root on the GPU machine, with MNIST in .gpu/data/mnist/ (copy
# ../shared/data/mnist/*.gz there and carry .gpu). Back home, unpack the archives in the
# repository root (tar xzf results-NN.tar.gz) and commit results/paper/.
set -uo pipefail
T0=$(date +%s)
LIMIT=${GPU_RUN_SECONDS:-520}           # the whole command, in seconds
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export RC_DATA=${RC_DATA:-$PWD/.gpu/data} RC_NO_DOWNLOAD=1 PYTHONUNBUFFERED=1
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}                   # DEVICE=cpu rehearses the script without a GPU
BENCH_ARGS=${BENCH_ARGS:---dataset shapes --members 24 --epochs 2 --n 20000}
RESULTS=${RC_RESULTS:-results}
SMOKE=${SMOKE_SECONDS:-60}
LOG="$OUT/gpu_run.log"
elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[gpu_run ${1}s] ${*:2}" | tee -a "$LOG"; }

say "$(elapsed)" "start; limit ${LIMIT}s; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null)"
$PY -c "import torch, rc; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$LOG"

# (a) smoke test: every step of the protocol at the ci profile's sizes, on the GPU
RC_RESULTS=/tmp/rc-smoke-$T0 timeout $(( SMOKE + 30 )) $PY scripts/paper.py --profile ci \
    --device "$DEVICE" --tf32 --budget-seconds "$SMOKE" --quiet 2>&1 | tail -n 3 | tee -a "$LOG"
if [ "${PIPESTATUS[0]}" != 0 ]; then say "$(elapsed)" "smoke test FAILED"; exit 1; fi
say "$(elapsed)" "smoke test done"

# (b) benchmark: batched vs one by one, padded vs grouped, against a plain matmul
timeout 120 $PY benchmarks/bench_gpu.py $BENCH_ARGS --device "$DEVICE" --tf32 \
    --json "$OUT/bench_gpu.json" 2>&1 | tee -a "$LOG"
GROUPING=$($PY -c "import json; r=json.load(open('$OUT/bench_gpu.json')); print(min(('architecture', 'activation', 'all'), key=lambda g: r[g]['seconds']))" 2>/dev/null || echo architecture)
say "$(elapsed)" "benchmark done; protocol: --tf32 --grouping $GROUPING"

# (c) the protocol, resumable, until shortly before the limit (PROTOCOL_SECONDS: a fixed
# budget instead, as the rehearsal on a CPU sets, whatever the machine's load)
BUDGET=${PROTOCOL_SECONDS:-$(( LIMIT - $(elapsed) - 45 ))}
if [ -n "${PROTOCOL_SECONDS:-}" ] || [ "$BUDGET" -gt 30 ]; then
    $PY scripts/paper.py --device "$DEVICE" --tf32 --grouping "$GROUPING" \
        --budget-seconds "$BUDGET" --quiet 2>&1 \
        | tee -a "$LOG" | tail -n 40
fi
$PY scripts/paper.py --status 2>&1 | tail -n 1 | tee -a "$LOG"

# (d) what is new under results/paper, packed
$PY scripts/pack_results.py --root "$RESULTS/paper" --since "$T0" --out "$OUT" 2>&1 \
    | tee -a "$LOG"
say "$(elapsed)" "done"
