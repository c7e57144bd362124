"""The study's settings: the one source of every study setting, its type, its default and its
meaning.  Registered as the schema of the ``study`` config group (``scatgen/schemas.py``), so a
mistyped or wrongly typed ``study.*`` setting fails when the config composes;
``conf/study/default.yaml`` adds only what needs the config tree (``cache_dir``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf


COMPILE_FEATURES_FROM = 4096  # training images from which `feature_compile=None` compiles the feature map


@dataclass
class StudySettings:
    """The knobs of the study (``scripts/evaluate.py``, ``scripts/compare.py``, train.py's final
    evaluation): the same counts and seeds for every model."""
    # the parts of `scripts/evaluate.py`, in order (train.py runs reconstruction, samples, interpolation)
    parts: List[str] = field(default_factory=lambda: [
        "reconstruction", "per_mode", "inversion_control", "resolution", "interpolation", "samples", "distribution",
        "modes", "samplers", "memorisation"])
    n_samples: int = 2048                 # samples G(z) per prior, scored against the real test split
    n_pairs: int = 8                      # interpolation pairs of test images
    steps: int = 10                       # frames per interpolation path
    seed: int = 0
    eval_limit: Optional[int] = None      # reconstruction images per split (None: all; the GAN's default is 256)
    train_eval_limit: Optional[int] = None  # caps the training images alone (None: as eval_limit)
    # images inverted at once by latent inversion (the GAN's reconstructions, the inversion control): each image's
    # latent is optimised on its own, so only speed changes (AMD EPYC, 32x32: 164 ms an image at 128, 236 at 32)
    inversion_batch: int = 128
    # features: the scattering transform, spatially averaged, standardised, projected on its first
    # principal components (fitted on the real train split)
    feature_J: int = 3
    feature_L: int = 8
    feature_components: Optional[int] = 64  # None: no projection (C K features)
    # torch.compile the feature map's scattering: None compiles when the training split has at least
    # COMPILE_FEATURES_FROM images, where the one-off compilation (32-41 s measured at 64x64, then cached on disk by PyTorch)
    # pays for itself (1.75x faster at 64x64: docs/performance.md, "Evaluation cost")
    feature_compile: Optional[bool] = None
    precision_recall_k: int = 3
    density_coverage_k: int = 5
    kid_subset_size: int = 1000
    classifier_steps: int = 2000          # mode classifier (polygons): training steps of 64 fresh images, where none is shipped
    shipped_classifier: bool = True       # the classifier shipped for this rendering (32x32, 64x64 polygons); False: train one
    min_classifier_accuracy: float = 0.95
    mode_min_count: int = 10              # k: a mode is covered when at least k confident samples land in it
    mode_samples: int = 10000             # samples from N(0, Id) scored by the `modes` part (the literature uses >= 10,000)
    mode_confidence: float = 0.9          # "good" samples: classifier confidence at least this
    forgotten_db: float = 3.0             # a mode is forgotten when its test PSNR is this far below the model's median mode
    samplers: List[str] = field(default_factory=lambda: ["gaussian", "gmm", "empirical"])  # priors of the `samplers` part
    gmm_components: int = 48              # gmm: a Gaussian mixture fitted on the training latents (scikit-learn)
    gmm_covariance: str = "diag"          # diag | full | spherical | tied
    empirical_noise: float = 0.1          # empirical: a training latent + this much noise (relative to each coordinate's spread)
    cache_dir: Optional[str] = "data/cache"  # the mode classifier is cached here (the config: ${paths.cache_dir})
    extra: Dict[str, Any] = field(default_factory=dict)  # recorded beside the metrics (evaluate.py: the run's settings)

    def compile_features(self, n_train: int) -> bool:
        """Whether the feature map of a training split of ``n_train`` images is compiled."""
        return self.feature_compile if self.feature_compile is not None else n_train >= COMPILE_FEATURES_FROM

    @classmethod
    def from_config(cls, node: DictConfig | dict | None, **overrides) -> "StudySettings":
        """Settings from the composed ``study`` node (or a plain dict), with ``overrides`` that are not ``None``."""
        values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            from scatgen.errors import ConfigError

            raise ConfigError(f"study.{unknown[0]} is not a study setting; known: {', '.join(sorted(known))}")
        for key in ("parts", "samplers"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)
