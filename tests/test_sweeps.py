"""Hydra multirun, Optuna, submitit (local), DDP on 2 CPU processes and wandb offline, on tiny data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

TINY_CLI = ["data.image_size=32", "data.n_train=128", "data.n_test=32", "data.batch_size=32", "data.val_size=32",
            "encoder.J=3", "encoder.compile=false", "whitening.n_components=16", "model.generator.width=8", "trainer.max_epochs=1",
            "callbacks.progress_bar.refresh_rate=0", "trainer.enable_model_summary=false"]


def _train(tmp_path: Path, *args: str, timeout: int = 600, env: dict | None = None, status: int = 0) -> subprocess.CompletedProcess:
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    cmd = [sys.executable, str(ROOT / "train.py"), *flags, f"paths.root_dir={tmp_path}", *TINY_CLI, *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == status, proc.stderr[-4000:]
    return proc


def _job_dirs(tmp_path: Path) -> list[Path]:
    sweeps = list((tmp_path / "logs" / "train" / "multiruns").glob("*"))
    assert len(sweeps) == 1, sweeps
    return sorted(p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())


@pytest.mark.slow  # a two-job multirun of train.py: ~20 s
def test_basic_multirun_makes_one_directory_per_job(tmp_path):
    _train(tmp_path, "-m", "model.optimizer.lr=1e-3,3e-4")
    jobs = _job_dirs(tmp_path)
    assert [p.name for p in jobs] == ["0", "1"]
    lrs = set()
    for job in jobs:
        assert (job / "metrics.json").exists() and (job / "checkpoints" / "last.ckpt").exists()
        lrs.add((job / ".hydra" / "overrides.yaml").read_text())
    assert len(lrs) == 2
    assert not (tmp_path / "logs" / "train" / "runs").exists()


@pytest.mark.slow  # subprocess runs: in make test-slow, for make test's 10-minute budget
def test_wandb_offline_run_holds_metrics_and_images(tmp_path):
    _train(tmp_path, "logger=wandb", env={"WANDB_SILENT": "true"})
    run = next((tmp_path / "logs" / "train" / "runs").glob("*"))
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1  # one wandb run per job, finished
    files = offline[0] / "files"
    # offline runs keep history, summary and config as protobuf records in run-<id>.wandb
    records = next(offline[0].glob("run-*.wandb")).read_bytes()
    for key in (b"test/psnr", b"train/psnr", b"val/psnr", b"train/loss", b"n_components", b"whitening"):
        assert key in records, key
    images = list((files / "media" / "images").rglob("*.png"))
    names = " ".join(str(p.relative_to(files)) for p in images)
    assert "samples" in names and "interpolations" in names and "reconstructions" in names


@pytest.mark.slow
def test_optuna_sweep_two_trials(tmp_path):
    # the real search space (lr, J, PCA dimension up to 512, width) needs > 512 training images
    """Planted bug it catches: the sweeper minimising, or the job returning another metric than
    ``val/psnr`` (best_value would then not be the trials' best validation PSNR)."""
    import yaml

    _train(tmp_path, "hparams_search=optuna", "hydra.sweeper.n_trials=2", "data.n_train=600")
    jobs = _job_dirs(tmp_path)
    assert len(jobs) == 2 and all((j / "metrics.json").exists() for j in jobs)
    trials = [json.loads((j / "metrics.json").read_text())["val/psnr"] for j in jobs]
    results = yaml.safe_load(next((tmp_path / "logs" / "train" / "multiruns").glob("*/optimization_results.yaml")).read_text())
    assert results["best_value"] == pytest.approx(max(trials), abs=1e-6)
    best = jobs[trials.index(max(trials))]
    overrides = yaml.safe_load((best / ".hydra" / "overrides.yaml").read_text())
    assert all(f"{k}={v}" in overrides for k, v in results["best_params"].items())


@pytest.mark.slow  # subprocess runs: in make test-slow, for make test's 10-minute budget
def test_failing_jobs_fail_alone_and_the_sweep_reports_them(tmp_path):
    """Job 1 is impossible (500 components > 127 images), job 2 crashes at run time (a generator
    of width 0): the sweep goes on, each error is in its job's own log, the summary lists every
    job, and the sweep exits 1 after it, with no traceback on the terminal.  Planted bug it
    catches: no ``SweepSummary`` callback (exit 0, no summary) or a wrapper that re-raises run-time
    failures in a multirun (a traceback at the end, the job's log without its error)."""
    proc = _train(tmp_path, "-m", "model.generator.width=8,0", "whitening.n_components=8,500", status=1)
    jobs = _job_dirs(tmp_path)
    summary = json.loads((jobs[0].parent / "sweep_summary.json").read_text())
    assert len(summary["jobs"]) == 4 and summary["failed"] == 3
    status = {(w, n): next(j for j in summary["jobs"] if f"model.generator.width={w}" in j["overrides"]
                           and f"whitening.n_components={n}" in j["overrides"]) for w in (8, 0) for n in (8, 500)}
    assert [status[k]["status"] for k in ((8, 8), (8, 500), (0, 8), (0, 500))] == ["ok", "failed", "failed", "failed"]
    job_dir = {k: jobs[0].parent / str(v["job"]) for k, v in status.items()}
    assert (job_dir[8, 8] / "metrics.json").exists()
    assert not any((d / "metrics.json").exists() for k, d in job_dir.items() if k != (8, 8))
    assert "Traceback" not in proc.stderr
    assert "error: whitening.n_components=500" in (job_dir[8, 500] / "train.log").read_text()
    crash = (job_dir[0, 8] / "train.log").read_text()
    assert "Traceback" in crash and "error: IndexError" in crash  # the run-time failure, whole, in its own log
    table = (jobs[0].parent / "sweep_summary.md").read_text()
    assert f"| {status[0, 8]['job']} | whitening.n_components=8 model.generator.width=0 | failed |  | error: IndexError" in table
    assert "sweep summary (4 jobs, 3 failed" in proc.stderr


@pytest.mark.slow
def test_submitit_local_sweep(tmp_path):
    _train(tmp_path, "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "seed=0,1")
    jobs = _job_dirs(tmp_path)
    assert len(jobs) == 2 and all((j / "metrics.json").exists() for j in jobs)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    """Two ranks of 16 images are one batch of 32, except for two things: each rank's BatchNorm
    normalises by its own 16 images (SyncBN is GPU-only), and the DistributedSampler deals the
    images in another order.  Both change the optimisation path as another seed does (a seed
    changes the order and the initialisation), so the PSNR difference is bounded by the
    seed-to-seed spread of single-process runs (twice it, plus 0.1 dB).  Planted bug it catches: ranks training on the same images (no sampler) or on
    their own code caches (different L): the gap then exceeds the bound."""
    single, ddp, other_seed = tmp_path / "single", tmp_path / "ddp", tmp_path / "seed1"
    # 128 - 32 held out = 96 training images: 3 steps an epoch, so 2 epochs for max_steps=4 to bind
    steps = ["trainer.max_epochs=2", "trainer.max_steps=4", "trainer.precision=32-true"]
    _train(single, *steps, "data.batch_size=32")
    _train(other_seed, *steps, "data.batch_size=32", "seed=1")
    _train(ddp, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", *steps,
           "data.batch_size=16", "trainer.sync_batchnorm=false")  # SyncBN is GPU-only
    runs = {name: list((root / "logs" / "train" / "runs").glob("*"))
            for name, root in (("single", single), ("ddp", ddp), ("seed1", other_seed))}
    assert len(runs["ddp"]) == 1, runs["ddp"]  # the ranks share one run directory
    files = {name: sorted(str(p.relative_to(r[0])) for p in r[0].rglob("*") if p.is_file() and ".hydra" not in str(p)
                          and "csv" not in str(p) and p.suffix != ".log") for name, r in runs.items() if name != "seed1"}
    assert (runs["ddp"][0] / "train_ddp_process_1.log").exists()  # rank 1 logs beside rank 0, no directory of its own
    assert files["single"] == files["ddp"]
    metrics = {name: json.loads((r[0] / "metrics.json").read_text()) for name, r in runs.items()}
    assert metrics["ddp"]["steps"] == metrics["single"]["steps"] == 4
    spread = abs(metrics["seed1"]["test/psnr"] - metrics["single"]["test/psnr"])
    assert abs(metrics["ddp"]["test/psnr"] - metrics["single"]["test/psnr"]) <= 2 * spread + 0.1, (metrics, spread)
    # the code cache was built once, by rank 0
    assert len(list((ddp / "data" / "cache").glob("codes-*[!k]"))) == 1


def _busy_interval(job: Path) -> tuple[float, float]:
    """When a job directory's files were written: (first, last) modification times."""
    times = [p.stat().st_mtime for p in job.rglob("*") if p.is_file()]
    return min(times), max(times)


@pytest.mark.slow  # two tiny jobs in two worker processes: ~40 s
def test_the_study_launcher_runs_two_jobs_at_once(tmp_path):
    """``scripts/compare.py jobs=2`` trains through Hydra's joblib launcher: both jobs finish, in
    their own directories, and their working intervals overlap.  Planted bug it catches: the
    launcher overrides dropped (``parallel_launcher`` returning []), so the jobs run one after the other."""
    from scatgen.compare import parallel_launcher

    _train(tmp_path, "-m", *parallel_launcher(2), "seed=0,1")
    jobs = _job_dirs(tmp_path)
    assert [p.name for p in jobs] == ["0", "1"] and all((j / "metrics.json").exists() for j in jobs)
    (start0, end0), (start1, end1) = map(_busy_interval, jobs)
    assert start1 < end0 and start0 < end1, "the two jobs ran one after the other"
