"""PCA whitening ``L``: scattering codes ``s`` -> ``z = L s`` with ``E z = 0`` and ``Cov z = Id``.

With ``mu`` the mean, ``V`` the ``d`` leading eigenvectors of the covariance ``C`` and ``lambda``
their eigenvalues, ``L s = diag(lambda + eps)^(-1/2) V^T (s - mu)`` and
``L^-1 z = V diag(lambda + eps)^(1/2) z + mu`` (exact on the span of ``V``).

Two modes:

* ``full``: PCA of the flattened code vector (``D = C K H' W'``), as in Angles & Mallat's code.
* ``channel``: PCA across the ``C K`` scattering channels, shared over the ``H' x W'`` positions
  (a 1x1 convolution); ``z`` has ``d H' W'`` numbers.

The statistics are accumulated in float64 while streaming over batches.  Two solvers:
``exact`` (the ``D x D`` covariance and its eigendecomposition, one pass) and ``randomized``
(Halko, Martinsson & Tropp: a range finder with power iterations, a few passes over the data,
never forming ``C``); ``auto`` picks ``exact`` up to ``exact_max_dim`` dimensions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

MODES = ("full", "channel")
SOLVERS = ("auto", "exact", "randomized")


def check_whitening_config(n_components: int, mode: str, code_shape: tuple[int, int, int], n_train: int | None) -> None:
    """Fail early, in one line, on a PCA that cannot be fitted (``n_train=None``: not known yet)."""
    if mode not in MODES:
        raise ValueError(f"whitening.mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    c, h, w = code_shape
    dims = c * h * w if mode == "full" else c
    samples = (n_train if mode == "full" else n_train * h * w) if n_train is not None else None
    if n_components < 1:
        raise ValueError(f"whitening.n_components={n_components} must be >= 1")
    if n_components > dims:
        raise ValueError(
            f"whitening.n_components={n_components} exceeds the {dims} code dimensions "
            f"({mode} mode on codes of shape {c}x{h}x{w}); use whitening.n_components<={dims}"
        )
    if n_train is not None and n_components > samples - 1:
        raise ValueError(
            f"whitening.n_components={n_components} exceeds what {samples} training samples can estimate "
            f"(data.n_train={n_train}); use whitening.n_components<={samples - 1} or raise data.n_train"
        )


class PCAWhitening(nn.Module):
    """Whitening operator ``L`` and its inverse, fitted once on the training codes."""

    def __init__(self, n_components: int = 512, code_shape: tuple[int, int, int] = (1251, 4, 4), mode: str = "full",
                 solver: str = "auto", eps: float = 1e-6, exact_max_dim: int = 4096, oversample: int = 32,
                 power_iterations: int = 2, seed: int = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"whitening.mode={mode!r} is unknown; use one of {', '.join(MODES)}")
        if solver not in SOLVERS:
            raise ValueError(f"whitening.solver={solver!r} is unknown; use one of {', '.join(SOLVERS)}")
        self.n_components, self.mode, self.code_shape = n_components, mode, tuple(code_shape)
        self.eps, self.exact_max_dim = eps, exact_max_dim
        self.oversample, self.power_iterations, self.seed = oversample, power_iterations, seed
        c, h, w = self.code_shape
        self.dim = c * h * w if mode == "full" else c
        self.solver = solver if solver != "auto" else ("exact" if self.dim <= exact_max_dim else "randomized")
        self.register_buffer("mean", torch.zeros(self.dim))
        self.register_buffer("components", torch.zeros(self.dim, n_components))
        self.register_buffer("scale", torch.ones(n_components))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def z_dim(self) -> int:
        """Length of the whitened code ``z`` of one image."""
        return self.n_components * (1 if self.mode == "full" else self.code_shape[1] * self.code_shape[2])

    def config(self) -> dict:
        """Everything that changes ``z``."""
        return {"n_components": self.n_components, "mode": self.mode, "solver": self.solver, "eps": self.eps,
                "oversample": self.oversample, "power_iterations": self.power_iterations, "seed": self.seed}

    # -- layout -------------------------------------------------------------------------------
    def _rows(self, s: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, C K, H', W')`` -> the samples of the PCA, one per row."""
        if self.mode == "full":
            return s.reshape(s.shape[0], -1)
        return s.permute(0, 2, 3, 1).reshape(-1, self.dim)

    # -- maps ---------------------------------------------------------------------------------
    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """``z = L s``: ``(B, C K, H', W')`` -> ``(B, z_dim)``."""
        if not bool(self.fitted):
            raise RuntimeError("PCAWhitening is not fitted: call fit() on the training codes first")
        z = (self._rows(s) - self.mean) @ self.components / self.scale
        if self.mode == "channel":
            b = s.shape[0]
            z = z.reshape(b, -1, self.n_components).transpose(1, 2)  # (B, d, H' W')
        return z.reshape(s.shape[0], -1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """``L^-1 z``: ``(B, z_dim)`` -> codes ``(B, C K, H', W')`` on the span of the components."""
        c, h, w = self.code_shape
        b = z.shape[0]
        if self.mode == "channel":
            z = z.reshape(b, self.n_components, h * w).transpose(1, 2).reshape(-1, self.n_components)
        s = (z * self.scale) @ self.components.T + self.mean
        if self.mode == "full":
            return s.reshape(b, c, h, w)
        return s.reshape(b, h, w, c).permute(0, 3, 1, 2)

    # -- fitting ------------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, batches: Callable[[], Iterable[torch.Tensor]]) -> "PCAWhitening":
        """Fit on training codes. ``batches()`` yields code batches ``(B, C K, H', W')``; the
        randomized solver calls it once per pass over the data."""
        if self.solver == "exact":
            mean, eigvals, eigvecs = self._fit_exact(batches)
        else:
            mean, eigvals, eigvecs = self._fit_randomized(batches)
        lam = eigvals.clamp_min(0)
        self.mean.copy_(mean.float())
        self.components.copy_(eigvecs.float())
        self.scale.copy_((lam + self.eps * lam.max()).sqrt().float())
        self.fitted.fill_(True)
        return self

    def _fit_exact(self, batches):
        n, total, gram = 0, torch.zeros(self.dim, dtype=torch.float64), torch.zeros(self.dim, self.dim, dtype=torch.float64)
        for s in batches():
            x = self._rows(s).double()
            n += x.shape[0]
            total += x.sum(0)
            gram += x.T @ x
        mean = total / n
        cov = (gram - n * torch.outer(mean, mean)) / (n - 1)
        eigvals, eigvecs = torch.linalg.eigh(cov)
        top = eigvals.argsort(descending=True)[: self.n_components]
        return mean, eigvals[top], eigvecs[:, top]

    def _cov_times(self, batches, v: torch.Tensor, mean: torch.Tensor | None):
        """One pass: ``(C v, n, sum)``; float32 products, float64 accumulation. Without a mean
        the data are uncentred and the mean correction is applied at the end."""
        n, total, acc = 0, torch.zeros(self.dim, dtype=torch.float64), torch.zeros_like(v, dtype=torch.float64)
        v32 = v.float()
        for s in batches():
            x = self._rows(s).float()
            if mean is not None:
                x = x - mean.float()
            n += x.shape[0]
            total += x.double().sum(0)
            acc += (x.T @ (x @ v32)).double()
        if mean is None:
            mean = total / n
            acc -= n * torch.outer(mean, mean @ v)
        return acc / (n - 1), mean

    def _fit_randomized(self, batches):
        k = min(self.dim, self.n_components + self.oversample)
        gen = torch.Generator().manual_seed(self.seed)
        omega = torch.randn(self.dim, k, generator=gen, dtype=torch.float64)
        y, mean = self._cov_times(batches, omega, None)
        for _ in range(self.power_iterations):
            q, _ = torch.linalg.qr(y)
            y, _ = self._cov_times(batches, q, mean)
        q, _ = torch.linalg.qr(y)
        cq, _ = self._cov_times(batches, q, mean)
        small = q.T @ cq
        eigvals, w = torch.linalg.eigh((small + small.T) / 2)
        top = eigvals.argsort(descending=True)[: self.n_components]
        return mean, eigvals[top], q @ w[:, top]


def n_passes(whitening: PCAWhitening) -> int:
    """Passes over the training codes that ``fit`` makes."""
    return 1 if whitening.solver == "exact" else 2 + whitening.power_iterations


__all__ = ["PCAWhitening", "check_whitening_config", "n_passes"]
