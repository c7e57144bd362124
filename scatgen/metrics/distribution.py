"""Distances between a set of real and a set of generated images, in a feature space.

- FID (Heusel et al. 2017): ``||mu_r - mu_g||^2 + Tr(C_r + C_g - 2 (C_r C_g)^(1/2))``, and KID
  (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel, mean and std over
  subsets drawn with a seeded generator (the same inputs give the same value).  Both from
  torchmetrics; the feature map is passed in as a module.
- Improved precision/recall (Kynkaenniemi et al. 2019, k=3): the fraction of generated points
  inside the union of the real k-NN balls, and of real points inside the generated balls.
- Density/coverage (Naeem et al. 2020, k=5): density = (1/kM) sum_j sum_i 1[y_j in B(x_i, r_k(x_i))],
  coverage = (1/N) sum_i 1[some y_j in B(x_i, r_k(x_i))].  A ball's radius is the distance to
  the k-th nearest *other* point of its own set.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class Precomputed(nn.Module):
    """The torchmetrics feature hook for features computed once (``ScatteringFeatures.embed``)
    and shared by every metric: the identity on ``(B, num_features)``."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid_kid(real: torch.Tensor, fake: torch.Tensor, kid_subset_size: int = 1000, kid_subsets: int = 50,
            batch: int = 1024, seed: int = 0) -> dict[str, float]:
    """FID and KID between feature sets ``(N, d)`` and ``(M, d)`` (KID's subsets from ``seed``)."""
    d = real.shape[1]
    size = min(kid_subset_size, len(real), len(fake))
    fid = FrechetInceptionDistance(feature=Precomputed(d), reset_real_features=True)
    kid = KernelInceptionDistance(feature=Precomputed(d), subsets=kid_subsets, subset_size=size)
    for metric in (fid, kid):
        for i in range(0, len(real), batch):
            metric.update(real[i:i + batch].double(), real=True)
        for i in range(0, len(fake), batch):
            metric.update(fake[i:i + batch].double(), real=False)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws KID's subsets from the global RNG
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    """Distance from each point of ``x`` to its ``k``-th nearest other point of ``x``."""
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points for k-NN radii, got {len(x)}")
    radii = [torch.cdist(x[i:i + chunk], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), chunk)]
    return torch.cat(radii)


def _inside_balls(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """``(len(points), len(centres))`` boolean: point j inside ball i (``d <= r_i``)."""
    return torch.cat([torch.cdist(points[i:i + chunk], centres) <= radii[None] for i in range(0, len(points), chunk)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    real, fake = real.double(), fake.double()
    precision = _inside_balls(fake, real, kth_neighbour_radius(real, k)).any(1).double().mean()
    recall = _inside_balls(real, fake, kth_neighbour_radius(fake, k)).any(1).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    real, fake = real.double(), fake.double()
    inside = _inside_balls(fake, real, kth_neighbour_radius(real, k))  # (M fake, N real)
    density = inside.sum().double() / (k * len(fake))
    coverage = inside.any(0).double().mean()
    return {"density": float(density), "coverage": float(coverage)}
