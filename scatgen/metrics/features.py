"""A feature space that needs no download: the project's own fixed scattering transform.

``phi(x) = P (s(x) - mu) / sigma`` where ``s(x)`` is the spatial mean of the order-0/1/2
scattering coefficients of each colour channel (``C K`` numbers), ``mu, sigma`` standardise each
coefficient over a reference set (real training images) and ``P`` projects on its first
``n_components`` principal directions (``None``: no projection).  FID/KID, precision/recall,
density/coverage and the feature-space nearest neighbours all use this one map, fitted once per
evaluation on the same reference images, so that the numbers of different models compare.
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from scatgen.scattering.transform import Scattering


class ScatteringFeatures(nn.Module):
    """Images ``(B, C, H, W)`` in ``[-1, 1]`` -> features ``(B, num_features)``; call ``fit`` first."""

    def __init__(self, image_size: int = 64, J: int = 3, L: int = 8, n_components: int | None = 64, channels: int = 3,
                 batch_size: int = 128, compile: bool = False):
        super().__init__()
        # compile: torch.compile the scattering (the same numbers to float32 rounding; worth its one-off compilation
        # only for thousands of images: docs/performance.md, "Evaluation cost")
        self.scattering = Scattering(J=J, L=L, image_size=image_size, channels=channels, backend="fast",
                                     compile=compile)
        raw_dim = self.scattering.code_shape[0]
        self.n_components = min(n_components, raw_dim) if n_components else None
        self.num_features = self.n_components or raw_dim
        self.batch_size = batch_size
        self.register_buffer("mean", torch.zeros(raw_dim))
        self.register_buffer("scale", torch.ones(raw_dim))
        self.register_buffer("projection", torch.eye(raw_dim)[:, : self.num_features])
        self.fitted = False

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @torch.no_grad()
    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Spatially averaged scattering coefficients ``(B, C K)``, on the module's device."""
        return self.scattering(x.to(self.device).float()).mean(dim=(-2, -1)).double()

    @torch.no_grad()
    def fit(self, reference: torch.Tensor) -> "ScatteringFeatures":
        """Standardisation and PCA from reference images (the real training set)."""
        s = self._batched(self.raw, reference, "fit features")
        self.mean.copy_(s.mean(0).float())
        self.scale.copy_(s.std(0).clamp_min(1e-12).float())
        if self.n_components:
            centred = (s - s.mean(0)) / s.std(0).clamp_min(1e-12)
            _, _, v = torch.linalg.svd(centred, full_matrices=False)
            self.projection.copy_(v[: self.n_components].T.float())
        self.fitted = True
        # the reference images' own features, from the same pass (evaluation embeds them anyway)
        self.reference_features = ((s.float() - self.mean.cpu()) / self.scale.cpu()) @ self.projection.cpu()
        return self

    def _batched(self, fn, images: torch.Tensor, desc: str | None) -> torch.Tensor:
        """``fn`` over batches (8x larger on CUDA), results gathered on the CPU."""
        size = self.batch_size * (8 if self.device.type == "cuda" else 1)
        chunks = range(0, len(images), size)
        if desc:
            chunks = tqdm(chunks, desc=desc, unit="batch", leave=False)
        return torch.cat([fn(images[i:i + size]).cpu() for i in chunks])

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise RuntimeError("ScatteringFeatures.fit(reference_images) must run before features are computed")
        return ((self.raw(x).float() - self.mean) / self.scale) @ self.projection

    def embed(self, images: torch.Tensor, desc: str | None = None) -> torch.Tensor:
        """Features of many images, in batches (with a progress bar when ``desc`` is given)."""
        return self._batched(self, images, desc)
