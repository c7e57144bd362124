"""The geometry of the scattering transform, in one place: channel count, output size, size rule.

For one input channel, order ``max_order`` gives ``K = 1 + J L + L^2 J (J - 1) / 2`` channels
(``1 + J L`` at order 1).  With kymatio's reflection padding the image is padded to
``Mp = ((M + 2^J) // 2^J + 1) 2^J`` and the output keeps ``Mp / 2^J - 2`` rows (one row of
padding dropped on each side); a periodic transform pads nothing and keeps ``M / 2^J``.
"""

from __future__ import annotations

from scatgen.scattering.kymatio_compat import padded_shape


def scattering_channels(J: int, L: int = 8, max_order: int = 2) -> int:
    """``K``: scattering channels per input channel."""
    return 1 + J * L + (L * L * J * (J - 1) // 2 if max_order == 2 else 0)


def scattering_out_shape(J: int, shape: tuple[int, int], L: int = 8, max_order: int = 2,
                         periodic: bool = False) -> tuple[int, int, int]:
    """``(K, M', N')`` of the scattering of one channel, without building filters."""
    M, N = shape
    if periodic:
        return scattering_channels(J, L, max_order), M // 2**J, N // 2**J
    Mp, Np = padded_shape(M, N, J)
    return scattering_channels(J, L, max_order), Mp // 2**J - 2, Np // 2**J - 2


def size_error(J: int, shape: tuple[int, int], periodic: bool = False) -> str | None:
    """Why ``J`` cannot scatter an image of ``shape``, or ``None`` when it can.

    The padded transform needs only ``1 <= J`` and ``2^J <= min(M, N)`` (kymatio's own rule: the
    padding handles any size, odd and non-square included); a periodic one also needs ``2^J`` to
    divide both sides, since it subsamples the unpadded grid."""
    M, N = shape
    if J < 1:
        return f"J={J} must be >= 1"
    if 2**J > min(M, N):
        largest = max(min(M, N).bit_length() - 1, 0)
        return (f"J={J} is too large for size {M}x{N}: the scattering needs 2^J={2**J} <= the smaller side "
                f"({min(M, N)}); use J<={largest} or a larger size")
    if periodic and (M % 2**J or N % 2**J):
        return f"a periodic scattering needs the size {M}x{N} divisible by 2^J={2**J}; change the size or J"
    return None


__all__ = ["scattering_channels", "scattering_out_shape", "size_error"]
