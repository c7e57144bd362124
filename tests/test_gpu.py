"""The whole pipeline on CUDA (``make test-gpu``; skipped on machines without a GPU): train (tiny)
with ``trainer=gpu`` (the code cache encoded on the GPU), evaluate and synthesise with
``device=cuda``, and the study's features on the GPU equal to the CPU's."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY

pytestmark = pytest.mark.cuda
ENV = {**os.environ, "TQDM_DISABLE": "1"}


def _run(args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, env=ENV)


def test_train_evaluate_on_cuda(tmp_path):
    overrides = [o for o in TINY if not o.startswith("callbacks.progress_bar")]
    run = tmp_path / "run"
    r = _run([ROOT / "train.py", "trainer=gpu", *overrides, f"paths.root_dir={tmp_path}", f"hydra.run.dir={run}"])
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["test/psnr"] > 10
    assert "encoded on cuda" in (run / "train.log").read_text()
    out = tmp_path / "evaluation"
    r = _run([ROOT / "scripts/evaluate.py", f"ckpt_path={run}/checkpoints/last.ckpt", "device=cuda",
              f"paths.root_dir={tmp_path}", f"hydra.run.dir={out}", "study.n_samples=96", "study.n_pairs=2",
              "study.feature_J=2", "study.feature_components=8", "study.kid_subset_size=32",
              "study.classifier_steps=800", "study.mode_min_count=2", "study.gmm_components=4"])
    assert r.returncode == 0, r.stderr[-3000:]
    e = json.loads((out / "metrics.json").read_text())
    assert abs(e["test/psnr"] - m["test/psnr"]) < 0.5 and "sample/fid" in e and "sampler/gmm/precision" in e


@pytest.mark.parametrize("model", ["gaussian", "scattering", "phase_harmonic"])
def test_synthesize_on_cuda(tmp_path, model):
    out = tmp_path / model
    r = _run([ROOT / "scripts/synthesize.py", "texture=gravel", f"model={model}", "size=64", "J=3", "n_samples=1",
              "iterations=20", "restarts=1", "device=cuda", f"hydra.run.dir={out}", f"paths.root_dir={tmp_path}"])
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["final_loss"] < 0.5 * m["initial_loss"]


def test_features_on_cuda_equal_the_cpu_ones():
    from scatgen.metrics.features import ScatteringFeatures

    x = torch.rand(64, 3, 32, 32) * 2 - 1
    cpu = ScatteringFeatures(image_size=32, J=2, n_components=8).fit(x)
    gpu = ScatteringFeatures(image_size=32, J=2, n_components=8).cuda().fit(x)
    a, b = cpu.embed(x), gpu.embed(x)
    assert b.device.type == "cpu" and torch.allclose(a, b, atol=1e-3)
