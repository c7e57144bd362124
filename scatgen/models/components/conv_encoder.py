"""The down-sampling mirror of the generator: the VAE encoder and the GAN discriminator.

image ``(B, C, S, S)`` -> conv -> ``n`` blocks of (strided conv /2, norm, LeakyReLU) down to a
``b x b`` map -> linear -> ``out_dim``.  ``depth = 2`` puts a 3x3 conv (norm, LeakyReLU) before each
strided one, as SN-GAN's CNN discriminator (Miyato et al. 2018, table 3) does.  Channels double at each block from ``width`` up to
``width * min(2^n, max_mult)``: the generator's widths in reverse.  Spectral norm (Miyato et al.
2018) is an option for discriminators; with it the batch norm is left out.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as sn


class ConvEncoder(nn.Module):
    def __init__(self, out_dim: int, image_size: int = 64, channels: int = 3, width: int = 32, kernel_size: int = 3,
                 base_size: int = 4, max_mult: int = 8, spectral_norm: bool = False, depth: int = 1):
        super().__init__()
        n_down = int(math.log2(image_size / base_size))
        if base_size * 2**n_down != image_size:
            raise ValueError(f"image_size={image_size} is not base_size={base_size} times a power of 2")
        if depth not in (1, 2):
            raise ValueError(f"depth={depth} must be 1 (strided convs only) or 2 (a 3x3 conv before each)")
        widths = [width * min(2**i, max_mult) for i in range(n_down + 1)]
        wrap = sn if spectral_norm else (lambda m: m)
        pad = kernel_size // 2
        layers = [wrap(nn.Conv2d(channels, widths[0], kernel_size, padding=pad)), nn.LeakyReLU(0.2, inplace=True)]
        for i in range(n_down):
            if depth == 2:
                layers += [wrap(nn.Conv2d(widths[i], widths[i], kernel_size, padding=pad, bias=spectral_norm))]
                layers += [] if spectral_norm else [nn.BatchNorm2d(widths[i])]
                layers += [nn.LeakyReLU(0.2, inplace=True)]
            layers += [wrap(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=spectral_norm))]
            if not spectral_norm:
                layers += [nn.BatchNorm2d(widths[i + 1])]
            layers += [nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(widths[-1] * base_size * base_size, out_dim))
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.contiguous(memory_format=torch.channels_last)).flatten(1))
