"""Fast 2D scattering transform in pure PyTorch, numerically equal to kymatio's.

The filters are kymatio's own Morlet filter bank (``kymatio.scattering2d.filter_bank``) on the
same padded grid, so the maths is kymatio's; only the order of the computation changes:

* ``U_0 = F x`` once per image (torch's ``fft2`` of a real tensor runs a real-to-complex FFT);
* first order: all ``J L`` wavelets in one broadcast product ``U_0 * psi``, then for each scale
  ``j`` a periodisation (``reshape`` + ``mean``, i.e. subsampling by ``2^j`` in space), one batched
  inverse FFT and the modulus: ``U_1[j] = |x * psi_{j,theta}|`` for all ``theta`` at once;
* second order: grouped by ``j1``: ``F U_1[j1]`` once, times all wavelets of every ``j2 > j1``,
  periodised by ``2^(j2-j1)``, one batched inverse FFT, modulus;
* the low-pass ``S = unpad(subsample_{2^(J-j)}(U * phi))`` is a fixed linear map of the real
  signal ``U``; we hold it as a dense matrix ``A_j`` (rows: the kept output pixels, columns: the
  pixels at resolution ``2^-j``) and apply it to every path of a scale in one GEMM.  This replaces
  one forward FFT, one product and one inverse FFT per path by a single matrix product.

Output layout and ordering are kymatio's: ``(..., 1 + J L + L^2 J (J - 1) / 2, M', N')`` with the
zeroth order first, then order 1 by (j, theta), then order 2 by (j1, theta1, j2, theta2).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from kymatio.scattering2d.backend.torch_backend import Pad as KymatioPad
from kymatio.scattering2d.filter_bank import filter_bank
from kymatio.scattering2d.utils import compute_padding
from torch import nn


# Blocks of a periodised filter below this fraction of its peak are skipped (float32 eps is 6e-8).
_NEGLIGIBLE = 1e-7


def _significant_blocks(filt: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The ``(a, b)`` blocks of the ``k x k`` split of ``filt`` ``(Q, M, N)`` where any filter is
    above ``_NEGLIGIBLE`` of the peak: Morlet wavelets are band-limited, so for large ``k`` most
    blocks of the periodisation contribute nothing measurable."""
    q, m, n = filt.shape
    block_max = np.abs(filt).reshape(q, k, m // k, k, n // k).max(axis=(0, 2, 4))
    keep = block_max > _NEGLIGIBLE * np.abs(filt).max()
    return [(a, b) for a in range(k) for b in range(k) if keep[a, b]]


def _periodised_product(u: torch.Tensor, f: torch.Tensor, k: int, blocks: list[tuple[int, int]]) -> torch.Tensor:
    """``sum_blocks u_block * f_block`` on real views: ``u`` ``(..., 1, M, N, 2)``, ``f`` ``(Q, M, N, 2)``
    -> ``(..., Q, M/k, N/k, 2)``, accumulated block by block with ``addcmul_``."""
    m, n = u.shape[-3] // k, u.shape[-2] // k
    u = u.unflatten(-2, (k, n)).unflatten(-4, (k, m))  # (..., 1, k, m, k, n, 2)
    f = f.unflatten(-2, (k, n)).unflatten(-4, (k, m))  # (Q, k, m, k, n, 2)
    (a0, b0), *rest = blocks
    out = u[..., a0, :, b0, :, :] * f[:, a0, :, b0, :, :]
    for a, b in rest:
        out.addcmul_(u[..., a, :, b, :, :], f[:, a, :, b, :, :])
    return out


class _PeriodisedProduct(torch.autograd.Function):
    """The block loop above, with its adjoint as one broadcast product: ``grad_u`` at block
    ``(a, b)`` is ``sum_Q grad_out * f_(a,b)``.  Autograd through the loop would instead zero-fill a
    full-size gradient for every block (most of the time of a synthesis step)."""

    @staticmethod
    def forward(ctx, u, f, k, blocks):
        ctx.save_for_backward(f)
        ctx.k, ctx.u_shape = k, u.shape
        return _periodised_product(u, f, k, blocks)

    @staticmethod
    def backward(ctx, grad_out):
        (f,) = ctx.saved_tensors
        k = ctx.k
        q, big_m, big_n = f.shape[:3]
        m, n = big_m // k, big_n // k
        g = grad_out.unsqueeze(-3).unsqueeze(-5)  # (..., Q, 1, m, 1, n, 2)
        grad = (g * f.view(q, k, m, k, n, 2)).sum(dim=-6, keepdim=True)  # (..., 1, k, m, k, n, 2)
        return grad.reshape(ctx.u_shape), None, None, None


def _filter_subsample(u_hat: torch.Tensor, filt: torch.Tensor, k: int, blocks: list[tuple[int, int]]) -> torch.Tensor:
    """Spectrum of ``subsample_k(F^-1(u_hat * psi))``: the product periodised over ``k x k`` blocks.

    ``u_hat`` ``(..., 1, M, N)`` complex broadcasts against the real filters, given as
    ``filt`` ``(Q, M, N, 2)`` = ``psi / k^2`` duplicated on a last axis so that complex-times-real
    runs as a real product on ``view_as_real`` (half the flops of a complex product, vectorised).
    The product is accumulated block by block, so the full-resolution product ``(..., Q, M, N)``
    is never materialised; ``blocks`` lists the blocks where ``psi`` is not negligible.
    """
    u = torch.view_as_real(u_hat)
    if torch.is_grad_enabled() and u.requires_grad:
        return torch.view_as_complex(_PeriodisedProduct.apply(u, filt, k, blocks))
    return torch.view_as_complex(_periodised_product(u, filt, k, blocks))


def _modulus(z: torch.Tensor) -> torch.Tensor:
    """``|z|``; a fast real-arithmetic form when no gradient is needed (``torch.abs`` otherwise,
    whose gradient at 0 is 0)."""
    if torch.is_grad_enabled() and z.requires_grad:
        return z.abs()
    return (z.real.square() + z.imag.square()).sqrt_()


def _lowpass_matrix(phi_hat: np.ndarray, k: int, out_shape: tuple[int, int], first: int = 1) -> np.ndarray:
    """Dense matrix of ``u -> unpad(subsample_k(u * phi))`` for a real signal ``u``.

    ``phi_hat`` is the (real, periodised) low-pass filter in Fourier at the resolution of ``u``.
    Circular convolution with ``h = F^-1 phi_hat`` and subsampling give
    ``S[p, q] = sum_{m,n} u[m, n] h[(p k - m) mod M, (q k - n) mod N]``; unpadding keeps
    ``p, q >= first`` (1 after kymatio's padding, 0 for a periodic input).  Returns an array of
    shape ``(M_out N_out, M N)``.
    """
    m_size, n_size = phi_hat.shape
    h = np.real(np.fft.ifft2(phi_hat))
    p = np.arange(first, out_shape[0] + first) * k
    q = np.arange(first, out_shape[1] + first) * k
    m = np.arange(m_size)
    n = np.arange(n_size)
    rows = (p[:, None] - m[None, :]) % m_size  # (Mo, M)
    cols = (q[:, None] - n[None, :]) % n_size  # (No, N)
    a = h[rows[:, None, :, None], cols[None, :, None, :]]  # (Mo, No, M, N)
    return a.reshape(out_shape[0] * out_shape[1], m_size * n_size)


class FastScattering2D(nn.Module):
    """Scattering ``S_J x`` of images ``(..., M, N)``; same output as ``kymatio.torch.Scattering2D``.

    Args:
        J: number of octaves (the output is subsampled by ``2^J``).
        shape: spatial size ``(M, N)`` of the input.
        L: number of orientations.
        max_order: 1 or 2.
        chunk_bytes: images (times colour channels) are processed in chunks whose largest
            intermediate stays under this size; small chunks stay in cache and avoid page faults.
        compile: run the chunk computation through ``torch.compile`` when no gradient is needed:
            it fuses the elementwise passes (block products, modulus), about 3x faster on CPU, for
            a one-off compilation of ~30 s per configuration (cached on disk by PyTorch). Falls
            back to eager execution, with a warning, where compilation is not available.
        periodic: treat the input as periodic (no padding; output ``M/2^J x N/2^J``): what the
            stationary texture models use, where kymatio's reflection padding would add
            boundary effects.  The output is then not kymatio's.
    """

    def __init__(self, J: int, shape: tuple[int, int], L: int = 8, max_order: int = 2, chunk_bytes: int = 16 << 20,
                 compile: bool = False, periodic: bool = False):
        super().__init__()
        M, N = int(shape[0]), int(shape[1])
        if max_order not in (1, 2):
            raise ValueError(f"max_order={max_order} is not supported; use 1 or 2")
        if J < 1 or 2**J > M or 2**J > N:
            raise ValueError(f"J={J} is not valid for an input of size {M}x{N}: need 1 <= J and 2^J <= {min(M, N)}")
        self.J, self.L, self.max_order, self.shape = J, L, max_order, (M, N)
        self.compile, self._compiled = compile, None
        if periodic and (M % 2**J or N % 2**J):
            raise ValueError(f"a periodic scattering needs the size {M}x{N} divisible by 2^J={2**J}")
        self.periodic = periodic
        Mp, Np = (M, N) if periodic else compute_padding(M, N, J)
        self.padded_shape = (Mp, Np)
        self.out_shape = (Mp // 2**J, Np // 2**J) if periodic else (Mp // 2**J - 2, Np // 2**J - 2)
        self._pad = None if periodic else \
            KymatioPad([(Mp - M) // 2, (Mp - M + 1) // 2, (Np - N) // 2, (Np - N + 1) // 2], [M, N])
        # Largest intermediate per image: the (L, L, Mp/2, Np/2) complex second-order spectra.
        per_image = 8 * L * (L if max_order == 2 else 1) * Mp * Np // (4 if max_order == 2 else 1)
        self.chunk_size = max(1, chunk_bytes // per_image)

        bank = filter_bank(Mp, Np, J, L)
        psi, phi = bank["psi"], bank["phi"]["levels"]

        self._blocks: dict[str, list[tuple[int, int]]] = {}

        def buffer(name: str, array: np.ndarray, scale: float = 1.0) -> None:
            t = torch.from_numpy(np.ascontiguousarray(array * scale, dtype=np.float32))
            self.register_buffer(name, t, persistent=False)

        def wavelets(name: str, filt: np.ndarray, k: int) -> None:
            self._blocks[name] = _significant_blocks(filt, k)
            buffer(name, np.repeat(filt[..., None], 2, axis=-1), 1.0 / (k * k))

        # First order, scale j: the L wavelets at full resolution.
        for j in range(J):
            wavelets(f"psi1_{j}", np.stack([p["levels"][0] for p in psi if p["j"] == j]), 2**j)
        # Second order, scales j1 < j2: the L wavelets of scale j2 at resolution j1.
        for j1 in range(J - 1 if max_order == 2 else 0):
            for j2 in range(j1 + 1, J):
                filt = np.stack([p["levels"][j1] for p in psi if p["j"] == j2])
                wavelets(f"psi2_{j1}_{j2}", filt, 2 ** (j2 - j1))
        # Low-pass matrices, one per resolution j (the input of S_0 is at j = 0), stored transposed.
        for j in range(J):
            buffer(f"lowpass_{j}", _lowpass_matrix(phi[j], 2 ** (J - j), self.out_shape, 0 if periodic else 1).T)

    @property
    def n_channels(self) -> int:
        """Scattering channels per input channel: ``1 + J L + L^2 J (J - 1) / 2`` (order 2)."""
        J, L = self.J, self.L
        return 1 + J * L + (L * L * J * (J - 1) // 2 if self.max_order == 2 else 0)

    def _wavelet_subsample(self, u_hat: torch.Tensor, name: str, k: int) -> torch.Tensor:
        filt = getattr(self, name).to(u_hat.real.dtype)
        return _filter_subsample(u_hat, filt, k, self._blocks[name])

    def _lowpass(self, u: torch.Tensor, j: int) -> torch.Tensor:
        """``(B, P, M_j, N_j)`` real -> ``(B, P, M', N')``: low-pass, subsample, unpad, as one GEMM."""
        b, p = u.shape[:2]
        a = getattr(self, f"lowpass_{j}").to(u.dtype)
        return (u.reshape(b * p, -1) @ a).reshape(b, p, *self.out_shape)

    def _scatter(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, M, N)`` real -> ``(B, K, M', N')``."""
        J, L = self.J, self.L
        xp = x if self._pad is None else self._pad(x).squeeze(-1)  # (B, Mp, Np)
        out = [self._lowpass(xp[:, None], 0)]
        x_hat = torch.fft.fft2(xp)[:, None]  # (B, 1, Mp, Np)
        u1 = []
        for j in range(J):
            spec = self._wavelet_subsample(x_hat, f"psi1_{j}", 2**j)
            u = _modulus(torch.fft.ifft2(spec))  # (B, L, Mp / 2^j, Np / 2^j)
            u1.append(u)
            out.append(self._lowpass(u, j))
        for j1 in range(J - 1 if self.max_order == 2 else 0):
            u_hat = torch.fft.fft2(u1[j1])[:, :, None]  # (B, L1, 1, M1, N1)
            per_j2 = []
            for j2 in range(j1 + 1, J):
                spec = self._wavelet_subsample(u_hat, f"psi2_{j1}_{j2}", 2 ** (j2 - j1))
                u2 = _modulus(torch.fft.ifft2(spec))  # (B, L1, L2, M2, N2)
                s2 = self._lowpass(u2.flatten(1, 2), j2)
                per_j2.append(s2.unflatten(1, (L, L)))
            out.append(torch.cat(per_j2, dim=2).flatten(1, 2))  # (B, L1 * (J-1-j1) L, M', N')
        return torch.cat(out, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(f"input of spatial size {tuple(x.shape[-2:])} given to a scattering built for {self.shape}")
        if not x.is_floating_point():
            raise TypeError(f"scattering input must be floating point, got {x.dtype}")
        batch = x.shape[:-2]
        flat = x.reshape(-1, *self.shape)
        if flat.shape[0] == 0:
            return flat.new_zeros(*batch, self.n_channels, *self.out_shape)
        scatter = self._scatter
        if self.compile and not (torch.is_grad_enabled() and x.requires_grad):
            scatter = self._compiled_scatter()
        outs = []
        for chunk in flat.split(self.chunk_size):
            n = chunk.shape[0]
            if scatter is not self._scatter and n < self.chunk_size:  # one shape: one compilation
                chunk = torch.cat([chunk, chunk.new_zeros(self.chunk_size - n, *self.shape)])
            outs.append(scatter(chunk)[:n])
        return torch.cat(outs).reshape(*batch, self.n_channels, *self.out_shape)

    def _compiled_scatter(self):
        if self._compiled is None:
            try:
                compiled = torch.compile(self._scatter, dynamic=False)
                compiled(torch.zeros(self.chunk_size, *self.shape, device=self.psi1_0.device))
                self._compiled = compiled
            except Exception as err:  # no compiler, unsupported platform: stay correct, just slower
                warnings.warn(f"torch.compile of the fast scattering failed ({type(err).__name__}: {err}); running eagerly")
                self._compiled = self._scatter
        return self._compiled


def scattering_out_shape(J: int, shape: tuple[int, int], L: int = 8, max_order: int = 2) -> tuple[int, int, int]:
    """``(K, M', N')`` of the scattering of one channel, without building filters."""
    Mp, Np = compute_padding(shape[0], shape[1], J)
    k = 1 + J * L + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)
    return k, Mp // 2**J - 2, Np // 2**J - 2


__all__ = ["FastScattering2D", "scattering_out_shape"]
