"""Entry points of the study: evaluate one checkpoint into its own directory (and wandb)."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scatgen.errors import UserError
from scatgen.studies.checkpoint import load_model, precision_context, run_dir_of
from scatgen.studies.evaluation import StudySettings, evaluate_model

FIGURES = ("samples", "interpolations", "crossfades", "interpolation_smoothness", "psnr_histogram",
           "reconstructions_test", "mode_histogram", "memorisation_pixel", "nearest_neighbours")


def study_settings(cfg: DictConfig, **extra) -> StudySettings:
    values = OmegaConf.to_container(cfg.study, resolve=True)
    if cfg.get("n_samples"):
        values["n_samples"] = int(cfg.n_samples)
    return StudySettings(**values, extra=extra)


def evaluate_checkpoint(ckpt_path: str | Path, out_dir: str | Path, cfg: DictConfig) -> dict:
    """Evaluate ``ckpt_path`` into ``out_dir``; returns the metrics (also in ``metrics.json``)."""
    if ckpt_path is None or ckpt_path == "???":
        raise UserError("ckpt_path is missing: python scripts/evaluate.py ckpt_path=logs/train/runs/<time>/checkpoints/last.ckpt")
    run_cfg, datamodule, model = load_model(ckpt_path, cfg.get("device", "cpu"))
    run_dir = run_dir_of(ckpt_path)
    extra = {"run_dir": str(run_dir), "ckpt_path": str(ckpt_path), "seed": run_cfg.get("seed"),
             "epochs": OmegaConf.select(run_cfg, "trainer.max_epochs")}
    metrics = evaluate_model(model, datamodule, out_dir, study_settings(cfg, **extra), run_cfg.paths.cache_dir,
                             precision=precision_context(run_cfg))
    if cfg.get("wandb", "disabled") != "disabled":
        log_to_wandb(metrics, Path(out_dir), cfg.wandb, run_cfg)
    return metrics


def log_to_wandb(metrics: dict, out_dir: Path, mode: str, run_cfg: DictConfig) -> None:
    import wandb

    project = OmegaConf.select(run_cfg, "logger.wandb.project", default="scatgen")
    run = wandb.init(project=project, mode=mode, dir=str(out_dir), job_type="evaluate",
                     config={"run": OmegaConf.to_container(run_cfg, resolve=False), "metrics_file": "metrics.json"})
    run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    run.log({name: wandb.Image(str(out_dir / f"{name}.png")) for name in FIGURES if (out_dir / f"{name}.png").exists()})
    run.finish()


def print_metrics(metrics: dict, out_dir: Path) -> None:
    keys = ("train/psnr", "test/psnr", "sample/fid", "sample/precision", "sample/recall", "modes/modes_covered")
    shown = "  ".join(f"{k}={metrics[k]:.3g}" for k in keys if k in metrics)
    print(f"[scatgen] {shown}  -> {out_dir}")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
