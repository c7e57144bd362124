"""Moment models Phi of a stationary grey image ``x`` (``(B, 1, H, W)``, periodic boundary).

Each model returns a dict ``{family: (B, n_family)}`` of real moments, and ``count`` gives the
number of moments from its formula.  Only free moments are kept: none is identically zero or a
copy of another.  All three are invariant to circular shifts of ``x`` (the scattering model: to
shifts by multiples of ``2^J``, its subsampling grid).

- ``gaussian``: the mean and the power spectrum ``|F(x - mean)|^2 / (H W)`` at one frequency of
  each pair ``{k, -k}`` (the spectrum of a real image is symmetric), the zero frequency left out
  (it is 0 after removing the mean): ``2 + H W / 2`` moments for even ``H, W`` (the
  autocorrelation, equivalently).
- ``scattering``: spatial averages of the scattering coefficients of orders 0, 1 and 2:
  ``1 + J L + L^2 J (J - 1) / 2`` moments (``fast``: our periodic backend; ``kymatio``: the
  reference, with its reflection padding), and the marginal family.
- ``phase_harmonic``: with ``W_l = x * psi_l`` (``l = (j, theta)``, kymatio's Morlet wavelets,
  periodic) and the phase harmonic ``[z]^k = |z| e^(i k arg z)``:
  means ``E x`` and ``E |W_l|`` (``1 + J L``);
  modulus covariances ``Cov(|W_l|, |W_l'|)`` for ``|j - j'| <= 1`` (``J L (L+1)/2 + (J-1) L^2``);
  same-scale covariances ``Cov(W_(j,t), W_(j,t'))``, ``t <= t'``: real, since kymatio's wavelets
  are real in Fourier and ``Cov = (1/N) sum_k |x^(k)|^2 psi^_t(k) psi^_t'(k)`` (``J L (L+1)/2``);
  scale connections ``Cov(W_(j,t), [W_(j',t')]^(2^(j'-j)))``: the coarser coefficient's phase
  multiplied by the ratio of the two frequencies so that it meets the finer one; neighbouring
  scales (``j' = j + 1``) for every orientation pair (complex: ``2 (J-1) L^2``), and with
  ``scale_links="all"`` every farther pair too, at the same orientation, as pywph's ``Cphase``
  (complex: ``(J-1)(J-2) L``; an option: at convergence it did not help, docs/research-log.md);
  spatial correlations ``Cov(|W_l|(u), |W_l|(u + 2^j tau))`` and ``Cov(W_l(u), W_l(u + 2^j tau))``
  for 4 directions ``tau`` (``3 * 4 J L``);
  and the marginal family.
- the marginal family (``marginal``), moments of the pixel histogram of ``x - E x`` that the
  wavelet moments do not fix: ``"bin_means"`` (the default), the sorted pixels averaged over 8
  equal bins, whose mean gap is the histogram's W1 distance up to the quadrature, every pixel with a
  gradient: 8; ``"moments"``: standard deviation, skewness, kurtosis: 3; ``"ps_moments"``,
  Portilla-Simoncelli's (those and the minimum and maximum): 5; ``"quantiles"``: the 9 quantiles at
  levels 0, 1/8, ..., 1: 9; ``"none"``: 0.  The minimum, maximum and quantiles take their gradient
  from one or two pixels and stall L-BFGS (docs/research-log.md).
"""

from __future__ import annotations

import torch
from torch import nn

from scatgen.scattering.kymatio_compat import morlet_bank_full_resolution
from scatgen.scattering.transform import scattering_transform
from scatgen.scattering.shapes import scattering_channels
from scatgen.synthesis.registry import MomentModels

SHIFTS = ((1, 0), (0, 1), (1, 1), (1, -1))
MARGINALS = {"none": 0, "bin_means": 8, "moments": 3, "ps_moments": 5, "quantiles": 9}   # the family's moment count
MARGINAL_WORDS = {"none": "none", "bin_means": "the means of 8 equal bins of the sorted pixels",
                  "moments": "standard deviation, skewness, kurtosis",
                  "ps_moments": "standard deviation, minimum, maximum, skewness, kurtosis",
                  "quantiles": "9 quantiles"}
DEFAULT_MARGINAL = "bin_means"   # chosen by research/synthesis_families.py (docs/research-log.md)
# neighbouring scales only: at convergence (128 px, five textures, 1,000 evaluations) every pair of scales
# (pywph's Cphase, 609 moments at J=5, L=4) gave a mean orientation TV of 0.0699 against 0.0645 with
# neighbours (561 moments), and gradient W1 0.00334 against 0.00306 (docs/research-log.md)
DEFAULT_SCALE_LINKS = "neighbours"
SCALE_LINKS = ("neighbours", "all")


def marginal_moments(x: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
    """The marginal family of ``(B, 1, H, W)`` (see the module's docstring)."""
    if kind == "none":
        return {}
    centred = x.flatten(1) - x.flatten(1).mean(dim=1, keepdim=True)
    variance = centred.pow(2).mean(dim=1)
    shape = torch.stack([centred.pow(3).mean(dim=1) / variance.pow(1.5), centred.pow(4).mean(dim=1) / variance.pow(2)],
                        dim=1)
    if kind == "moments":
        return {"marginal": variance.sqrt()[:, None], "marginal_shape": shape}
    if kind == "ps_moments":
        spread = torch.stack([variance.sqrt(), centred.min(dim=1).values, centred.max(dim=1).values], dim=1)
        return {"marginal": spread, "marginal_shape": shape}
    if kind == "bin_means":
        ordered = centred.sort(dim=1).values
        bins = torch.tensor_split(ordered, MARGINALS["bin_means"], dim=1)
        return {"marginal": torch.stack([b.mean(dim=1) for b in bins], dim=1)}
    if kind == "quantiles":
        levels = torch.linspace(0, 1, MARGINALS["quantiles"], dtype=x.dtype, device=x.device)
        return {"marginal": torch.quantile(centred, levels, dim=1).T}
    raise ValueError(f"marginal={kind!r} is unknown; use one of {', '.join(MARGINALS)}")


def check_option(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is unknown; use one of {', '.join(allowed)}")


def free_frequencies(h: int, w: int) -> torch.Tensor:
    """Flat indices into the ``(h, w // 2 + 1)`` grid of ``rfft2`` of one frequency of each pair
    ``{k, -k}``, zero left out.  Columns ``0 < k2 < w/2`` hold each pair once; the columns
    ``k2 = 0`` (and ``k2 = w/2`` for even ``w``) hold ``k1`` and ``-k1``: keep ``0 <= k1 <= h/2``."""
    half = w // 2 + 1
    k1, k2 = torch.meshgrid(torch.arange(h), torch.arange(half), indexing="ij")
    self_paired = (k2 == 0) | ((w % 2 == 0) & (k2 == w // 2))
    keep = ~self_paired | (k1 <= h // 2)
    keep &= (k1 != 0) | (k2 != 0)
    return keep.flatten().nonzero().flatten()


class PowerSpectrum(nn.Module):
    amplitude_families = ("spectrum",)  # compared as amplitudes (microcanonical.MomentLoss)

    def __init__(self, shape: tuple[int, int]):
        super().__init__()
        self.shape = tuple(shape)
        self.register_buffer("free", free_frequencies(*self.shape), persistent=False)

    @property
    def count(self) -> int:
        return 1 + len(self.free)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean = x.mean(dim=(-2, -1))
        spectrum = torch.fft.rfft2(x - mean[..., None, None]).abs().pow(2) / (x.shape[-2] * x.shape[-1])
        return {"mean": mean.flatten(1), "spectrum": spectrum.flatten(1)[:, self.free]}


class ScatteringMoments(nn.Module):
    def __init__(self, shape: tuple[int, int], J: int = 4, L: int = 8, backend: str = "fast", marginal: str = DEFAULT_MARGINAL):
        super().__init__()
        check_option("marginal", marginal, MARGINALS)
        self.shape, self.J, self.L, self.backend, self.marginal = tuple(shape), J, L, backend, marginal
        # fast: periodic (stationary moments); kymatio: the reference, with its reflection padding
        self.transform = scattering_transform(backend, J, self.shape, L, periodic=backend == "fast")

    @property
    def count(self) -> int:
        return scattering_channels(self.J, self.L, 2) + MARGINALS[self.marginal]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.transform(x[:, 0].contiguous()).mean(dim=(-2, -1))  # (B, K)
        n1 = 1 + self.J * self.L
        return {"order0": s[:, :1], "order1": s[:, 1:n1], "order2": s[:, n1:], **marginal_moments(x, self.marginal)}


def morlet_bank(shape: tuple[int, int], J: int, L: int) -> torch.Tensor:
    """kymatio's Morlet wavelets in Fourier at full resolution: ``(J L, H, W)``, index ``j L + theta``."""
    return torch.from_numpy(morlet_bank_full_resolution(shape, J, L).astype("float32"))


def _cov(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spatial covariance ``E[(a - E a) conj(b - E b)]`` over the last two dims."""
    a = a - a.mean(dim=(-2, -1), keepdim=True)
    b = b - b.mean(dim=(-2, -1), keepdim=True)
    return (a * b.conj()).mean(dim=(-2, -1))


def _real_parts(z: torch.Tensor) -> torch.Tensor:
    return torch.cat([z.real, z.imag], dim=-1) if z.is_complex() else z


class PhaseHarmonicMoments(nn.Module):
    # the loss's floor (microcanonical.MomentLoss): 1.0 of each family's RMS, not 0.1: the covariances
    # near zero weigh less and the descent is better conditioned.  Measured (128 px, J=4, L=4, 40
    # L-BFGS iterations, AMD EPYC), the loss with the 0.1 floor still falls further with this one:
    # brick 0.0107 -> 0.0068, gravel 0.0027 -> 0.0023, edges 0.0203 -> 0.0030
    loss_floor = 1.0

    def __init__(self, shape: tuple[int, int], J: int = 4, L: int = 8, marginal: str = DEFAULT_MARGINAL,
                 scale_links: str = DEFAULT_SCALE_LINKS):
        super().__init__()
        check_option("marginal", marginal, MARGINALS)
        check_option("scale_links", scale_links, SCALE_LINKS)
        self.shape, self.J, self.L, self.marginal, self.scale_links = tuple(shape), J, L, marginal, scale_links
        self.register_buffer("psi_hat", morlet_bank(self.shape, J, L), persistent=False)
        tri = torch.triu_indices(L, L)
        self.register_buffer("same_t1", tri[0], persistent=False)
        self.register_buffer("same_t2", tri[1], persistent=False)

    @property
    def count(self) -> int:
        J, L = self.J, self.L
        pairs = L * (L + 1) // 2
        far_links = (J - 1) * (J - 2) * L if self.scale_links == "all" else 0
        return ((1 + J * L) + (J * pairs + (J - 1) * L * L) + J * pairs + 2 * (J - 1) * L * L + far_links
                + 3 * len(SHIFTS) * J * L + MARGINALS[self.marginal])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        J, L = self.J, self.L
        w = torch.fft.ifft2(torch.fft.fft2(x) * self.psi_hat)  # (B, J L, H, W) complex
        m = w.abs()
        w = w.unflatten(1, (J, L))
        m = m.unflatten(1, (J, L))
        out = {"means": torch.cat([x.mean(dim=(-2, -1)), m.mean(dim=(-2, -1)).flatten(1)], dim=1)}
        t1, t2 = self.same_t1, self.same_t2
        mod_same = [_cov(m[:, j, t1], m[:, j, t2]) for j in range(J)]
        mod_next = [_cov(m[:, j, :, None], m[:, j + 1, None, :]).flatten(1) for j in range(J - 1)]
        out["modulus_cov"] = torch.cat(mod_same + mod_next, dim=1)
        out["phase_cov"] = torch.cat([_cov(w[:, j, t1], w[:, j, t2]).real for j in range(J)], dim=1)
        phase = w / m.clamp_min(1e-12).to(w.dtype)  # e^(i arg z); [z]^k = |z| e^(i k arg z)
        harmonic2 = m * phase * phase
        links = [_cov(w[:, j, :, None], harmonic2[:, j + 1, None, :]).flatten(1) for j in range(J - 1)]
        if self.scale_links == "all":
            power = phase * phase
            for d in range(2, J):  # [W_(j+d)]^(2^d), same orientation
                power = power * power  # e^(i 2^d arg z)
                links += [_cov(w[:, j], m[:, j + d] * power[:, j + d]) for j in range(J - d)]
        out["scale_cov"] = _real_parts(torch.cat(links, dim=1))
        shifted = []
        for j in range(J):
            for dy, dx in SHIFTS:
                shift = (dy * 2**j, dx * 2**j)
                shifted += [_cov(m[:, j], m[:, j].roll(shift, dims=(-2, -1))),
                            _real_parts(_cov(w[:, j], w[:, j].roll(shift, dims=(-2, -1))))]
        out["spatial_cov"] = torch.cat(shifted, dim=1)
        return {**out, **marginal_moments(x, self.marginal)}


IMAGE_MODELS = MomentModels("images")
IMAGE_MODELS.register("gaussian", "gaussian", lambda shape, J, L, backend: PowerSpectrum(shape))
IMAGE_MODELS.register("scattering", "scattering",
                      lambda shape, J, L, backend, **options: ScatteringMoments(shape, J, L, backend, **options))
IMAGE_MODELS.register("phase_harmonic", "phase harmonic",
                      lambda shape, J, L, backend, **options: PhaseHarmonicMoments(shape, J, L, **options))
MODELS = IMAGE_MODELS.names()
MODEL_OPTIONS = {"gaussian": (), "scattering": ("marginal",), "phase_harmonic": ("marginal", "scale_links")}


def moment_model(name: str, shape: tuple[int, int], J: int = 4, L: int = 8, backend: str = "fast",
                 **options) -> nn.Module:
    """The registered image model ``name`` for images of ``shape`` (``IMAGE_MODELS``); ``options``:
    the model's own (``marginal``, ``scale_links``)."""
    return IMAGE_MODELS.build(name, shape, J, L, backend, **options)
