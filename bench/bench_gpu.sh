#!/usr/bin/env bash
# Every GPU check in one call (about 5-8 minutes on an H200): the scattering benchmark at batch 256,
# texture synthesis speed, and the tests marked `cuda` (train, evaluate, synthesize on CUDA).
#   bash bench/bench_gpu.sh [python]      # default: .venv/bin/python, else python3
# Progress bars are kept out of the log (TQDM_DISABLE); each step has its own time limit.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export TQDM_DISABLE=1 PYTHONUNBUFFERED=1
"$PY" - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "bench_gpu.sh needs a CUDA device"
print(torch.__version__, torch.cuda.get_device_name(), flush=True)
PYEOF
echo "== scattering: kymatio vs fast (eager, compiled, encoder from config), batch 256 =="
timeout 240 "$PY" bench/bench_scattering.py --device cuda --batch 256 --repeats 5
echo "== texture synthesis, 256x256, J=5 =="
timeout 150 "$PY" bench/bench_synthesis.py --device cuda --iterations 20
echo "== study features (images/s) =="
timeout 60 "$PY" - <<'PYEOF'
import time, torch
from scatgen.metrics.features import ScatteringFeatures
x = torch.rand(16384, 3, 64, 64) * 2 - 1
f = ScatteringFeatures(image_size=64, J=3, n_components=64).cuda().fit(x[:2048])
f.embed(x[:2048]); torch.cuda.synchronize()
t = time.perf_counter(); f.embed(x); torch.cuda.synchronize()
print(f"features: {len(x) / (time.perf_counter() - t):.0f} images/s (64x64, J=3, L=8, host->device included)")
PYEOF
echo "== tests marked cuda =="
timeout 240 "$PY" -m pytest -q -m cuda tests
