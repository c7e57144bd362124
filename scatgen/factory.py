"""The objects a run is made of, from the composed config: the data module (``data.module``, which
the YAML gives only what its constructor takes; the data-level settings such as ``data.image_size``
feed it by interpolation), the model with its encoder ``S_J`` and whitening ``L``, and the code
cache of the encoding stage, and the trainer.  ``train.py`` (``scatgen.pipeline``) and ``evaluate.py`` both build
through here."""

from __future__ import annotations

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from scatgen.config import model_uses_codes
from scatgen.devices import resolve_device, trainer_precision
from scatgen.encoding.code_cache import CodeCache


def build(cfg: DictConfig):
    """``(datamodule, model)`` from the config; a model that trains on codes gets the encoder
    ``S_J`` and an (unfitted) whitening ``L``."""
    datamodule = instantiate(cfg.data.module)
    if model_uses_codes(cfg):
        encoder = instantiate(cfg.encoder)
        whitening = instantiate(cfg.whitening, code_shape=encoder.code_shape)
        model = instantiate(cfg.model, encoder=encoder, whitening=whitening)
    else:
        model = instantiate(cfg.model)
    return datamodule, model


def build_trainer(cfg: DictConfig, **kwargs):
    """The Lightning trainer of ``cfg.trainer``; ``precision: auto`` is measured here, once per
    machine (``trainer_precision``), not while the config resolves."""
    precision = trainer_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    return instantiate(cfg.trainer, precision=precision, **kwargs)


def encode_device(cfg: DictConfig) -> torch.device:
    """Where the code cache is encoded: ``data.encode_device``, or the trainer's accelerator."""
    return resolve_device(cfg.data.get("encode_device"), OmegaConf.select(cfg, "trainer.accelerator"))


def code_cache(cfg: DictConfig, datamodule, model) -> CodeCache:
    return CodeCache(cfg.data.cache_dir, datamodule.source, model.encoder, model.whitening.config(),
                     cfg.data.code_dtype, cfg.data.encode_batch_size, encode_device(cfg))
