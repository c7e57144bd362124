"""Shared helpers: compose the real Hydra config on tiny data inside a temporary root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"

# Small enough to train in seconds on 2 cores, large enough to learn.
TINY = [
    "data.image_size=32", "data.n_train=256", "data.n_test=64", "data.batch_size=32",
    "data.val_size=64", "encoder.J=3", "encoder.compile=false", "whitening.n_components=48", "model.generator.width=8",
    "trainer.max_epochs=2", "trainer.log_every_n_steps=1", "trainer.enable_model_summary=false",
    "callbacks.progress_bar.refresh_rate=0",
]


# the command-line flags of TINY (no progress bar override: scripts run without a terminal)
CLI_TINY = [o for o in TINY if not o.startswith("callbacks.progress_bar")]


def run_script(args, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """``python <script> <args>`` from the checkout, output captured, progress bars off."""
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TQDM_DISABLE": "1", **(env or {})}, **kw)


def one_line(proc: subprocess.CompletedProcess, start: str) -> str:
    """Assert a one-line error: exit 2, no traceback, the last line of stderr ``error: <start>...``."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {start}"), last
    return last


def compose_cfg(tmp_path: Path, overrides: list[str] = (), tiny: bool = True):
    out = tmp_path / "run"
    base = [f"paths.root_dir={tmp_path}", f"paths.output_dir={out}"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=base + (TINY if tiny else []) + list(overrides))


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped on machines without a GPU (``make test-gpu`` runs them)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (make test-gpu)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def threads_per_worker() -> int:
    """The cores shared out among pytest-xdist's workers (``make test`` runs ``-n logical``): two
    workers on 2 cores get one thread each, so that neither waits on the other's OpenMP threads."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, (os.cpu_count() or 1) // workers))


def pytest_configure(config):
    """Under xdist, every command a test starts (``train.py`` ..., a subprocess) gets this worker's
    share too."""
    if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_worker()))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(threads_per_worker())
    yield
