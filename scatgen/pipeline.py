"""``python train.py``: compose, validate, build every stage with ``hydra.utils.instantiate``, train,
evaluate the final model and write the run directory."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax

from scatgen.callbacks import log_images
from scatgen.config import validate
from scatgen.studies.run_outputs import evaluate_run


def print_config(cfg: DictConfig, out_dir: Path) -> None:
    """Print the resolved config tree and save it beside the run (Hydra also keeps ``.hydra/``)."""
    text = OmegaConf.to_yaml(cfg, resolve=True)
    Console(stderr=True).print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    (out_dir / "config_tree.yaml").write_text(text)


def settings_for_target(node: DictConfig) -> DictConfig:
    """Resolve ``node`` and drop the keys its ``_target_`` does not take: data-level settings such as
    ``data.root`` or ``data.image_size`` exist for interpolation into ``data.source`` (and the encoder
    and generator), so that users type ``data.image_size=128``."""
    params = inspect.signature(get_class(node._target_)).parameters
    resolved = OmegaConf.to_container(node, resolve=True)
    return OmegaConf.create({k: v for k, v in resolved.items() if k.startswith("_") or k in params})


def model_uses_codes(cfg: DictConfig) -> bool:
    """Whether the model trains on cached scattering codes (its class says so)."""
    return bool(getattr(get_class(cfg.model._target_), "uses_codes", False))


def build(cfg: DictConfig):
    """Instantiate encoder, whitening, datamodule and model from the config."""
    uses_codes = model_uses_codes(cfg)
    encoder = whitening = None
    if uses_codes:
        encoder = instantiate(cfg.encoder)
        whitening = instantiate(cfg.whitening, code_shape=encoder.code_shape)
    datamodule = instantiate(settings_for_target(cfg.data), encoder=encoder, whitening=whitening, with_codes=uses_codes)
    model_kwargs = {"encoder": encoder, "whitening": whitening} if uses_codes else {}
    model = instantiate(cfg.model, **model_kwargs)
    return encoder, whitening, datamodule, model


def train(cfg: DictConfig) -> float | None:
    start = time.perf_counter()
    validate(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print_config(cfg, out_dir)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")

    _, _, datamodule, model = build(cfg)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers, default_root_dir=str(out_dir))
    for logger in loggers:  # the whole resolved config, not only the model's hyper-parameters
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    if trainer.world_size > 1:
        pin_ddp_run_dir(out_dir)
    # Data and code cache first (rank 0 under DDP), so the fit timer measures training alone.
    t0 = time.perf_counter()
    if trainer.is_global_zero:
        datamodule.prepare_data()
    prep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    fit_s = time.perf_counter() - t0

    metrics = {}
    if trainer.is_global_zero:
        extra = {"time/prepare_s": prep_s, "time/fit_s": fit_s, "epochs": trainer.current_epoch,
                 "steps": trainer.global_step, "model": cfg.model._target_.rsplit(".", 1)[-1]}
        extra.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")})
        eval_limit = cfg.get("eval_limit") or getattr(model, "default_eval_limit", None)
        metrics = evaluate_run(model, datamodule, out_dir, eval_limit=eval_limit, seed=cfg.get("seed") or 0,
                               extra=extra, precision=trainer.precision_plugin.forward_context)
        metrics["time/total_s"] = time.perf_counter() - start
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        for logger in trainer.loggers:
            logger.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, step=trainer.global_step)
            logger.save()
        for name in ("samples", "interpolations"):
            log_images(trainer, name, out_dir / f"{name}.png")
        print(f"[scatgen] train/psnr={metrics['train/psnr']:.2f} dB  test/psnr={metrics['test/psnr']:.2f} dB  "
              f"fit {fit_s:.0f}s  total {metrics['time/total_s']:.0f}s  -> {out_dir}")
    finish_wandb(trainer)
    value = trainer.callback_metrics.get(cfg.get("optimized_metric") or "val/psnr")
    return float(value) if value is not None else None


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
