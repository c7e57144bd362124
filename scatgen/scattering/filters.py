"""The filter layout of the fast backend: which blocks of a periodised filter matter, the
separable factors of the low-pass, sizes."""

from __future__ import annotations

import numpy as np

# Blocks of a periodised filter below this fraction of its peak are skipped (float32 eps is 6e-8).
NEGLIGIBLE = 1e-7


def significant_blocks(filt: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The ``(a, b)`` blocks of the ``k x k`` split of ``filt`` ``(Q, M, N)`` where any filter is
    above ``NEGLIGIBLE`` of the peak: Morlet wavelets are band-limited, so for large ``k`` most
    blocks of the periodisation contribute nothing measurable."""
    q, m, n = filt.shape
    block_max = np.abs(filt).reshape(q, k, m // k, k, n // k).max(axis=(0, 2, 4))
    keep = block_max > NEGLIGIBLE * np.abs(filt).max()
    return [(a, b) for a in range(k) for b in range(k) if keep[a, b]]


def lowpass_factors(phi_hat: np.ndarray, k: int, out_shape: tuple[int, int], first: int = 1,
                     tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Separable factors of ``u -> unpad(subsample_k(u * phi))`` for a real signal ``u``.

    ``phi_hat`` is the (real, periodised) low-pass filter in Fourier at the resolution of ``u``.
    Circular convolution with ``h = F^-1 phi_hat`` and subsampling give
    ``S[p, q] = sum_{m,n} u[m, n] h[(p k - m) mod M, (q k - n) mod N]``; unpadding keeps
    ``p, q >= first`` (1 after kymatio's padding, 0 for a periodic input).  kymatio's ``phi`` is an
    isotropic Gaussian, so ``h = sum_r s_r a_r b_r^T`` has one singular value above the float32
    rounding of the filter (the others are ~4e-8 of it): ``S = sum_r A_r u B_r^T`` with
    ``A_r[p, m] = sqrt(s_r) a_r[(p k - m) mod M]`` and ``B_r`` likewise.  Two small matrix products
    replace one dense ``(M' N') x (M N)`` one, and each sums ``M`` or ``N`` terms instead of ``M N``
    (the dense float32 product lost 1.5e-5 relative at J=5 on an AMD EPYC; this keeps ~1e-7).
    Returns ``A`` ``(r, M', M)`` and ``B`` ``(r, N', N)`` with the ranks above ``tol``.
    """
    m_size, n_size = phi_hat.shape
    h = np.real(np.fft.ifft2(phi_hat.astype(np.complex128)))
    u, s, vt = np.linalg.svd(h)
    rank = int((s > tol * s[0]).sum())
    p = np.arange(first, out_shape[0] + first) * k
    q = np.arange(first, out_shape[1] + first) * k
    rows = (p[:, None] - np.arange(m_size)[None, :]) % m_size  # (Mo, M)
    cols = (q[:, None] - np.arange(n_size)[None, :]) % n_size  # (No, N)
    root = np.sqrt(s[:rank])
    a = (u[:, :rank] * root).T[:, rows]  # (r, Mo, M)
    b = (vt[:rank].T * root).T[:, cols]  # (r, No, N)
    return a, b


def next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()
