"""The fixed scattering encoder ``S_J``: colour images ``(B, C, H, W)`` -> codes ``(B, C K, H', W')``.

Each colour channel is scattered separately with ``K = 1 + J L + L^2 J (J - 1) / 2`` channels
(order 2) at ``H' x W' = (H_pad / 2^J - 2) x (W_pad / 2^J - 2)`` positions, kymatio's layout.
Two interchangeable backends compute the same numbers: ``kymatio`` (the reference) and ``fast``
(``FastScattering2D``: batched over filters, several times faster on CPU).
"""

from __future__ import annotations

import torch
from torch import nn

from scatgen.encoders.fast_scattering import FastScattering2D, scattering_out_shape

BACKENDS = ("fast", "kymatio")


def check_scattering_config(J: int, image_size: int | tuple[int, int]) -> None:
    """Fail early, in one line, when ``J`` does not fit the image size."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    if J < 1:
        raise ValueError(f"encoder.J={J} must be >= 1")
    if h % 2**J or w % 2**J:
        fit = max(j for j in range(1, 8) if h % 2**j == 0 and w % 2**j == 0) if h % 2 == 0 and w % 2 == 0 else 0
        hint = f"use encoder.J<={fit}" if fit else "use an even image size"
        raise ValueError(
            f"encoder.J={J} is too large for image size {h}x{w}: the scattering needs the image size "
            f"divisible by 2^J={2**J}; {hint} or change data.image_size"
        )


class Scattering(nn.Module):
    """Frozen scattering transform of colour images (no parameters; filters are buffers)."""

    def __init__(self, J: int = 4, L: int = 8, max_order: int = 2, image_size: int | tuple[int, int] = 64,
                 channels: int = 3, backend: str = "fast", compile: bool = False):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"encoder.backend={backend!r} is unknown; use one of {', '.join(BACKENDS)}")
        shape = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        check_scattering_config(J, shape)
        self.J, self.L, self.max_order, self.shape, self.channels, self.backend = J, L, max_order, shape, channels, backend
        if backend == "fast":
            self.transform = FastScattering2D(J, shape, L=L, max_order=max_order, compile=compile)
        else:
            from kymatio.torch import Scattering2D

            self.transform = Scattering2D(J, shape, L=L, max_order=max_order)
            # kymatio registers its filters as persistent buffers; they are fixed maths, not state:
            # keep them out of checkpoints so that both backends load the same checkpoint.
            self.transform._non_persistent_buffers_set.update(name for name, _ in self.transform.named_buffers())
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
