"""The settings' schemas: Hydra structured configs in the ConfigStore, under ``schema/``.

The YAML of the data, encoder, whitening, model, trainer and study groups (and the synthesis scripts'
configs) lists its schema first in its defaults list (``/schema/trainer@_here_``); the callbacks, logger,
paths and hydra groups have none (their nodes are Lightning's and Hydra's own).  So composing the config
checks every key and its type where a schema is listed: ``trainer.max_epoch=3`` is not a key of
the schema, ``trainer.max_epochs=abc`` not an integer (``scatgen.cli`` formats Hydra's error in
one line).  A node that Hydra instantiates gets the schema of its target's signature (hydra-zen
``builds``: the parameters, their annotated types and their defaults, so a default the YAML does
not set is the callee's own); the YAML holds the values the project chose.  Settings that are no
constructor's (``data``, ``study``, the root of ``train.yaml``) are dataclasses written here or
beside their code (``StudySettings``)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as L
import torch
from hydra.core.config_store import ConfigStore
from hydra_zen import builds
from omegaconf import MISSING

from scatgen.encoding.whitening import PCAWhitening
from scatgen.models.components.augment import DiffAugment
from scatgen.models.components.conv_encoder import ConvEncoder
from scatgen.models.components.generator import Generator
from scatgen.models.components.schedules import BudgetedCosineLR
from scatgen.models.gan import GAN
from scatgen.models.inverse_scattering import InverseScattering
from scatgen.models.vae import VAE
from scatgen.scattering.transform import Scattering
from scatgen.studies.settings import StudySettings


# Settings that are no constructor's: keys and types only (``MISSING``), the values are the YAML's.
@dataclass
class DataSettings:
    """``data``: what every data set shares (values in ``conf/shared/data_loader.yaml`` and the data
    set's own file); ``source`` and ``module`` are instantiated."""
    source: Any = MISSING
    module: Any = MISSING
    root: str = MISSING
    image_size: int = MISSING
    n_train: Optional[int] = MISSING
    n_test: Optional[int] = MISSING
    seed: int = 0  # only the procedural and seeded splits read it (conf/data/celeba.yaml has none)
    batch_size: int = MISSING
    num_workers: int = MISSING
    shuffle_seed: int = MISSING
    val_size: Optional[int] = MISSING
    cache_dir: str = MISSING
    code_dtype: str = MISSING
    encode_batch_size: int = MISSING
    encode_device: Optional[str] = MISSING


@dataclass
class CelebASettings(DataSettings):
    """``data=celeba``: the centre crop of the aligned faces, and torchvision's download."""
    crop: int = MISSING
    download: bool = MISSING


@dataclass
class TrainSettings:
    """The root of ``conf/train.yaml``: its own keys typed, the groups checked by their schemas."""
    task_name: str = MISSING
    seed: Optional[int] = MISSING
    ckpt_path: Optional[str] = MISSING
    optimized_metric: Optional[str] = MISSING
    # the part this run plays in the study's answer (conf/experiment/study32_*.yaml set it; read by
    # scatgen.studies.report): inverse_scattering | vae | gan (the main GAN) | reference_gan | None
    study_role: Optional[str] = None
    # the whole run's wall-clock budget in seconds (make train: 10 minutes less its install); None: none
    time_budget_s: Optional[float] = None
    data: Any = None
    encoder: Any = None
    whitening: Any = None
    model: Any = None
    trainer: Any = None
    logger: Any = None
    callbacks: Any = None
    study: Any = None
    paths: Any = None


PRIMITIVES = (int, float, bool, str)


@dataclass
class SynthesisSettings:
    """What ``conf/synthesize/synthesize.yaml`` and ``synthesize_audio.yaml`` share (``scripts/synthesize*.py``)."""
    task_name: str = MISSING
    texture: str = MISSING
    model: str = MISSING
    J: int = MISSING
    n_samples: int = MISSING
    iterations: int = MISSING
    restarts: int = MISSING
    seed: int = MISSING
    device: str = MISSING
    paths: Any = None


@dataclass
class ImageSynthesisSettings(SynthesisSettings):
    size: int = MISSING
    L: int = MISSING
    backend: str = MISSING
    marginal: Optional[str] = None
    scale_links: Optional[str] = None


@dataclass
class SoundSynthesisSettings(SynthesisSettings):
    duration: float = MISSING
    sample_rate: int = MISSING
    Q: int = MISSING


def _optional_primitive(annotation) -> Any:
    """``Optional[X]`` for an annotation ``X | None`` with ``X`` a primitive, else ``None``."""
    args = typing.get_args(annotation)
    rest = [a for a in args if a is not type(None)]
    return Optional[rest[0]] if len(args) == 2 and len(rest) == 1 and rest[0] in PRIMITIVES else None


def schema_of(target, partial: bool = False, types: dict | None = None, **kwargs) -> type:
    """hydra-zen's ``builds(target)`` with every parameter, typed: hydra-zen leaves ``int | None``
    untyped (``Any``), so those become ``Optional[int]`` here; ``types`` overrides a field's type
    (``lr: float | Tensor`` is a float on the command line)."""
    schema = builds(target, populate_full_signature=True, zen_partial=partial or None, **kwargs)
    hints = typing.get_type_hints(target.__init__ if isinstance(target, type) else target)
    types = {**{name: t for name, hint in hints.items() if (t := _optional_primitive(hint))}, **(types or {})}
    spec = []
    for f in dataclasses.fields(schema):
        default = {"default": f.default} if f.default is not dataclasses.MISSING else \
            {"default_factory": f.default_factory} if f.default_factory is not dataclasses.MISSING else {}
        spec.append((f.name, types.get(f.name, f.type) if f.type is Any else f.type, dataclasses.field(**default)))
    return dataclasses.make_dataclass(schema.__name__, spec, kw_only=True)


SCHEMAS = {
    "trainer": schema_of(L.Trainer, zen_exclude=("callbacks", "logger")),
    "data": DataSettings,
    "data_celeba": CelebASettings,
    "encoder": schema_of(Scattering),
    "whitening": schema_of(PCAWhitening, zen_exclude=("code_shape",)),
    "generator": schema_of(Generator, partial=True),
    "conv_encoder": schema_of(ConvEncoder, partial=True),
    "diff_augment": schema_of(DiffAugment),
    "adam": schema_of(torch.optim.Adam, partial=True, types={"lr": float}),
    "cosine": schema_of(BudgetedCosineLR, partial=True),
    "inverse_scattering": schema_of(InverseScattering, hydra_convert="all", zen_exclude=("encoder", "whitening")),
    "vae": schema_of(VAE, hydra_convert="all"),
    "gan": schema_of(GAN, hydra_convert="all"),
    "study": StudySettings,
    "train": TrainSettings,
    "synthesize": ImageSynthesisSettings,
    "synthesize_audio": SoundSynthesisSettings,
}


def register(store: ConfigStore | None = None) -> None:
    """Every schema as ``schema/<name>`` in Hydra's ConfigStore (done once, when ``scatgen.config`` is imported)."""
    store = store or ConfigStore.instance()
    for name, node in SCHEMAS.items():
        store.store(group="schema", name=name, node=node)
