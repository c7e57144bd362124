"""PCA whitening ``L``: scattering codes ``s`` -> ``z = L s`` with ``E z = 0`` and ``Cov z = Id``.

With ``mu`` the mean, ``V`` the ``d`` leading eigenvectors of the covariance ``C``, ``lambda``
their eigenvalues and ``lambda_max`` the largest:
``L s = diag(lambda + eps lambda_max)^(-1/2) V^T (s - mu)`` and
``L^-1 z = V diag(lambda + eps lambda_max)^(1/2) z + mu`` (exact on the span of ``V``).

Two modes, both white per image on the training codes (``Cov z = Id`` over images):

* ``full``: PCA of the flattened code vector (``D = C K H' W'``), as in Angles & Mallat's code.
* ``channel``: a 1x1 PCA across the ``C K`` scattering channels, shared by the ``P = H' W'``
  positions (each position centred by its own mean, the covariance pooled over positions), to
  ``d`` channels; then the ``d P`` numbers of each image are whitened together by
  ``W = Cov(y)^(-1/2)`` (ZCA: the symmetric whitening, the one closest to the identity, so ``z``
  keeps the ``(d, H', W')`` layout of the projected code ``y``).  Pooling alone would leave the
  per-image covariance off the identity (positions differ and correlate).

The statistics are accumulated in float64 while streaming over batches.  Two solvers for the
(first) PCA: ``exact`` (the ``D x D`` covariance and its eigendecomposition, one pass) and
``randomized`` (Halko, Martinsson & Tropp: a range finder with power iterations, a few passes
over the data, never forming ``C``); ``auto`` picks ``exact`` up to ``exact_max_dim`` dimensions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import torch
from torch import nn

from scatgen.errors import ConfigError

MODES = ("full", "channel")
SOLVERS = ("auto", "exact", "randomized")


def default_components(mode: str, code_shape: tuple[int, int, int], n_train: int | None, cap: int = 512) -> int:
    """``whitening.n_components=null``: as many components as the codes and the training images
    support, up to ``cap``: ``min(cap, D, n - 1)`` in full mode, ``min(cap, C K, (n - 1) / P)`` in
    channel mode (``n`` unknown: the code dimension alone bounds it)."""
    c, h, w = code_shape
    dims = c * h * w if mode == "full" else c
    if n_train is None:
        return min(cap, dims)
    per_image = 1 if mode == "full" else h * w
    return max(1, min(cap, dims, (n_train - 1) // per_image))


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
    if n_train is not None and mode == "channel" and n_components * h * w > n_train - 1:
        raise ValueError(
            f"whitening.n_components={n_components} in channel mode gives {n_components * h * w} numbers per image "
            f"({n_components}x{h}x{w}), more than {n_train} training images can whiten; use "
            f"whitening.n_components<={max((n_train - 1) // (h * w), 1)} or raise data.n_train"
        )


def mean_and_covariance(rows: Iterable[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of the rows of a stream of ``(n_i, d)`` float64 batches, in one pass."""
    n, total, gram = 0, None, None
    for x in rows:
        total = x.sum(0) if total is None else total + x.sum(0)
        gram = x.T @ x if gram is None else gram + x.T @ x
        n += x.shape[0]
    mean = total / n
    return mean, (gram - n * torch.outer(mean, mean)) / (n - 1)


class PCAWhitening(nn.Module):
    """Whitening operator ``L`` and its inverse, fitted once on the training codes."""

    def __init__(self, n_components: int | None = 512, code_shape: tuple[int, int, int] = (1251, 4, 4), mode: str = "full",
                 solver: str = "auto", eps: float = 1e-6, exact_max_dim: int = 4096, oversample: int = 32,
                 power_iterations: int = 1, seed: int = 0, n_train: int | None = None, max_components: int = 512):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"whitening.mode={mode!r} is unknown; use one of {', '.join(MODES)}")
        if n_components is None:  # as many as the data support (``default_components``)
            n_components = default_components(mode, tuple(code_shape), n_train, max_components)
        if solver not in SOLVERS:
            raise ValueError(f"whitening.solver={solver!r} is unknown; use one of {', '.join(SOLVERS)}")
        self.n_components, self.mode, self.code_shape = n_components, mode, tuple(code_shape)
        self.eps, self.exact_max_dim = eps, exact_max_dim
        self.oversample, self.power_iterations, self.seed = oversample, power_iterations, seed
        c, h, w = self.code_shape
        self.dim = c * h * w if mode == "full" else c
        self.solver = solver if solver != "auto" else ("exact" if self.dim <= exact_max_dim else "randomized")
        self.positions = 1 if mode == "full" else h * w
        self.register_buffer("mean", torch.zeros(self.positions, self.dim))
        self.register_buffer("components", torch.zeros(self.dim, n_components))
        self.register_buffer("scale", torch.ones(n_components))
        if mode == "channel":  # ZCA of the d P projected numbers of an image
            self.register_buffer("zca_mean", torch.zeros(self.z_dim))
            self.register_buffer("zca", torch.eye(self.z_dim))
            self.register_buffer("zca_inverse", torch.eye(self.z_dim))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def z_dim(self) -> int:
        """Length of the whitened code ``z`` of one image."""
        return self.n_components * (1 if self.mode == "full" else self.code_shape[1] * self.code_shape[2])

    def config(self) -> dict:
        """Everything that changes ``z``."""
        return {"n_components": self.n_components, "mode": self.mode, "solver": self.solver, "eps": self.eps,
                "oversample": self.oversample, "power_iterations": self.power_iterations, "seed": self.seed,
                "format": 2}

    def digest(self) -> str:
        """A short hash of the fitted operator (its buffers): equal digests, equal ``L``."""
        h = hashlib.sha256()
        for name, buffer in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(buffer.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    # -- layout -------------------------------------------------------------------------------
    def _rows(self, s: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, C K, H', W')`` -> ``(B, P, dim)``: one PCA sample per image (full) or per
        image and position (channel)."""
        if self.mode == "full":
            return s.reshape(s.shape[0], 1, -1)
        return s.flatten(2).transpose(1, 2)

    # -- maps ---------------------------------------------------------------------------------
    def project(self, s: torch.Tensor) -> torch.Tensor:
        """The PCA stage ``y``: ``(B, C K, H', W')`` -> ``(B, z_dim)`` (``(d, H' W')`` in channel mode)."""
        y = (self._rows(s) - self.mean) @ self.components / self.scale  # (B, P, d)
        return y.transpose(1, 2).reshape(s.shape[0], -1)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """``z = L s``: ``(B, C K, H', W')`` -> ``(B, z_dim)``."""
        if not bool(self.fitted):
            raise RuntimeError("PCAWhitening is not fitted: call fit() on the training codes first")
        y = self.project(s)
        return y if self.mode == "full" else (y - self.zca_mean) @ self.zca

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """``L^-1 z``: ``(B, z_dim)`` -> codes ``(B, C K, H', W')`` on the span of the components."""
        c, h, w = self.code_shape
        b = z.shape[0]
        if self.mode == "channel":
            z = z @ self.zca_inverse + self.zca_mean
        y = z.reshape(b, self.n_components, self.positions).transpose(1, 2)  # (B, P, d)
        s = (y * self.scale) @ self.components.T + self.mean  # (B, P, dim)
        if self.mode == "full":
            return s.reshape(b, c, h, w)
        return s.transpose(1, 2).reshape(b, c, h, w)

    # -- fitting ------------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, batches: Callable[[], Iterable[torch.Tensor]]) -> "PCAWhitening":
        """Fit on training codes. ``batches()`` yields code batches ``(B, C K, H', W')``; the
        randomized solver calls it once per pass over the data."""
        mean = self._position_means(batches) if self.mode == "channel" else None
        if self.solver == "exact":
            mean, eigvals, eigvecs = self._fit_exact(batches, mean)
        else:
            mean, eigvals, eigvecs = self._fit_randomized(batches, mean)
        lam = eigvals.clamp_min(0)
        check_variance(lam, mean)
        self.mean.copy_(mean.reshape(self.positions, self.dim).float())
        self.components.copy_(eigvecs.float())
        self.scale.copy_((lam + self.eps * lam.max()).sqrt().float())
        if self.mode == "channel":
            self._fit_zca(batches)
        self.fitted.fill_(True)
        return self

    def _position_means(self, batches) -> torch.Tensor:
        """Channel mode: the mean code at each position ``(P, dim)``."""
        n, total = 0, torch.zeros(self.positions, self.dim, dtype=torch.float64)
        for s in batches():
            total += self._rows(s).double().sum(0)
            n += s.shape[0]
        return total / n

    def _samples(self, s: torch.Tensor, mean: torch.Tensor | None) -> torch.Tensor:
        """The PCA samples of a batch, one per row; channel mode: centred at each position."""
        rows = self._rows(s).double()
        if mean is not None:
            rows = rows - mean.reshape(self.positions, self.dim)
        return rows.reshape(-1, self.dim)

    def _fit_exact(self, batches, position_mean):
        mean, cov = mean_and_covariance(self._samples(s, position_mean) for s in batches())
        eigvals, eigvecs = torch.linalg.eigh(cov)
        top = eigvals.argsort(descending=True)[: self.n_components]
        return (mean if position_mean is None else position_mean), eigvals[top], eigvecs[:, top]

    def _fit_zca(self, batches) -> None:
        """Channel mode: ``W = Cov(y)^(-1/2)`` for the projected codes ``y`` of whole images."""
        mean, cov = mean_and_covariance(self.project(s.float()).double() for s in batches())
        lam, v = torch.linalg.eigh(cov)
        lam = lam.clamp_min(0) + self.eps * lam.max()
        self.zca_mean.copy_(mean.float())
        self.zca.copy_((v * lam.rsqrt()) @ v.T)
        self.zca_inverse.copy_((v * lam.sqrt()) @ v.T)

    def _cov_times(self, batches, v: torch.Tensor, mean: torch.Tensor | None, position_mean: torch.Tensor | None):
        """One pass: ``(C v, n, sum)``; float32 products, float64 accumulation. Without a mean
        the data are uncentred and the mean correction is applied at the end."""
        n, total, acc = 0, torch.zeros(self.dim, dtype=torch.float64), torch.zeros_like(v, dtype=torch.float64)
        v32 = v.float()
        for s in batches():
            x = self._samples(s, position_mean).float()
            if mean is not None:
                x = x - mean.float()
            n += x.shape[0]
            total += x.double().sum(0)
            acc += (x.T @ (x @ v32)).double()
        if mean is None:
            mean = total / n
            acc -= n * torch.outer(mean, mean @ v)
        return acc / (n - 1), mean

    def _fit_randomized(self, batches, position_mean):
        k = min(self.dim, self.n_components + self.oversample)
        gen = torch.Generator().manual_seed(self.seed)
        omega = torch.randn(self.dim, k, generator=gen, dtype=torch.float64)
        y, mean = self._cov_times(batches, omega, None, position_mean)
        for _ in range(self.power_iterations):
            q, _ = torch.linalg.qr(y)
            y, _ = self._cov_times(batches, q, mean, position_mean)
        q, _ = torch.linalg.qr(y)
        cq, _ = self._cov_times(batches, q, mean, position_mean)
        small = q.T @ cq
        eigvals, w = torch.linalg.eigh((small + small.T) / 2)
        top = eigvals.argsort(descending=True)[: self.n_components]
        return (mean if position_mean is None else position_mean), eigvals[top], q @ w[:, top]


def check_variance(lam: torch.Tensor, mean: torch.Tensor, rel: float = 1e-10) -> None:
    """Refuse codes with no variance (every training image gives the same code: ``eps *
    lambda_max`` is then 0 and ``L`` divides by it), in one line saying how many components the
    data support."""
    floor = rel * max(float(mean.double().square().mean()), 1e-30)
    if not float(lam.max()) > floor:
        raise ConfigError("the training images have no variance: every one gives the same scattering code (identical "
                          "images?), so they support 0 whitening components; train on varied images")


def n_passes(whitening: PCAWhitening) -> int:
    """Passes over the training codes that ``fit`` makes."""
    return (1 if whitening.solver == "exact" else 2 + whitening.power_iterations) + (2 if whitening.mode == "channel" else 0)


__all__ = ["PCAWhitening", "check_whitening_config", "n_passes"]
