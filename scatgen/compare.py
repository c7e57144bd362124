"""``scripts/compare.py``: train the models at an equal budget (one Hydra multirun of train.py),
evaluate each run with the same settings, and write the report."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from scatgen.errors import UserError
from scatgen.evaluate import evaluate_checkpoint
from scatgen.storage.artefacts import config_hash
from scatgen.studies.report import write_report

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def train_runs(cfg: DictConfig, sweep_dir: Path) -> list[Path]:
    """One multirun over models x seeds into ``sweep_dir`` (named by a hash of the settings);
    returns the job directories.  Reuses them when every job has finished; otherwise trains all."""
    experiments = ",".join(f"{cfg.experiments}_{m}" for m in cfg.models)
    seeds = ",".join(str(s) for s in cfg.seeds)
    n_jobs = len(cfg.models) * len(cfg.seeds)
    jobs = [sweep_dir / str(i) for i in range(n_jobs)]
    if all((j / "metrics.json").exists() for j in jobs):
        log.info("reusing the %d trained runs in %s", n_jobs, sweep_dir)
        return jobs
    epochs = [f"trainer.max_epochs={cfg.epochs}"] if cfg.epochs else []
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", f"experiment={experiments}", f"seed={seeds}", *epochs,
           f"hydra.sweep.dir={sweep_dir}",
           # each run's own end-of-training evaluation on 32 images per split: the study evaluates
           # every run in full afterwards (the GAN's latent inversion would otherwise run twice)
           "study.eval_limit=32", *cfg.train_overrides]
    log.info(" ".join(cmd[1:]))
    if subprocess.run(cmd, cwd=ROOT).returncode:
        raise UserError(f"some training runs of the study failed: see {sweep_dir / 'sweep_summary.md'} (each job's own "
                        "train.log has its error); fix the cause and run the study again")
    return jobs


def evaluation_dir(run: Path) -> Path:
    """A run's evaluation lives in ``<run>/evaluation/``; ``summary.md`` is written last, so it marks
    a finished one (an interrupted study resumes with the runs not yet evaluated)."""
    return run if (run / "summary.md").exists() else run / "evaluation"


def compare(cfg: DictConfig) -> Path:
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    t0 = time.perf_counter()
    if cfg.runs:
        runs = [Path(r) for r in cfg.runs]
    else:
        settings = {"models": list(cfg.models), "experiments": cfg.experiments, "seeds": list(cfg.seeds),
                    "epochs": cfg.epochs, "overrides": list(cfg.train_overrides)}
        runs = train_runs(cfg, Path(cfg.paths.log_dir) / "study" / f"runs-{config_hash(settings)}")
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    eval_dirs = []
    for run in runs:
        target = evaluation_dir(run)
        if not (target / "summary.md").exists():
            ckpt = run / "checkpoints" / "last.ckpt"
            if not ckpt.exists():
                raise UserError(f"runs entry {str(run)!r} has no checkpoints/last.ckpt: give run directories written by train.py")
            log.info("evaluating %s", run)
            evaluate_checkpoint(ckpt, target, cfg)
        eval_dirs.append(target)
    timings["evaluate_s"] = time.perf_counter() - t0
    budget = f"{cfg.epochs} epochs" if cfg.epochs else f"the {cfg.experiments}_* experiments' epochs"
    trained = "" if cfg.runs else f"training {timings['train_s'] / 60:.1f} min (equal budget: {budget} each), "
    header = [f"Wall time on this machine: {trained}evaluation {timings['evaluate_s'] / 60:.1f} min.", ""]
    path = write_report(eval_dirs, out_dir, header)
    log.info("report -> %s", path)
    return path
