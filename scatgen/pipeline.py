"""``python train.py``: the pipeline, stage by stage, as the package is laid out.

1. validate the composed config (impossible settings fail here, in one line);
2. data: render or check the data set (``scatgen.data``);
3. encode: ``S_J x`` for every image, ``L`` fitted on the training codes (or loaded with the
   cache), ``z = L S_J x`` stored (``scatgen.encoding.code_cache``); only for models that train
   on codes, whose ``L`` then goes into their checkpoint;
4. fit the model (Lightning), on the training split less the validation rows;
5. evaluate the final model (``scatgen.studies``) and write ``metrics.json`` and the PNGs.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities.exceptions import SIGTERMException
from rich.console import Console
from rich.syntax import Syntax

from scatgen.config import validate
from scatgen.factory import build, build_trainer, code_cache
from scatgen.storage.artefacts import remove_stale_temporaries, write_json
from scatgen.studies.context import precision_context
from scatgen.studies.study import TRAINING_PARTS, StudySettings, run_study
from scatgen.errors import UserError
from scatgen.training import FitTimer, log_images, requeued_checkpoint

log = logging.getLogger(__name__)
PREEMPTED_EXIT = 143  # 128 + SIGTERM, as a shell reports a process the signal ended
# time_budget_s: what the final evaluation, the checkpoints and the exit are left (the final
# evaluation of make train's run: 7 s on the Intel Xeon with AMX; about 3x that on the slowest kind)
FINAL_STAGE_RESERVE_S = 30.0
MIN_FIT_S = 60.0  # the least a time budget leaves the fit, even when the preparation used it up


def print_config(cfg: DictConfig, out_dir: Path) -> None:
    """Print the resolved config tree and save it beside the run (Hydra also keeps ``.hydra/``)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    Console(stderr=True).print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    (out_dir / "config_tree.yaml").write_text(text)


def encode(cfg: DictConfig, datamodule, model) -> None:
    """Stage 3: ``z = L S_J x`` of both splits, attached to the data module; ``model.whitening``
    leaves fitted (on the training codes, or loaded from the cache built with the same config)."""
    if not model.uses_codes:
        return
    t = time.perf_counter()
    codes = code_cache(cfg, datamodule, model).load_or_build(model.whitening)
    datamodule.attach_codes(codes)
    log.info("codes ready in %.1f s: z of %d numbers per image, whitening %s", time.perf_counter() - t,
             model.whitening.z_dim, model.whitening.digest())


def train(cfg: DictConfig) -> float | None:
    start, before_start = time.perf_counter(), startup_s()
    validate(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(out_dir / "checkpoints")
    if stale:
        log.info("removed %d temporary file(s) a killed save left in %s: %s", len(stale), out_dir / "checkpoints",
                 ", ".join(p.name for p in stale))
    print_config(cfg, out_dir)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")

    datamodule, model = build(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    trainer: L.Trainer = build_trainer(cfg, callbacks=callbacks, logger=loggers, default_root_dir=str(out_dir))
    for logger in loggers:  # the whole resolved config, not only the model's hyper-parameters
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    if trainer.world_size > 1:
        pin_ddp_run_dir(out_dir)

    # Data and codes first (every rank: rank 0 builds, the others find the artefacts complete),
    # so that the fit timer measures training alone.
    t0 = time.perf_counter()
    datamodule.prepare_data()
    datamodule.setup("fit")  # the split sizes are checked here, before the encoding stage
    encode(cfg, datamodule, model)
    prep_s = time.perf_counter() - t0
    add_fit_budget(cfg, trainer, spent_s=before_start + time.perf_counter() - start)
    metric = cfg.get("optimized_metric") or "val/psnr"
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None and (ckpt_path := requeued_checkpoint(out_dir)) is not None:
        log.info("requeued by SLURM (restart %s): resuming from %s", os.environ.get("SLURM_RESTART_COUNT"), ckpt_path)
    try:
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        except SIGTERMException:  # preempted: SaveOnInterrupt saved the state; a scheduler must not see success
            raise SystemExit(PREEMPTED_EXIT) from None
        if metric not in trainer.callback_metrics:  # stopped (max_steps) before any validation: validate now
            trainer.validate(model, datamodule=datamodule, verbose=False)
        if trainer.is_global_zero:
            evaluate_final_model(cfg, trainer, model, datamodule, out_dir, prep_s, start)
    finally:
        finish_wandb(trainer)
    value = trainer.callback_metrics.get(metric)
    if value is None:
        raise UserError(f"optimized_metric={metric} was never logged; use one of "
                        f"{', '.join(sorted(k for k in trainer.callback_metrics if k.startswith('val/')))}")
    return float(value)


_STARTED_BEFORE: list[bool] = []


def startup_s() -> float:
    """Seconds between this process's start and its first ``train()`` (interpreter, imports, Hydra:
    Linux's ``/proc``; 0 elsewhere), and 0 for a later run in the same process (a multirun's jobs)."""
    if _STARTED_BEFORE:
        return 0.0
    _STARTED_BEFORE.append(True)
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def add_fit_budget(cfg: DictConfig, trainer: L.Trainer, spent_s: float) -> None:
    """``time_budget_s``: the whole run's wall-clock budget, from the process's start.  The fit gets
    what the start-up and the preparation (``spent_s``) left, less ``FINAL_STAGE_RESERVE_S``, but at
    least ``MIN_FIT_S`` (a slow CPU overruns rather than train nothing), as a Lightning ``Timer`` that
    stops it there; the learning rate anneals over that time where it binds (``BudgetedCosineLR``)."""
    budget = cfg.get("time_budget_s")
    if budget is None:
        return
    fit_s = budget - spent_s - FINAL_STAGE_RESERVE_S
    if fit_s < MIN_FIT_S:
        log.warning("time_budget_s=%g: start-up and preparation took %.0f s, which leaves the fit %.0f s; it gets its "
                    "minimum of %.0f s, so the run ends about %.0f s over its budget (give a larger time_budget_s, or "
                    "null for none)", budget, spent_s, max(fit_s, 0), MIN_FIT_S, MIN_FIT_S - fit_s)
        fit_s = MIN_FIT_S
    trainer.callbacks.append(Timer(duration=timedelta(seconds=fit_s), interval="step", verbose=True))
    log.info("time_budget_s=%g: the fit may take %.0f s (start-up and preparation took %.0f s); where the %d epochs do "
             "not fit, it stops there, with the learning rate annealed over that time", budget, fit_s, spent_s,
             cfg.trainer.max_epochs)


def fit_seconds(trainer: L.Trainer) -> float:
    """Training wall time of the run, resumed parts included (``FitTimer``)."""
    timers = [c for c in trainer.callbacks if isinstance(c, FitTimer)]
    return timers[0].elapsed() if timers else float("nan")


def model_choice() -> str | None:
    """The model's name in config (``model=<name>``, a file of ``conf/model/``: ``inverse_scattering``,
    ``vae``, ``gan``, ``dcgan``, ``sngan``, ``sngan_diffaugment``), which the study keys its models by;
    ``None`` outside a Hydra run (the compose API)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("model") if HydraConfig.initialized() else None


def evaluate_final_model(cfg: DictConfig, trainer: L.Trainer, model, datamodule, out_dir: Path, prep_s: float,
                         start: float) -> dict:
    """Stage 5: the training parts of the study on the final model, then ``metrics.json``."""
    fit_s = fit_seconds(trainer)
    metrics = {"time/prepare_s": prep_s, "time/fit_s": fit_s, "epochs": trainer.current_epoch,
               "steps": trainer.global_step, "model": type(model).__name__, "model_name": model_choice(),
               "precision": str(trainer.precision)}
    metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")})
    settings = StudySettings.from_config(cfg.study, parts=TRAINING_PARTS, n_samples=64,
                                         cache_dir=str(cfg.paths.cache_dir))
    precision = precision_context(str(trainer.precision), model.device)
    metrics.update(run_study(model, datamodule, out_dir, settings, precision=precision))
    metrics["time/total_s"] = time.perf_counter() - start
    write_json(out_dir / "metrics.json", metrics)
    for logger in trainer.loggers:
        logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=trainer.global_step)
        logger.save()
    for name in ("samples", "interpolations"):
        log_images(trainer, name, out_dir / f"{name}.png")
    log.info("train/psnr=%.2f dB  test/psnr=%.2f dB  fit %.0fs  total %.0fs  -> %s", metrics["train/psnr"],
             metrics["test/psnr"], fit_s, metrics["time/total_s"], out_dir)
    return metrics


def pin_ddp_run_dir(out_dir: Path) -> None:
    """Lightning's DDP launcher restarts this script for ranks > 0 with ``hydra.run.dir`` set to
    the parent's ``run.dir``; in a multirun that is not the job's directory, so each rank would
    make a run directory of its own. Point ``run.dir`` at this job's directory first."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict, read_write

    if HydraConfig.initialized():
        hc = HydraConfig.get()
        with read_write(hc), open_dict(hc):
            hc.run.dir = str(out_dir)


def finish_wandb(trainer: L.Trainer) -> None:
    """End the wandb run of this job, so that the jobs of a multirun do not merge into one."""
    if any(type(logger).__name__ == "WandbLogger" for logger in trainer.loggers):
        import wandb

        wandb.finish()
