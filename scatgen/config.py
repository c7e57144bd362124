"""Early validation of a composed config: impossible combinations fail before any work, in one line."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from scatgen.devices import cpu_precision
from scatgen.scattering.transform import check_scattering_config
from scatgen.scattering.shapes import scattering_out_shape
from scatgen.encoding.whitening import check_whitening_config, default_components
from scatgen.errors import ConfigError
from scatgen.models.base import GenerativeModel
from scatgen.schemas import register as register_schemas

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def project_root() -> str:
    """``${project_root:}``: ``$SCATGEN_ROOT`` if set, else the checkout that holds ``conf/`` (an
    editable install), else the working directory."""
    return os.environ.get("SCATGEN_ROOT") or (str(CONF_DIR.parent) if CONF_DIR.is_dir() else os.getcwd())


OmegaConf.register_new_resolver("project_root", project_root, replace=True)
register_schemas()


# ${cpu_precision:}: the trainer's precision in run configs saved before `precision: auto`
# (conf/trainer/cpu.yaml), so that evaluate.py still reads them; new configs do not use it
OmegaConf.register_new_resolver("cpu_precision", cpu_precision, replace=True)


def model_uses_codes(cfg: DictConfig) -> bool:
    """Whether the model trains on cached scattering codes (its class says so)."""
    model_class = get_class(cfg.model._target_)
    return issubclass(model_class, GenerativeModel) and model_class.uses_codes


def check_ranges(cfg: DictConfig) -> None:
    """Values of the right type that still cannot run: one line each, before any work."""
    seed = OmegaConf.select(cfg, "seed", default=None)
    if isinstance(seed, int) and not 0 <= seed < 2**32:
        raise ConfigError(f"seed={seed} is out of range: seeds are integers from 0 to 2**32 - 1 (e.g. seed=0)")
    budget = OmegaConf.select(cfg, "time_budget_s", default=None)
    if isinstance(budget, (int, float)) and not budget > 0:
        raise ConfigError(f"time_budget_s={budget} leaves no time; give seconds > 0 (e.g. time_budget_s=600), or null for none")
    epochs = OmegaConf.select(cfg, "trainer.max_epochs", default=None)
    steps = OmegaConf.select(cfg, "trainer.max_steps", default=-1)
    if isinstance(epochs, int) and (epochs == 0 or epochs < -1):
        raise ConfigError(f"trainer.max_epochs={epochs} trains nothing; give trainer.max_epochs>=1 "
                          "(or -1 with trainer.max_steps=N to stop by steps)")
    if isinstance(steps, int) and (steps == 0 or steps < -1):
        raise ConfigError(f"trainer.max_steps={steps} trains nothing; give trainer.max_steps>=1, or -1 for no step limit")
    if epochs == -1 and steps == -1:
        raise ConfigError("trainer.max_epochs=-1 with trainer.max_steps=-1 never stops; give one of them a limit")


SMALLEST_TRAIN = 10  # with data.val_size=null: one validation image (a tenth) and 9 to train and whiten on


def check_data_size(data: DictConfig) -> None:
    """A training split too small to validate on (the default ``val_size`` holds out a tenth) or to fit
    anything is one line naming the smallest that works, before any work."""
    n_train, val_size = data.get("n_train"), data.get("val_size")
    if not isinstance(n_train, int) or n_train < 1:
        return
    if val_size is None and n_train // 10 < 1:
        raise ConfigError(f"data.n_train={n_train} leaves no validation image (data.val_size=null holds out a tenth of "
                          f"the training split); use data.n_train>={SMALLEST_TRAIN}, the smallest that works with the defaults")
    if val_size is not None and n_train - val_size < 2:
        raise ConfigError(f"data.n_train={n_train} with data.val_size={val_size} leaves {max(n_train - val_size, 0)} "
                          f"image(s) to train on; give data.n_train>={val_size + 2} (or data.n_train>={SMALLEST_TRAIN} "
                          "with data.val_size=null)")


def validate(cfg: DictConfig) -> None:
    """Check the combinations that would otherwise fail minutes into a run."""
    check_ranges(cfg)
    data = cfg.data
    size = data.image_size
    check_data_size(data)
    try:
        if cfg.get("encoder") and model_uses_codes(cfg):
            check_scattering_config(cfg.encoder.J, size, cfg.encoder.L, cfg.encoder.max_order)
            k, h, w = scattering_out_shape(cfg.encoder.J, (size, size), cfg.encoder.L, cfg.encoder.max_order)
            shape = (cfg.encoder.channels * k, h, w)
            n_components = cfg.whitening.n_components
            if n_components is None:
                n_components = default_components(cfg.whitening.mode, shape, data.n_train,
                                                  cfg.whitening.get("max_components", 512))
            check_whitening_config(n_components, cfg.whitening.mode, shape, data.n_train)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    for key in ("n_train", "n_test"):
        if data.get(key) is not None and data[key] < 1:
            raise ConfigError(f"data.{key}={data[key]} must be >= 1")
    if cfg.data.batch_size < 1:
        raise ConfigError(f"data.batch_size={cfg.data.batch_size} must be >= 1")
    val_size = data.get("val_size")
    if val_size is not None and (val_size < 0 or (data.get("n_train") is not None and val_size >= data.n_train)):
        raise ConfigError(f"data.val_size={val_size} leaves no training images of data.n_train={data.get('n_train')}; "
                          f"use data.val_size<={max((data.get('n_train') or 8) // 8, 1)}")
