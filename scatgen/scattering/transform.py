"""The fixed scattering encoder ``S_J``: colour images ``(B, C, H, W)`` -> codes ``(B, C K, H', W')``.

Each colour channel is scattered separately with ``K = 1 + J L + L^2 J (J - 1) / 2`` channels
(order 2) at ``H' x W' = (H_pad / 2^J - 2) x (W_pad / 2^J - 2)`` positions, kymatio's layout
(``scatgen.scattering.shapes``).  Two interchangeable backends compute the same numbers:
``kymatio`` (the reference) and ``fast`` (``FastScattering2D``: batched over filters, several
times faster on CPU, one gather per scale on CUDA).
"""

from __future__ import annotations

import torch
from torch import nn

from scatgen.scattering.fast import FastScattering2D
from scatgen.scattering.kymatio_compat import kymatio_scattering2d
from scatgen.scattering.shapes import scattering_out_shape, size_error

BACKENDS = ("fast", "kymatio")


def _pair(image_size) -> tuple[int, int]:
    return (int(image_size), int(image_size)) if isinstance(image_size, int) else tuple(int(s) for s in image_size)


def check_scattering_config(J: int, image_size: int | tuple[int, int], L: int = 8, max_order: int = 2) -> None:
    """Fail early, in one line, when ``J`` does not fit the image size (``2^J <= min(H, W)``) or
    ``L``, ``max_order`` make no transform."""
    problem = size_error(J, _pair(image_size))
    if problem:
        problem = problem.replace("use J<=", "use encoder.J<=").replace("a larger size", "a larger data.image_size")
        raise ValueError(f"encoder.{problem}")
    if L < 1:
        raise ValueError(f"encoder.L={L} must be >= 1 (the number of orientations; 8 is usual)")
    if max_order not in (1, 2):
        raise ValueError(f"encoder.max_order={max_order} is not supported; use 1 or 2")


def scattering_transform(backend: str, J: int, shape: tuple[int, int], L: int = 8, max_order: int = 2,
                         compile: bool = False, periodic: bool = False) -> nn.Module:
    """The one place a backend is chosen: ``fast`` (``FastScattering2D``; ``periodic`` for stationary
    textures) or ``kymatio`` (the reference, reflection-padded; its filters kept out of checkpoints,
    so that both backends load the same checkpoint)."""
    if backend not in BACKENDS:
        raise ValueError(f"encoder.backend={backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    if backend == "fast":
        return FastScattering2D(J, shape, L=L, max_order=max_order, compile=compile, periodic=periodic)
    transform = kymatio_scattering2d(J, shape, L=L, max_order=max_order)
    transform._non_persistent_buffers_set.update(name for name, _ in transform.named_buffers())
    return transform


class Scattering(nn.Module):
    """Frozen scattering transform of colour images (no parameters; filters are buffers)."""

    def __init__(self, J: int = 4, L: int = 8, max_order: int = 2, image_size: int | tuple[int, int] = 64,
                 channels: int = 3, backend: str = "fast", compile: bool = False):
        super().__init__()
        shape = _pair(image_size)
        check_scattering_config(J, shape, L, max_order)
        self.J, self.L, self.max_order, self.shape, self.channels, self.backend = J, L, max_order, shape, channels, backend
        self.transform = scattering_transform(backend, J, shape, L, max_order, compile)
        self.requires_grad_(False)

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """``(C K, H', W')``: the shape of one image's code."""
        k, h, w = scattering_out_shape(self.J, self.shape, self.L, self.max_order)
        return self.channels * k, h, w

    def config(self) -> dict:
        """Everything that changes the codes (the backend does not)."""
        return {"J": self.J, "L": self.L, "max_order": self.max_order, "shape": list(self.shape), "channels": self.channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.transform(x.contiguous())  # (B, C, K, H', W')
        return s.flatten(1, 2)
