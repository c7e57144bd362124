"""``python scripts/evaluate.py ckpt_path=...``: the study of one trained run, from its checkpoint.

The checkpoint is read first (weights only, ``scatgen.storage.checkpoints``), so a missing, foreign
or damaged file fails in one line before any work.  The model is rebuilt from the run's own
config (``<run>/.hydra/config.yaml``) and takes the checkpoint's weights, whitening ``L``
included: it encodes new images with no data module.  The run's code cache is used only if it
holds that same ``L`` (otherwise images are encoded with the checkpoint's ``L``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scatgen.devices import resolve_device, trainer_precision
from scatgen.errors import UserError
from scatgen.factory import build, code_cache
from scatgen.storage.artefacts import write_json
from scatgen.storage.checkpoints import BadCheckpoint, read_checkpoint
from scatgen.studies.study import StudySettings, precision_context, run_study, summary_markdown

log = logging.getLogger(__name__)

def run_dir_of(ckpt_path: str | Path) -> Path:
    """``<run>/checkpoints/last.ckpt`` -> ``<run>``."""
    ckpt = Path(ckpt_path)
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


def model_name_of(ckpt_path: str | Path) -> str | None:
    """The run's ``model=<name>`` (Hydra's choice, in ``<run>/.hydra/hydra.yaml``), or ``None``."""
    hydra_file = run_dir_of(ckpt_path) / ".hydra" / "hydra.yaml"
    if not hydra_file.is_file():
        return None
    return OmegaConf.select(OmegaConf.load(hydra_file), "hydra.runtime.choices.model", default=None)


# A run's config is code: ``_target_`` names what Hydra calls.  A run folder is rebuilt only from these.
ALLOWED_TARGETS = ("scatgen.", "torch.", "torchvision.", "lightning.", "torchmetrics.", "datetime.timedelta")


def foreign_targets(tree, path: str = "") -> list[tuple[str, str]]:
    """``(key, target)`` of every ``_target_`` in ``tree`` outside ``ALLOWED_TARGETS``."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "_target_" and not (isinstance(value, str) and value.startswith(ALLOWED_TARGETS)):
                found.append((where, str(value)))
            found += foreign_targets(value, where)
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            found += foreign_targets(value, f"{path}[{i}]")
    return found


def load_run_config(ckpt_path: str | Path) -> DictConfig:
    """The run's saved config, refused in one line if it names a ``_target_`` outside scatgen's, torch's
    and Lightning's (a shared run folder could otherwise make ``evaluate.py`` call anything)."""
    config = run_dir_of(ckpt_path) / ".hydra" / "config.yaml"
    if not config.is_file():
        raise UserError(f"no run config at {config}: evaluate.py needs the run directory that train.py wrote "
                        "around the checkpoint (<run>/.hydra/config.yaml beside <run>/checkpoints/)")
    cfg = OmegaConf.load(config)
    foreign = foreign_targets(OmegaConf.to_container(cfg, resolve=False))
    if foreign:
        key, target = foreign[0]
        raise UserError(f"{config} names {key}={target!r}: a run is rebuilt only from scatgen's, torch's and Lightning's "
                        "classes (a run folder's config is code); check where this run folder came from")
    return cfg


def load_model(ckpt_path: str | Path, device="cpu", with_data: bool = True):
    """``(cfg, datamodule, model)`` of a finished or interrupted run, weights from ``ckpt_path``
    (``datamodule`` is ``None`` without ``with_data``)."""
    ckpt = read_checkpoint(ckpt_path)
    cfg = load_run_config(ckpt_path)
    datamodule, model = build(cfg)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise BadCheckpoint(f"ckpt_path={str(ckpt_path)!r} does not fit the run's model "
                            f"({str(err).splitlines()[0][:160]}); is it from this run?") from None
    model = model.to(resolve_device(device)).eval()
    if not with_data:
        return cfg, None, model
    datamodule.prepare_data()
    datamodule.setup("test")
    if model.uses_codes:
        datamodule.attach_codes(code_cache(cfg, datamodule, model).load_matching(model.whitening.cpu()))
        model.to(resolve_device(device))
    return cfg, datamodule, model


def evaluate_checkpoint(ckpt_path: str | Path | None, out_dir: str | Path, cfg: DictConfig) -> dict:
    """Evaluate ``ckpt_path`` into ``out_dir``: ``metrics.json``, ``summary.md``, the PNGs."""
    if ckpt_path in (None, "???"):
        raise UserError("ckpt_path is missing: python scripts/evaluate.py ckpt_path=logs/train/runs/<time>/checkpoints/last.ckpt")
    run_cfg, datamodule, model = load_model(ckpt_path, cfg.get("device", "cpu"))
    out_dir = Path(out_dir)
    trained_in = str(trainer_precision(OmegaConf.select(run_cfg, "trainer.precision", default="32-true"),
                                       OmegaConf.select(run_cfg, "trainer.accelerator", default="cpu")))
    extra = {"run_dir": str(run_dir_of(ckpt_path)), "ckpt_path": str(ckpt_path), "seed": run_cfg.get("seed"),
             "model_name": model_name_of(ckpt_path), "study_role": run_cfg.get("study_role"),
             "epochs": OmegaConf.select(run_cfg, "trainer.max_epochs"), "precision": trained_in}
    # study.cache_dir if given, else the run's own cache (where its mode classifier already is)
    cache_dir = cfg.study.get("cache_dir") or run_cfg.paths.cache_dir
    settings = StudySettings.from_config(cfg.study, n_samples=cfg.get("n_samples"), extra=extra, cache_dir=str(cache_dir))
    precision = precision_context(trained_in, model.device)
    metrics = run_study(model, datamodule, out_dir, settings, precision=precision)
    write_json(out_dir / "metrics.json", metrics)
    (out_dir / "summary.md").write_text(summary_markdown(metrics))  # written last: marks a finished evaluation
    if cfg.get("wandb", "disabled") != "disabled":
        log_to_wandb(metrics, out_dir, cfg.wandb, run_cfg)
    keys = ("train/psnr", "test/psnr", "per_mode/forgotten", "resolution/high_frequency_ratio", "sample/fid",
            "modes/modes_covered")
    log.info("%s  -> %s", "  ".join(f"{k}={metrics[k]:.3g}" for k in keys if k in metrics), out_dir)
    return metrics


def log_to_wandb(metrics: dict, out_dir: Path, mode: str, run_cfg: DictConfig) -> None:
    import wandb

    project = OmegaConf.select(run_cfg, "logger.wandb.project", default="scatgen")
    run = wandb.init(project=project, mode=mode, dir=str(out_dir), job_type="evaluate",
                     config={"run": OmegaConf.to_container(run_cfg, resolve=False), "metrics_file": "metrics.json"})
    run.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    run.log({name: wandb.Image(str(out_dir / f"{name}.png")) for name in metrics.get("figures", [])
             if (out_dir / f"{name}.png").exists()})  # the figures the study's parts wrote
    run.finish()
