"""Moment models of a stationary sound ``x`` (``(B, 1, T)``, periodic in time), the 1-D
counterparts of ``images/moments.py``.  Each returns ``{family: (B, n_family)}`` of real, free moments
(none identically zero, none a copy), time averages invariant to circular shifts; ``count``
gives their number from the formula.

With kymatio's Scattering1D filters (``J`` octaves, ``Q`` wavelets per octave at order 1, one at
order 2), computed on the signal's own grid and applied by periodic FFT convolution at full rate:
``W_l = x * psi_l`` (analytic: ``psi_l`` is real and one-sided in Fourier).

- ``gaussian``: the mean and the power spectrum ``|F(x - mean)|^2 / T`` at frequencies
  ``1 .. T/2`` (one of each pair ``{k, -k}``, zero left out): ``1 + T // 2`` moments.
- ``scattering``: ``E x``; order 1 ``E|x * psi_l1|``; order 2 ``E||x * psi_l1| * psi_l2|`` for every
  pair with ``j2 > j1`` (kymatio's rule), divided by ``E|x * psi_l1|`` (the usual normalisation
  for audio): ``1 + n1 + n_pairs`` moments.
- ``phase_harmonic``: ``E x`` and ``E |W_l|`` (``1 + n1``); covariances of the moduli of
  neighbouring bands ``Cov(|W_l|, |W_l'|)``, ``l' in {l, l+1}`` (``2 n1 - 1``); and the frequency
  connections ``Corr(W_l, [W_l']^2)`` (the covariance over both standard deviations) with
  ``[z]^2 = z^2 / |z|`` the phase-doubled band one octave below (centre ``xi_l' ~ xi_l / 2``, so
  that its doubled phase turns at ``xi_l``; other ratios ``p:q`` optional): complex,
  ``2 n_conn`` numbers.  They vanish when the phases of the two bands are independent (Gaussian
  noise) and not when a common event aligns them (clicks, harmonic sounds).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from scatgen.scattering.kymatio_compat import scattering1d_filters
from scatgen.synthesis.registry import MomentModels



class PowerSpectrum1D(nn.Module):
    amplitude_families = ("spectrum",)  # compared as amplitudes (microcanonical.MomentLoss)

    def __init__(self, length: int):
        super().__init__()
        self.length = length

    @property
    def count(self) -> int:
        return 1 + self.length // 2

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean = x.mean(dim=-1)
        spectrum = torch.fft.rfft(x - mean[..., None]).abs().square() / x.shape[-1]
        return {"mean": mean.flatten(1), "spectrum": spectrum.flatten(1)[:, 1: 1 + self.length // 2]}


class _Wavelets1D(nn.Module):
    """kymatio's 1-D filters on the signal's grid, as buffers: ``psi1 (n1, T)``, ``psi2 (n2, T)``."""

    def __init__(self, length: int, J: int, Q: int):
        super().__init__()
        self.length, self.J, self.Q = length, J, Q
        _, psi1, psi2 = scattering1d_filters(length, J, Q)
        self.j1 = [p["j"] for p in psi1]
        self.j2 = [p["j"] for p in psi2]
        self.xi1 = np.array([p["xi"] for p in psi1])
        self.register_buffer("psi1", torch.from_numpy(np.stack([p["levels"][0] for p in psi1])).float(), persistent=False)
        self.register_buffer("psi2", torch.from_numpy(np.stack([p["levels"][0] for p in psi2])).float(), persistent=False)

    def bands(self, x: torch.Tensor) -> torch.Tensor:
        """``W_l = x * psi_l``: ``(B, 1, T)`` -> ``(B, n1, T)`` complex."""
        return torch.fft.ifft(torch.fft.fft(x) * self.psi1.to(x.dtype))


class Scattering1DMoments(_Wavelets1D):
    def __init__(self, length: int, J: int = 10, Q: int = 8):
        super().__init__(length, J, Q)
        pairs = [(a, b) for a, ja in enumerate(self.j1) for b, jb in enumerate(self.j2) if jb > ja]
        self.register_buffer("pair1", torch.tensor([a for a, _ in pairs]), persistent=False)
        self.register_buffer("pair2", torch.tensor([b for _, b in pairs]), persistent=False)

    @property
    def count(self) -> int:
        return 1 + len(self.j1) + len(self.pair1)

    def modulus(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``U1 = |x * psi_l1|`` ``(B, n1, T)`` and ``U2 = |U1 * psi_l2|`` ``(B, n_pairs, T)`` at full rate."""
        u1 = self.bands(x).abs()
        u1_hat = torch.fft.fft(u1)
        u2 = torch.fft.ifft(u1_hat[:, self.pair1] * self.psi2.to(x.dtype)[self.pair2]).abs()
        return u1, u2

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        u1, u2 = self.modulus(x)
        order1 = u1.mean(-1)
        order2 = u2.mean(-1) / order1[:, self.pair1].clamp_min(1e-12)
        return {"mean": x.mean(dim=-1).flatten(1), "order1": order1, "order2": order2}


def _cov(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Time covariance ``E[(a - E a) conj(b - E b)]`` over the last dim."""
    a = a - a.mean(dim=-1, keepdim=True)
    b = b - b.mean(dim=-1, keepdim=True)
    return (a * b.conj()).mean(dim=-1)


def phase_harmonic(z: torch.Tensor, k: int) -> torch.Tensor:
    """``[z]^k = |z| e^(i k arg z)``: the phase multiplied by ``k``, the modulus kept."""
    if k == 1:
        return z
    m = z.abs().clamp_min(1e-12).to(z.dtype)
    return z * (z / m) ** (k - 1)


class PhaseHarmonic1DMoments(_Wavelets1D):
    """``ratios``: the frequency connections ``p:q`` (``p > q``): band ``l`` is linked to the band
    ``l'`` nearest ``xi_l q / p`` (within ``tolerance``), by ``Cov([W_l]^q, [W_l']^p)``: both phases
    turn at ``q xi_l = p xi_l'``, so the covariance is not zero when partials at that ratio keep their
    relative phase (a harmonic sound) or when one event aligns every band (a click).  A pair that
    two ratios would both link is kept once (the first ratio).

    ``correlations``: each connection divided by the two bands' standard deviations (a correlation
    coefficient, the band energies being fitted by the other families), with the loss floor at 1.0
    of the family's RMS.  Raw covariances scale with the partials' amplitudes, so the weak links
    of the high partials were left unfitted.  Measured on harmonic_am (3 s, 16 kHz, 100 L-BFGS
    iterations, seed 0, AMD EPYC), the share of the example's mean connection correlation reached:
    covariances 0.39 (floor 0.1), 0.43 (floor 1.0); the ratios 2:1, 3:2, 4:3 and 3:1 (266 links,
    6x slower) 0.30; correlations 0.62 (floor 0.1), **0.92** (floor 1.0, the default)."""

    loss_floor = 1.0

    def __init__(self, length: int, J: int = 10, Q: int = 8, tolerance: float = 0.2,
                 ratios: tuple[tuple[int, int], ...] = ((2, 1),), correlations: bool = True):
        super().__init__(length, J, Q)
        self.correlations = correlations
        links, seen = [], set()
        for p, q in ratios:
            for l, xi in enumerate(self.xi1):  # the band at xi q / p, if the bank has one near it
                k = int(np.argmin(np.abs(self.xi1 - xi * q / p)))
                if k != l and abs(self.xi1[k] - xi * q / p) <= tolerance * xi * q / p and (l, k) not in seen:
                    seen.add((l, k))
                    links.append((l, k, p, q))
        self.ratios = tuple(ratios)
        self.links = links
        self.register_buffer("link_fine", torch.tensor([a for a, *_ in links], dtype=torch.long), persistent=False)
        self.register_buffer("link_coarse", torch.tensor([b for _, b, *_ in links], dtype=torch.long), persistent=False)

    @property
    def count(self) -> int:
        n1 = len(self.j1)
        return (1 + n1) + (2 * n1 - 1) + 2 * len(self.links)

    def _linked(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(W, [W_fine]^q, [W_coarse]^p)`` for the linked bands, grouped by ratio."""
        w = self.bands(x)
        fine, coarse = [], []
        for p, q in self.ratios:
            index = [i for i, link in enumerate(self.links) if link[2:] == (p, q)]
            if index:
                fine.append(phase_harmonic(w[:, self.link_fine[index]], q))
                coarse.append(phase_harmonic(w[:, self.link_coarse[index]], p))
        return w, torch.cat(fine, dim=1), torch.cat(coarse, dim=1)

    def connection_correlations(self, x: torch.Tensor) -> torch.Tensor:
        """``|Cov([W_l]^q, [W_l']^p)| / (std [W_l]^q std [W_l']^p)`` per link, in [0, 1]: near 1 when
        the phases of the two bands keep their relation, near 0 when they are independent."""
        _, fine, coarse = self._linked(x)
        return _cov(fine, coarse).abs() / (_cov(fine, fine).real * _cov(coarse, coarse).real).sqrt().clamp_min(1e-30)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        w, fine, coarse = self._linked(x)
        m = w.abs()
        out = {"means": torch.cat([x.mean(dim=-1).flatten(1), m.mean(dim=-1)], dim=1)}
        out["modulus_cov"] = torch.cat([_cov(m, m), _cov(m[:, :-1], m[:, 1:])], dim=1)
        conn = _cov(fine, coarse)
        if self.correlations:  # each connection over its two bands' standard deviations: all O(1)
            conn = conn / (_cov(fine, fine).real * _cov(coarse, coarse).real).sqrt().clamp_min(1e-30)
        out["connections"] = torch.cat([conn.real, conn.imag], dim=1)
        return out


SOUND_MODELS = MomentModels("sounds")
SOUND_MODELS.register("gaussian", "gaussian", lambda length, J, Q: PowerSpectrum1D(length))
SOUND_MODELS.register("scattering", "scattering", lambda length, J, Q: Scattering1DMoments(length, J, Q))
SOUND_MODELS.register("phase_harmonic", "phase harmonic", lambda length, J, Q: PhaseHarmonic1DMoments(length, J, Q))
MODELS_1D = SOUND_MODELS.names()


def moment_model_1d(name: str, length: int, J: int = 10, Q: int = 8) -> nn.Module:
    """The registered sound model ``name`` for signals of ``length`` samples (``SOUND_MODELS``)."""
    return SOUND_MODELS.build(name, length, J, Q)
