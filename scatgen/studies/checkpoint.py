"""Rebuild a trained model from its checkpoint and the run's saved config (``.hydra/config.yaml``)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from scatgen.errors import UserError


def run_dir_of(ckpt_path: str | Path) -> Path:
    """``<run>/checkpoints/last.ckpt`` -> ``<run>``."""
    ckpt = Path(ckpt_path)
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


def load_run_config(ckpt_path: str | Path) -> DictConfig:
    ckpt = Path(ckpt_path)
    if not ckpt.is_file():
        raise UserError(f"ckpt_path={str(ckpt)!r} does not exist: give a checkpoint written by train.py, "
                        "e.g. logs/train/runs/<time>/checkpoints/last.ckpt")
    config = run_dir_of(ckpt) / ".hydra" / "config.yaml"
    if not config.is_file():
        raise UserError(f"no run config at {config}: evaluate.py needs the run directory that train.py wrote "
                        "around the checkpoint (<run>/.hydra/config.yaml beside <run>/checkpoints/)")
    return OmegaConf.load(config)


def precision_context(cfg: DictConfig):
    """The run's trainer precision as a context for inference (bf16 autocast or nothing)."""
    import scatgen.config  # noqa: F401  (registers the ${cpu_precision:} resolver)

    precision = str(OmegaConf.select(cfg, "trainer.precision", default="32-true"))
    device = "cuda" if str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu")) == "gpu" else "cpu"
    if precision.startswith("bf16"):
        # no cast cache (as Lightning): latent inversion updates a leaf z inside the region, and a
        # cached bf16 copy of it would freeze G(z) (measured: GAN test PSNR 3.7 dB instead of 23.4)
        return lambda: torch.autocast(device, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext


def load_model(ckpt_path: str | Path, device: str = "cpu"):
    """``(cfg, datamodule, model)`` of a finished or interrupted run, weights from ``ckpt_path``."""
    from scatgen.pipeline import build

    cfg = load_run_config(ckpt_path)
    _, _, datamodule, model = build(cfg)
    try:
        state = torch.load(ckpt_path, map_location=device, weights_only=False)["state_dict"]
        model.load_state_dict(state)
    except (RuntimeError, KeyError, EOFError) as err:
        raise UserError(f"ckpt_path={str(ckpt_path)!r} cannot be loaded into the run's model "
                        f"({type(err).__name__}: {str(err).splitlines()[0][:120]}); is it complete and from this run?")
    datamodule.prepare_data()
    datamodule.setup("fit")
    return cfg, datamodule, model.to(device).eval()
