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

from omegaconf import DictConfig, OmegaConf

from scatgen.errors import UserError
from scatgen.evaluate import evaluate_checkpoint
from scatgen.storage.artefacts import config_hash
from scatgen.studies.axes import axis_points, axis_table, claim1, claim2, load_axes_table, write_axes_report
from scatgen.studies.report import write_report

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


def parallel_launcher(jobs: int) -> list[str]:
    """Overrides that run a multirun's jobs ``jobs`` at a time: Hydra's joblib launcher, whose
    worker processes joblib limits to ``cpu_count // jobs`` threads each (none for ``jobs=1``)."""
    if jobs < 1:
        raise UserError(f"jobs={jobs} must be >= 1 (runs trained and evaluated at once; 2 on 2 CPU cores)")
    return ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"] if jobs > 1 else []


def train_runs(experiments: str, models: list[str], seeds: list[int], epochs: int | None, overrides: list[str],
               sweep_dir: Path, jobs: int = 1) -> list[Path]:
    """One multirun of ``experiment=<experiments>_<model>`` over models x seeds into ``sweep_dir``
    (named by a hash of the settings), ``jobs`` runs at a time; returns the job directories.
    Reuses them when every job has finished; otherwise trains all."""
    names = ",".join(f"{experiments}_{m}" for m in models)
    n_jobs = len(models) * len(seeds)
    job_dirs = [sweep_dir / str(i) for i in range(n_jobs)]
    if all((j / "metrics.json").exists() for j in job_dirs):
        log.info("reusing the %d trained runs in %s", n_jobs, sweep_dir)
        return job_dirs
    budget = [f"trainer.max_epochs={epochs}"] if epochs else []
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", f"experiment={names}", f"seed={','.join(map(str, seeds))}",
           *budget, f"hydra.sweep.dir={sweep_dir}",
           # each run's own end-of-training evaluation on 32 images per split: the study evaluates
           # every run in full afterwards (the GAN's latent inversion would otherwise run twice)
           "study.eval_limit=32", *parallel_launcher(jobs), *overrides]
    log.info(" ".join(cmd[1:]))
    if subprocess.run(cmd, cwd=ROOT).returncode:
        raise UserError(f"some training runs of the study failed: see {sweep_dir / 'sweep_summary.md'} (each job's own "
                        "train.log has its error); fix the cause and run the study again")
    return job_dirs


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


EVALUATION_KEYS = ("study", "device", "n_samples", "wandb")  # the settings evaluate_checkpoint reads


def _evaluate_in_worker(ckpt: Path, target: Path, settings: dict) -> None:
    """One evaluation in a joblib worker process (its own logging; ``settings`` resolved by the parent)."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    evaluate_checkpoint(ckpt, target, OmegaConf.create(settings))


def evaluate_runs(runs: list[Path], cfg: DictConfig) -> list[Path]:
    """Evaluate every run not yet evaluated (``cfg.study`` settings), ``cfg.jobs`` at a time in
    worker processes (joblib, ``cpu_count // jobs`` threads each); returns the evaluation dirs."""
    todo, eval_dirs = [], []
    for run in runs:
        target = evaluation_dir(run)
        if not (target / "summary.md").exists():
            ckpt = run / "checkpoints" / "last.ckpt"
            if not ckpt.exists():
                raise UserError(f"runs entry {str(run)!r} has no checkpoints/last.ckpt: give run directories written by train.py")
            todo.append((ckpt, target))
        eval_dirs.append(target)
    jobs = int(cfg.get("jobs", 1))
    parallel_launcher(jobs)  # checks the value
    if jobs == 1 or len(todo) < 2:
        for ckpt, target in todo:
            log.info("evaluating %s", ckpt.parent.parent)
            evaluate_checkpoint(ckpt, target, cfg)
        return eval_dirs
    from joblib import Parallel, delayed

    log.info("evaluating %d runs, %d at a time", len(todo), jobs)
    # what evaluate_checkpoint reads, resolved here: the workers have no Hydra context to resolve in
    settings = {key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
                for key in EVALUATION_KEYS if key in cfg}
    Parallel(n_jobs=jobs, backend="loky")(delayed(_evaluate_in_worker)(c, t, settings) for c, t in todo)
    return eval_dirs


def long_gan_point(curve: Path) -> dict | None:
    """The last record of the GAN's learning curve (``make study-gan-long``'s ``curve.json``), or ``None``."""
    import json

    records = json.loads(curve.read_text()) if curve.is_file() else []
    return records[-1] if records else None


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
                                   sweep_dir(cfg, "study", settings), jobs=cfg.jobs)
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
    path = write_report(eval_dirs, out_dir, header, claim2(axes) if axes else None, claim1(axes) if axes else None,
                        long_gan_point(ROOT / cfg.long_gan_curve) if cfg.get("long_gan_curve") else None)
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
                              sweep_dir(cfg, "study_axes", settings), jobs=cfg.jobs)
            trained[key] = evaluate_runs(runs, cfg)
        evaluations[point] = trained[key]
    header = [f"Wall time on this machine: {(time.perf_counter() - t0) / 60:.1f} min for {len(trained)} training "
              f"settings x {len(cfg.models)} models (seed {cfg.seed}), each trained and evaluated (finished runs are "
              "reused, so a resumed study counts only what it did).", ""]
    path = write_axes_report(axis_table(evaluations), out_dir, header)
    log.info("axes report -> %s", path)
    return path
