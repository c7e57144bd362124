"""What the parts of a study share: its settings, and the model, data and results computed once.

Every model is evaluated with the same counts and seeds: ``n_samples`` samples ``G(z)`` per
prior against the real *test* split (unseen by every model); the feature map is fitted on the
real training split; reconstruction scores cover the training rows the model learned from and
the test split (the first ``eval_limit`` images of each, or all; ``train_eval_limit`` caps the
training rows alone: train.py's final evaluation scores the first 2,048).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from scatgen.data.datasets import images_to_tensor
from scatgen.metrics.features import ScatteringFeatures
from scatgen.metrics.reconstruction import reconstruction_scores
from scatgen.models.components.priors import LatentPrior, make_prior
from scatgen.storage.artefacts import atomic_write_bytes
from scatgen.studies.settings import StudySettings

log = logging.getLogger(__name__)


def precision_context(precision: str, device: torch.device | str):
    """The run's precision as a context for inference: bf16 autocast, or nothing.  No cast cache
    (as Lightning): latent inversion updates a leaf ``z`` inside the region, and a cached bf16 copy
    of it would freeze ``G(z)`` (measured: GAN test PSNR 3.7 dB instead of 23.4)."""
    device_type = torch.device(device).type
    if str(precision).startswith("bf16"):
        return lambda: torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext


# The real images' feature map and features, shared by every run one process evaluates on the same
# images and feature settings (scripts/compare.py evaluates a dozen runs of one data set): keyed by
# a digest of the images themselves, so a different data set or split never hits.  One entry.
# The same entry is kept on disk (<cache_dir>/features/<digest>.pt): a later process, e.g. the first
# scripts/evaluate.py after train.py's final evaluation, or a second model on the same data, reads
# the real images' features instead of recomputing them.  FEATURES_VERSION is in the digest: bump
# it when ScatteringFeatures computes something else.
_REAL_FEATURES: dict[str, dict[str, object]] = {}
REAL_SPLITS = ("train", "test")
FEATURES_VERSION = 1


@dataclass
class StudyContext:
    """One model under study, with results that several parts use, computed on first use."""
    model: torch.nn.Module
    datamodule: object
    out_dir: Path
    settings: StudySettings
    precision: object = contextlib.nullcontext
    metrics: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    @property
    def source(self):
        return self.datamodule.source

    def cached(self, key: str, build):
        """``build()`` once per study, shared by every part that asks for ``key``."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def device(self) -> torch.device:
        return self.model.device

    def images(self, split: str) -> torch.Tensor:
        """A whole split as float images in ``[-1, 1]`` (CPU): ``train`` is the training rows."""
        key = f"images/{split}"
        if key not in self._cache:
            self._cache[key] = images_to_tensor(np.asarray(self.datamodule.dataset(split).images))
        return self._cache[key]

    def modes(self, split: str, limit: int | None = None) -> np.ndarray | None:
        """Mode index of each image of a split (``None`` for sources without modes)."""
        return self.source.modes_of(self.datamodule.dataset(split, limit).labels)

    def reconstruction(self, split: str) -> dict[str, torch.Tensor]:
        """Per-image scores and latents of the first ``eval_limit`` images of a split (test: with the
        images and reconstructions), computed once."""
        key = f"reconstruction/{split}"
        if key not in self._cache:
            limits = [self.settings.eval_limit] + ([self.settings.train_eval_limit] if split == "train" else [])
            limits = [v for v in limits if v is not None]
            inverts = self.model.reconstructs_by_inversion
            loader = self.datamodule.split_loader(split, min(limits) if limits else None,
                                                  self.settings.inversion_batch if inverts else None)
            self._cache[key] = reconstruction_scores(self.model, loader, f"reconstruct {split}", self.precision,
                                                     keep_images=split == "test")
        return self._cache[key]

    def real_features_key(self) -> str:
        """Digest of the real splits' pixels, the feature settings and the device (computed once)."""
        return self.cached("real_features_key", self._digest_real_images)

    def _digest_real_images(self) -> str:
        s = self.settings
        h = hashlib.sha256(repr((FEATURES_VERSION, s.feature_J, s.feature_L, s.feature_components,
                                 str(self.device))).encode())
        for split in REAL_SPLITS:
            h.update(np.ascontiguousarray(self.datamodule.dataset(split).images).tobytes())
        return h.hexdigest()

    def _features_file(self, key: str) -> Path | None:
        return Path(self.settings.cache_dir) / "features" / f"{key[:32]}.pt" if self.settings.cache_dir else None

    def features(self) -> ScatteringFeatures:
        """The feature map, fitted on the real training images, on the model's device (fitted once
        per process for the same images, ``_REAL_FEATURES``, and kept on disk for later ones)."""
        if "features" not in self._cache:
            key = self.real_features_key()
            shared = _REAL_FEATURES.get(key)
            if shared is None:
                s = self.settings
                train = self.images("train")
                f = ScatteringFeatures(image_size=train.shape[-1], J=s.feature_J, L=s.feature_L,
                                       n_components=s.feature_components,
                                       compile=s.compile_features(len(train))).to(self.device)
                shared = self._read_features(key, f)
                if shared is None:
                    f.fit(self.images("train"))
                    # one scattering pass over train, not two
                    shared = {"features": f, "features/train": f.reference_features}
                    self._write_features(key, shared)
                _REAL_FEATURES.clear()
                _REAL_FEATURES[key] = shared
            self._cache["real_features"] = shared
            self._cache.update(shared)
        return self._cache["features"]

    def _read_features(self, key: str, f: ScatteringFeatures) -> dict | None:
        """The real images' feature map and features from the disk cache, or ``None`` (absent,
        unreadable or for other images: recomputed)."""
        path = self._features_file(key)
        if path is None or not path.is_file():
            return None
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") != key:
                return None
            f.load_state_dict(saved["state"])
        except Exception as err:  # a damaged cache file is recomputed, not fatal
            log.warning("the feature cache %s is unreadable (%s); recomputing it", path, err)
            return None
        f.fitted, f.reference_features = True, saved["features/train"]
        log.info("real images' features read from %s", path)
        return {"features": f, **{k: v for k, v in saved.items() if k.startswith("features/")}}

    def _write_features(self, key: str, shared: dict) -> None:
        path = self._features_file(key)
        if path is None:
            return
        buffer = io.BytesIO()
        torch.save({"key": key, "state": {k: v.cpu() for k, v in shared["features"].state_dict().items()},
                    **{k: v.cpu() for k, v in shared.items() if k.startswith("features/")}}, buffer)
        try:
            atomic_write_bytes(path, buffer.getvalue())
        except OSError as err:  # the cache is an optimisation: a read-only or full disk does not stop a study
            log.warning("could not keep the real images' features in %s (%s)", path, err)

    def embed(self, name: str, images: torch.Tensor | None = None) -> torch.Tensor:
        """Features of a named image set (``train``, ``test`` or a sample set), computed once (the
        real splits once per process, and kept on disk with the feature map)."""
        key = f"features/{name}"
        features = self.features()
        if key not in self._cache:
            self._cache[key] = features.embed(self.images(name) if images is None else images, f"features {name}")
            if name in REAL_SPLITS and images is None:
                self._cache["real_features"][key] = self._cache[key]
                self._write_features(self.real_features_key(), self._cache["real_features"])
        return self._cache[key]

    def prior(self, name: str) -> LatentPrior:
        """A latent prior, fitted on the latents of the training images scored by ``reconstruction``."""
        key = f"prior/{name}"
        if key not in self._cache:
            s = self.settings
            prior = make_prior(name, s.gmm_components, s.gmm_covariance, s.empirical_noise, s.seed)
            if name != "gaussian":
                prior.fit(self.reconstruction("train")["latents"])
            self._cache[key] = prior
        return self._cache[key]

    def samples(self, prior: str = "gaussian") -> torch.Tensor:
        """``n_samples`` images ``G(z)``, ``z`` from the named prior (seed ``seed``), computed once."""
        key = f"samples/{prior}"
        if key not in self._cache:
            self._cache[key] = self.model.sample(self.settings.n_samples, self.settings.seed, self.prior(prior),
                                                 precision=self.precision)
        return self._cache[key]

    def figure(self, path: Path) -> Path:
        self.figures.append(Path(path).stem)
        return path
