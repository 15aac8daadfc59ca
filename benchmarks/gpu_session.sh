#!/usr/bin/env bash
# Every check this project runs on a GPU machine, in one command (docs/performance.md, section 10).
#
#   bash benchmarks/gpu_session.sh OUT_DIR
#
# Run from the repository root with a python3 that has PyTorch with CUDA. Wheels
# in .whl/ (packages the machine lacks, e.g. pydicom, pytorch_optimizer) are
# installed into /tmp/site first. Writes into OUT_DIR:
#   versions.txt        GPU, driver, torch/CUDA/timm/lightning versions
#   gpu_training.json   benchmarks/gpu_training.py (images/s, utilisation, stall share, medbalance.train)
#   cli.log             synth -> train -> evaluate -> export -> predict on the GPU, and the
#                       same bundle's predictions on CPU vs GPU (largest probability difference)
#   pytest.log          the test suite with CUDA visible (accelerator auto picks the GPU)
set -u
OUT=${1:-/tmp/gpu_session}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    nproc
    python3 -c "import torch, timm, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'timm', timm.__version__, 'lightning', lightning.__version__)"
} 2>&1 | tee "$OUT/versions.txt"

echo "== 1. throughput (benchmarks/gpu_training.py)"
timeout "${GPU_TRAINING_TIMEOUT:-270}" python3 benchmarks/gpu_training.py --out "$OUT/gpu_training.json" 2>&1 \
    | grep -v "predictions collapsed" | tee "$OUT/gpu_training.log"

echo "== 2. the CLI end to end on the GPU"
W=$(mktemp -d /tmp/gpu_cli_XXXX)
mb() { python3 -m medbalance "$@"; }
(
    set -e
    mb synth phantoms -o "$W/ph" --n-patients 80 --prevalence 0.2 --size 128
    mb train --data "$W/ph/manifest.csv" -o "$W/run" --model resnet18 --epochs 4 --image-size 128 \
        --strategy class-weight --accelerator "${GPU_ACCELERATOR:-gpu}" --num-workers 4 --no-progress
    python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print('summary device/precision:', {k: v for k, v in s.items() if k in ('accelerator', 'precision', 'devices', 'device')})" "$W/run/summary.json"
    mb evaluate "$W/run"
    mb export "$W/run" -o "$W/bundle"
    mb predict "$W/bundle" "$W/ph/manifest.csv" -o "$W/pred_gpu.csv" --device "${GPU_DEVICE:-cuda}" --no-progress
    mb predict "$W/bundle" "$W/ph/manifest.csv" -o "$W/pred_cpu.csv" --device cpu --no-progress
    python3 - "$W/pred_gpu.csv" "$W/pred_cpu.csv" <<'EOF'
import sys
import pandas as pd
gpu, cpu = (pd.read_csv(p) for p in sys.argv[1:3])
columns = [c for c in gpu.columns if c.startswith("prob_")] + ["score_uncalibrated"]
diff = (gpu[columns] - cpu[columns]).abs().to_numpy().max()
same = int((gpu["decision"] == cpu["decision"]).sum())
print(f"predict cuda vs cpu: {len(gpu)} images, largest |difference| of {columns}: {diff:.2e}; "
      f"same decision for {same} of {len(gpu)}")
EOF
) > "$OUT/cli.log" 2>&1
echo "cli exit $?" | tee -a "$OUT/cli.log"
tail -5 "$OUT/cli.log"

echo "== 3. the test suite with CUDA visible"
parallel=$(python3 -c "import xdist" 2>/dev/null && echo "-n ${PYTEST_WORKERS:-12}")
timeout "${PYTEST_TIMEOUT:-200}" python3 -m pytest -q -p no:cacheprovider $parallel tests \
    > "$OUT/pytest.log" 2>&1
echo "pytest exit $?" | tee -a "$OUT/pytest.log"
tail -30 "$OUT/pytest.log"
