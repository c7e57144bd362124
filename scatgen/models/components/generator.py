"""The generator ``G``: the one convolutional network every model shares.

``z (B, z_dim)`` -> linear -> ``(c_0, b, b)`` map -> ``n`` blocks of (bilinear x2 upsampling,
conv, BatchNorm, ReLU) -> conv -> tanh -> image ``(B, C, b 2^n, b 2^n)`` in ``[-1, 1]``.
Channels halve at each block from ``width * min(2^n, max_mult)`` down to ``width``.
The inverse-scattering generator, the VAE decoder and the GAN generator are this class.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, z_dim: int, image_size: int = 64, channels: int = 3, width: int = 32, kernel_size: int = 3,
                 base_size: int = 4, max_mult: int = 8, upsample: str = "bilinear"):
        super().__init__()
        n_up = math.log2(image_size / base_size)
        if n_up < 0 or n_up != int(n_up):
            raise ValueError(
                f"model.generator: image_size={image_size} is not base_size={base_size} times a power of 2; "
                f"set model.generator.base_size to a divisor such as {image_size // 2 ** int(max(n_up, 0))}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"model.generator.kernel_size={kernel_size} must be odd (same padding)")
        if upsample not in ("bilinear", "nearest"):
            raise ValueError(f"model.generator.upsample={upsample!r} is unknown; use bilinear or nearest")
        n_up = int(n_up)
        widths = [width * min(2 ** (n_up - i), max_mult) for i in range(n_up + 1)]
        self.z_dim, self.base_size = z_dim, base_size
        self.project = nn.Linear(z_dim, widths[0] * base_size * base_size)
        self.stem = nn.Sequential(nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        pad = kernel_size // 2
        self.blocks = nn.Sequential(*[
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode=upsample, align_corners=False if upsample == "bilinear" else None),
                nn.Conv2d(widths[i], widths[i + 1], kernel_size, padding=pad, bias=False),
                nn.BatchNorm2d(widths[i + 1]),
                nn.ReLU(inplace=True),
            )
            for i in range(n_up)
        ])
        self.to_image = nn.Conv2d(widths[-1], channels, kernel_size, padding=pad)
        self.to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z.flatten(1)).view(z.shape[0], -1, self.base_size, self.base_size)
        # channels-last runs the convolutions about 2x faster on CPU (oneDNN), more with bf16
        h = h.contiguous(memory_format=torch.channels_last)
        return torch.tanh(self.to_image(self.blocks(self.stem(h))))
