"""scripts/evaluate.py and scripts/compare.py end to end on a tiny trained run."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY

STUDY = ["study.n_samples=96", "study.n_pairs=2", "study.steps=4", "study.feature_J=2", "study.feature_components=8",
         "study.kid_subset_size=32", "study.classifier_steps=800", "study.mode_min_count=2"]


def _run(args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TQDM_DISABLE": "1"})


def _train(tmp_path, model):
    overrides = [o for o in TINY if not o.startswith("callbacks.progress_bar")] + ["data.n_test=256"]
    if model == "gan":
        overrides += ["model.inversion.steps=5", "model.inversion.restarts=1", "eval_limit=32"]
    r = _run([ROOT / "train.py", f"model={model}", f"paths.root_dir={tmp_path}", "hydra.run.dir=" + str(tmp_path / "run"),
              *overrides])
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp_path / "run"


def _evaluate(tmp_path, run, extra=()):
    out = tmp_path / "evaluation"
    r = _run([ROOT / "scripts/evaluate.py", f"ckpt_path={run}/checkpoints/last.ckpt", f"paths.root_dir={tmp_path}",
              f"hydra.run.dir={out}", *STUDY, *extra])
    return r, out


@pytest.mark.parametrize("model", ["inverse_scattering", pytest.param("vae", marks=pytest.mark.slow),
                                   pytest.param("gan", marks=pytest.mark.slow)])
def test_evaluate_and_compare_write_metrics_figures_and_report(tmp_path, model):
    run = _train(tmp_path, model)
    r, out = _evaluate(tmp_path, run, ["study.eval_limit=32"] if model == "gan" else [])
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("train/psnr", "test/psnr", "gap/psnr", "sample/fid", "sample/kid", "sample/precision", "sample/recall",
                "sample/density", "sample/coverage", "data/fid", "modes/modes_covered", "modes/jsd",
                "modes/good_fraction", "classifier/test_accuracy", "interp/jump", "interp/path_ratio",
                "nn/samples/pixel_mean", "nn/test/pixel_mean"):
        assert key in m, key
    assert m["classifier/test_accuracy"] >= 0.95 and 0 <= m["modes/modes_covered"] <= 48
    assert m["data/fid"] < m["sample/fid"]  # real training images are closer to the test set than 2-epoch samples
    for png in ("samples", "interpolations", "crossfades", "interpolation_smoothness", "psnr_histogram",
                "mode_histogram", "memorisation_pixel", "nearest_neighbours", "reconstructions_test"):
        assert (out / f"{png}.png").stat().st_size > 1000, png
    assert "| test PSNR (dB) |" in (out / "summary.md").read_text()

    report_dir = tmp_path / "report"
    r = _run([ROOT / "scripts/compare.py", f"runs=[{out}]", f"out_dir={report_dir}", f"paths.root_dir={tmp_path}",
              f"hydra.run.dir={tmp_path / 'compare'}"])
    assert r.returncode == 0, r.stderr[-2000:]
    report = (report_dir / "report.md").read_text()
    assert "| modes covered (of 48) |" in report and (report_dir / "mode_histogram.png").exists()


def test_evaluate_without_a_checkpoint_is_one_line(tmp_path):
    r, _ = _evaluate(tmp_path, tmp_path / "nowhere")
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ckpt_path=") and "does not exist" in last
