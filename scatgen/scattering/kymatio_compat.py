"""The one place that touches kymatio (0.3.0): its public frontend and the internals we reuse.

Our fast backend computes kymatio's maths with kymatio's own Morlet filters on kymatio's padded
grid, so it needs three internals (the filter bank, the padded size, the reflection padding).
They live here, so that a kymatio upgrade is checked in one file.
"""

from __future__ import annotations

import numpy as np
import torch
from kymatio.scattering2d.backend.torch_backend import Pad as _KymatioPad
from kymatio.scattering2d.filter_bank import filter_bank as _filter_bank
from kymatio.scattering2d.utils import compute_padding as _compute_padding


def padded_shape(M: int, N: int, J: int) -> tuple[int, int]:
    """kymatio's padded grid: ``((M + 2^J) // 2^J + 1) 2^J`` (and the same for ``N``)."""
    return tuple(_compute_padding(M, N, J))


def morlet_filter_bank(M: int, N: int, J: int, L: int) -> dict:
    """kymatio's filters in Fourier on an ``M x N`` grid: ``{"psi": [{"j", "theta", "levels"}], "phi": {...}}``."""
    return _filter_bank(M, N, J, L)


def reflection_pad(shape: tuple[int, int], padded: tuple[int, int]):
    """kymatio's reflection padding of ``(B, M, N)`` to ``(B, Mp, Np, 1)`` (centred, odd pixel after)."""
    (M, N), (Mp, Np) = shape, padded
    return _KymatioPad([(Mp - M) // 2, (Mp - M + 1) // 2, (Np - N) // 2, (Np - N + 1) // 2], [M, N])


def kymatio_scattering2d(J: int, shape: tuple[int, int], L: int = 8, max_order: int = 2) -> torch.nn.Module:
    """The reference: ``kymatio.torch.Scattering2D``."""
    from kymatio.torch import Scattering2D

    return Scattering2D(J, tuple(shape), L=L, max_order=max_order)


def morlet_bank_full_resolution(shape: tuple[int, int], J: int, L: int) -> np.ndarray:
    """kymatio's wavelets at full resolution in Fourier: ``(J L, H, W)``, index ``j L + theta``."""
    bank = _filter_bank(shape[0], shape[1], J, L)
    psi = sorted(bank["psi"], key=lambda p: (p["j"], p["theta"]))
    return np.stack([p["levels"][0] for p in psi])



def scattering1d_filters(N: int, J: int, Q: int, T: int | None = None) -> tuple[dict, list[dict], list[dict]]:
    """kymatio's 1-D filters in Fourier on an ``N``-sample grid, full resolution only:
    ``(phi, psi1, psi2)``, each filter a dict with ``levels[0]`` (real, ``(N,)``), ``xi``, ``sigma``
    and ``j``; ``Q`` filters per octave at order 1, one at order 2 (kymatio's defaults)."""
    from kymatio.scattering1d.filter_bank import scattering_filter_factory

    return scattering_filter_factory(N, J, (Q, 1), T or 2**J, max_subsampling=0)


def kymatio_scattering1d(J: int, N: int, Q: int = 8, T: int | None = None, max_order: int = 2, oversampling: int = 0,
                         out_type: str = "array") -> torch.nn.Module:
    """The reference: ``kymatio.torch.Scattering1D`` (``T=0``: no averaging)."""
    from kymatio.torch import Scattering1D

    return Scattering1D(J, N, Q=Q, T=T, max_order=max_order, oversampling=oversampling, out_type=out_type)


__all__ = ["padded_shape", "morlet_filter_bank", "reflection_pad", "kymatio_scattering2d", "morlet_bank_full_resolution",
           "scattering1d_filters", "kymatio_scattering1d"]
