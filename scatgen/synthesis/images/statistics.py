"""How typical a synthesis is, judged by statistics of the image (``(1, 1, H, W)``, values ~[0, 1]):

- ``spectrum_error``: RMS difference of the radially averaged log power spectra (natural log);
- ``marginal_w1``: Wasserstein-1 distance between the pixel histograms (sorted values);
- held out (no model fits them): ``orientation_tv``, the total-variation distance between
  gradient-orientation histograms (18 bins over [0, pi), weighted by gradient magnitude), and
  ``gradient_w1``, the Wasserstein-1 distance between gradient-magnitude distributions.
"""

from __future__ import annotations

import math

import torch
from scipy.stats import wasserstein_distance

from scatgen.metrics.reconstruction import radial_power_spectrum


def radial_log_spectrum(x: torch.Tensor, bins: int | None = None) -> torch.Tensor:
    """Natural log of the ring-averaged power spectrum ``|F x|^2 / (H W)`` (the study's
    ``radial_power_spectrum``, DC left out)."""
    h, w = x.shape[-2:]
    return (radial_power_spectrum(x, bins)[1] / (h * w)).clamp_min(1e-20).log()


def spectrum_error(x: torch.Tensor, target: torch.Tensor) -> float:
    return float((radial_log_spectrum(x) - radial_log_spectrum(target)).pow(2).mean().sqrt())


def wasserstein1(a: torch.Tensor, b: torch.Tensor) -> float:
    """W1 between two empirical distributions (scipy's ``wasserstein_distance``)."""
    return float(wasserstein_distance(a.detach().cpu().flatten().numpy(), b.detach().cpu().flatten().numpy()))


def gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic central differences: magnitude and orientation in [0, pi)."""
    gy = (x.roll(-1, -2) - x.roll(1, -2)) / 2
    gx = (x.roll(-1, -1) - x.roll(1, -1)) / 2
    return (gx.pow(2) + gy.pow(2)).sqrt().flatten(), torch.atan2(gy, gx).flatten().remainder(math.pi)


def orientation_histogram(x: torch.Tensor, bins: int = 18) -> torch.Tensor:
    magnitude, angle = gradients(x)
    index = (angle / math.pi * bins).long().clamp(max=bins - 1)
    hist = torch.zeros(bins, dtype=magnitude.dtype).index_add_(0, index, magnitude)
    return hist / hist.sum().clamp_min(1e-20)


def image_statistics(x: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    x, target = x.detach().double().cpu(), target.detach().double().cpu()
    return {
        "spectrum_error": spectrum_error(x, target),
        "marginal_w1": wasserstein1(x, target),
        "heldout/orientation_tv": float(0.5 * (orientation_histogram(x) - orientation_histogram(target)).abs().sum()),
        "heldout/gradient_w1": wasserstein1(gradients(x)[0], gradients(target)[0]),
    }
