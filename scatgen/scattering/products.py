"""The core of the fast backend: the periodised filter products (subsampling in space as a sum
of blocks in Fourier) in two designs, the CPU block loop with its hand-written adjoint and the GPU
gather, and the modulus."""

from __future__ import annotations

import torch

def periodised_product(u: torch.Tensor, f: torch.Tensor, k: int, blocks: list[tuple[int, int]]) -> torch.Tensor:
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


class PeriodisedProduct(torch.autograd.Function):
    """The block loop above, with its adjoint as one broadcast product: ``grad_u`` at block
    ``(a, b)`` is ``sum_Q grad_out * f_(a,b)``.  Autograd through the loop would instead zero-fill a
    full-size gradient for every block (most of the time of a synthesis step)."""

    @staticmethod
    def forward(ctx, u, f, k, blocks):
        ctx.save_for_backward(f)
        ctx.k, ctx.u_shape = k, u.shape
        return periodised_product(u, f, k, blocks)

    @staticmethod
    def backward(ctx, grad_out):
        (f,) = ctx.saved_tensors
        k = ctx.k
        q, big_m, big_n = f.shape[:3]
        m, n = big_m // k, big_n // k
        g = grad_out.unsqueeze(-3).unsqueeze(-5)  # (..., Q, 1, m, 1, n, 2)
        grad = (g * f.view(q, k, m, k, n, 2)).sum(dim=-6, keepdim=True)  # (..., 1, k, m, k, n, 2)
        return grad.reshape(ctx.u_shape), None, None, None


def filter_subsample(u_hat: torch.Tensor, filt: torch.Tensor, k: int, blocks: list[tuple[int, int]]) -> torch.Tensor:
    """Spectrum of ``subsample_k(F^-1(u_hat * psi))``: the product periodised over ``k x k`` blocks.

    ``u_hat`` ``(..., 1, M, N)`` complex broadcasts against the real filters, given as
    ``filt`` ``(Q, M, N, 2)`` = ``psi / k^2`` duplicated on a last axis so that complex-times-real
    runs as a real product on ``view_as_real`` (half the flops of a complex product, vectorised).
    The product is accumulated block by block, so the full-resolution product ``(..., Q, M, N)``
    is never materialised; ``blocks`` lists the blocks where ``psi`` is not negligible.
    """
    u = torch.view_as_real(u_hat)
    if torch.is_grad_enabled() and u.requires_grad:
        return torch.view_as_complex(PeriodisedProduct.apply(u, filt, k, blocks))
    return torch.view_as_complex(periodised_product(u, filt, k, blocks))


def modulus(z: torch.Tensor) -> torch.Tensor:
    """``|z|``; a fast real-arithmetic form when no gradient is needed (``torch.abs`` otherwise,
    whose gradient at 0 is 0)."""
    if torch.is_grad_enabled() and z.requires_grad:
        return z.abs()
    return (z.real.square() + z.imag.square()).sqrt_()


def gathered_product(u: torch.Tensor, index: torch.Tensor, blocks: torch.Tensor, k: int) -> torch.Tensor:
    """The periodised product of ``periodised_product`` with no Python loop (the GPU design).

    ``u`` ``(..., 1, M, N, 2)``; ``blocks`` ``(Q, n_b, m, n, 2)`` holds, for each filter, its own
    significant blocks (zero-padded to the same count ``n_b``) and ``index`` ``(Q, n_b)`` their
    positions in the ``k x k`` split.  One copy of ``u`` into block order, one gather, one
    product and one sum, whatever ``k``: a handful of kernels per scale instead of one per block.
    Returns ``(..., Q, m, n, 2)``."""
    m, n = u.shape[-3] // k, u.shape[-2] // k
    split = u.squeeze(-4).unflatten(-2, (k, n)).unflatten(-4, (k, m))  # (..., k, m, k, n, 2)
    split = split.transpose(-4, -3).flatten(-5, -4)  # (..., k k, m, n, 2)
    picked = split[..., index, :, :, :]  # (..., Q, n_b, m, n, 2)
    return (picked * blocks).sum(-4)
