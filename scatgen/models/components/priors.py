"""Latent priors ``p(z)`` to sample ``G(z)`` from, chosen by name (``study.samplers``).

- ``gaussian``: ``N(0, Id)``, the paper's sampler (``z = L S_J x`` is whitened, so its first two
  moments are those of ``N(0, Id)``; the VAE's and GAN's priors are ``N(0, Id)`` by training).
- ``gmm``: a Gaussian mixture fitted on training latents (scikit-learn; ``components`` and
  ``covariance`` type set in config): it keeps the clusters that discrete factors (colours,
  vertex counts) make in latent space, which a single Gaussian mixes.
- ``empirical``: a training latent drawn at random, plus Gaussian noise of standard deviation
  ``noise`` (relative to the per-coordinate spread of the latents): samples near the data.

Every prior draws from a seed, on the CPU (the same samples on every device).
"""

from __future__ import annotations

import numpy as np
import torch

from scatgen.errors import ConfigError

PRIORS = ("gaussian", "gmm", "empirical")


class LatentPrior:
    name = "prior"

    def fit(self, latents: torch.Tensor) -> "LatentPrior":
        return self

    def sample(self, n: int, dim: int, seed: int) -> torch.Tensor:
        raise NotImplementedError


class GaussianPrior(LatentPrior):
    name = "gaussian"

    def sample(self, n: int, dim: int, seed: int) -> torch.Tensor:
        return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


class GMMPrior(LatentPrior):
    name = "gmm"

    def __init__(self, components: int = 48, covariance: str = "diag", seed: int = 0):
        if covariance not in ("full", "diag", "spherical", "tied"):
            raise ConfigError(f"study.gmm_covariance={covariance!r} is unknown; use diag, full, spherical or tied")
        self.components, self.covariance, self.seed = components, covariance, seed
        self.model = None

    def fit(self, latents: torch.Tensor) -> "GMMPrior":
        from sklearn.mixture import GaussianMixture

        x = latents.detach().cpu().double().numpy()
        k = min(self.components, len(x))
        self.model = GaussianMixture(k, covariance_type=self.covariance, random_state=self.seed, reg_covar=1e-4,
                                     max_iter=200).fit(x)
        return self

    def sample(self, n: int, dim: int, seed: int) -> torch.Tensor:
        if self.model is None:
            raise RuntimeError("GMMPrior.fit(latents) must run before sampling")
        self.model.random_state = seed
        z, _ = self.model.sample(n)
        order = np.random.default_rng(seed).permutation(n)  # sklearn returns samples grouped by component
        return torch.from_numpy(z[order]).float()


class EmpiricalPrior(LatentPrior):
    name = "empirical"

    def __init__(self, noise: float = 0.1):
        self.noise = noise
        self.latents = None

    def fit(self, latents: torch.Tensor) -> "EmpiricalPrior":
        self.latents = latents.detach().cpu().float()
        self.spread = self.latents.std(0, keepdim=True).clamp_min(1e-6)
        return self

    def sample(self, n: int, dim: int, seed: int) -> torch.Tensor:
        if self.latents is None:
            raise RuntimeError("EmpiricalPrior.fit(latents) must run before sampling")
        gen = torch.Generator().manual_seed(seed)
        index = torch.randint(len(self.latents), (n,), generator=gen)
        return self.latents[index] + self.noise * self.spread * torch.randn(n, dim, generator=gen)


def make_prior(name: str, gmm_components: int = 48, gmm_covariance: str = "diag", empirical_noise: float = 0.1,
               seed: int = 0) -> LatentPrior:
    if name == "gaussian":
        return GaussianPrior()
    if name == "gmm":
        return GMMPrior(gmm_components, gmm_covariance, seed)
    if name == "empirical":
        return EmpiricalPrior(empirical_noise)
    raise ConfigError(f"sampler={name!r} is unknown; use one of {', '.join(PRIORS)}")
