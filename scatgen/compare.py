"""``scripts/compare.py``: train the models at an equal budget (one Hydra multirun of train.py),
evaluate each run with the same settings, and write the report; ``scripts/study_axes.py``: the
same at every point of the complexity and size axes (``scatgen/studies/axes.py``)."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from scatgen.errors import UserError
from scatgen.evaluate import evaluate_checkpoint
from scatgen.storage.artefacts import config_hash
from scatgen.studies.axes import axis_points, axis_table, claim2, load_axes_table, write_axes_report
from scatgen.studies.report import write_report

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def train_runs(experiments: str, models: list[str], seeds: list[int], epochs: int | None, overrides: list[str],
               sweep_dir: Path) -> list[Path]:
    """One multirun of ``experiment=<experiments>_<model>`` over models x seeds into ``sweep_dir``
    (named by a hash of the settings); returns the job directories.  Reuses them when every job
    has finished; otherwise trains all."""
    names = ",".join(f"{experiments}_{m}" for m in models)
    n_jobs = len(models) * len(seeds)
    jobs = [sweep_dir / str(i) for i in range(n_jobs)]
    if all((j / "metrics.json").exists() for j in jobs):
        log.info("reusing the %d trained runs in %s", n_jobs, sweep_dir)
        return jobs
    budget = [f"trainer.max_epochs={epochs}"] if epochs else []
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", f"experiment={names}", f"seed={','.join(map(str, seeds))}",
           *budget, f"hydra.sweep.dir={sweep_dir}",
           # each run's own end-of-training evaluation on 32 images per split: the study evaluates
           # every run in full afterwards (the GAN's latent inversion would otherwise run twice)
           "study.eval_limit=32", *overrides]
    log.info(" ".join(cmd[1:]))
    if subprocess.run(cmd, cwd=ROOT).returncode:
        raise UserError(f"some training runs of the study failed: see {sweep_dir / 'sweep_summary.md'} (each job's own "
                        "train.log has its error); fix the cause and run the study again")
    return jobs


# config files that do not change what train.py trains (the drivers' and evaluation's own settings)
NOT_TRAINING = ("compare.yaml", "study_axes.yaml", "evaluate.yaml", "study/", "synthesize/")


def training_config_digest(conf_dir: Path = ROOT / "conf") -> str:
    """sha256 of every training config file (path and text): a recipe edited in ``conf/`` finds
    no stale runs trained under the old one."""
    h = hashlib.sha256()
    for path in sorted(conf_dir.rglob("*.yaml")):
        rel = path.relative_to(conf_dir).as_posix()
        if not rel.startswith(NOT_TRAINING):
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def sweep_dir(cfg: DictConfig, kind: str, settings: dict) -> Path:
    """``<log_dir>/<kind>/runs-<hash of settings and the training configs>``: the same settings
    under the same configs find the same runs."""
    return Path(cfg.paths.log_dir) / kind / f"runs-{config_hash({**settings, 'conf': training_config_digest()})}"


def evaluation_dir(run: Path) -> Path:
    """A run's evaluation lives in ``<run>/evaluation/``; ``summary.md`` is written last, so it marks
    a finished one (an interrupted study resumes with the runs not yet evaluated)."""
    return run if (run / "summary.md").exists() else run / "evaluation"


def evaluate_runs(runs: list[Path], cfg: DictConfig) -> list[Path]:
    """Evaluate every run not yet evaluated (``cfg.study`` settings); returns the evaluation dirs."""
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
    return eval_dirs


def compare(cfg: DictConfig) -> Path:
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    t0 = time.perf_counter()
    if cfg.runs:
        runs = [Path(r) for r in cfg.runs]
    else:
        # the models on every seed, then the reference rows (e.g. the classic DCGAN) on their own seeds
        groups = [(list(cfg.models), list(cfg.seeds)), (list(cfg.reference_models), list(cfg.reference_seeds))]
        runs = []
        for models, seeds in groups:
            if models:
                settings = {"models": models, "experiments": cfg.experiments, "seeds": seeds, "epochs": cfg.epochs,
                            "overrides": list(cfg.train_overrides)}
                runs += train_runs(cfg.experiments, models, seeds, cfg.epochs, list(cfg.train_overrides),
                                   sweep_dir(cfg, "study", settings))
    timings["train_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    eval_dirs = evaluate_runs(runs, cfg)
    timings["evaluate_s"] = time.perf_counter() - t0
    budget = f"{cfg.epochs} epochs" if cfg.epochs else f"the {cfg.experiments}_* experiments' epochs"
    trained = "" if cfg.runs else f"training {timings['train_s'] / 60:.1f} min (equal budget: {budget} each), "
    header = [f"Wall time on this machine: {trained}evaluation {timings['evaluate_s'] / 60:.1f} min.", ""]
    axes = load_axes_table(ROOT / cfg.axes_report) if cfg.axes_report else None
    if cfg.axes_report and axes is None:
        log.info("no axes report at %s yet (make study-axes): the saturation half of claim 2 stays unmeasured",
                 cfg.axes_report)
    path = write_report(eval_dirs, out_dir, header, claim2(axes) if axes else None)
    log.info("report -> %s", path)
    return path


def compare_axes(cfg: DictConfig) -> Path:
    """``scripts/study_axes.py``: each point of the two axes trained (the same models and seed),
    evaluated, and gathered into the axes report.  A point shared by both axes trains once."""
    out_dir = Path(cfg.out_dir)
    points = axis_points(list(cfg.complexity), list(cfg.sizes), cfg.n_train, cfg.epochs)
    if not points:
        raise UserError("complexity=[] and sizes=[]: give at least one level, e.g. complexity=[1,2,4]")
    t0 = time.perf_counter()
    evaluations, trained = {}, {}
    for point in points:
        overrides = [*point.overrides(), *cfg.train_overrides]
        settings = {"models": list(cfg.models), "experiments": cfg.experiments, "seeds": [cfg.seed],
                    "epochs": point.epochs, "overrides": overrides}
        key = config_hash(settings)
        if key not in trained:
            log.info("axis %s = %s: %s", point.axis, point.value, " ".join(overrides))
            runs = train_runs(cfg.experiments, list(cfg.models), [cfg.seed], point.epochs, overrides,
                              sweep_dir(cfg, "study_axes", settings))
            trained[key] = evaluate_runs(runs, cfg)
        evaluations[point] = trained[key]
    header = [f"Wall time on this machine: {(time.perf_counter() - t0) / 60:.1f} min for {len(trained)} training "
              f"settings x {len(cfg.models)} models (seed {cfg.seed}), each trained and evaluated (finished runs are "
              "reused, so a resumed study counts only what it did).", ""]
    path = write_axes_report(axis_table(evaluations), out_dir, header)
    log.info("axes report -> %s", path)
    return path
