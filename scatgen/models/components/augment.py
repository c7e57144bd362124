"""Differentiable augmentation for the GAN discriminator (DiffAugment, Zhao et al. 2020).

The same random translation and cutout are applied to real and generated images before the
discriminator sees them, and gradients flow through them to ``G``; so ``D`` cannot memorise the
few thousand training images, while ``G`` still learns the un-augmented distribution.  Colour
augmentations are left out on purpose: a polygon's colour is one of its mode labels.

- translation: each image shifted by up to ``translation * size`` pixels in x and y, the
  uncovered border filled with 0 (as the reference implementation);
- cutout: a square of side ``cutout * size`` at a random centre set to 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def translate(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Shift each image of ``x`` ``(B, C, H, W)`` by a random integer offset in ``[-ratio H, ratio H]``."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = (gx + tx + 1).clamp(0, h + 1)
    gy = (gy + ty + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2).contiguous()


def cut_out(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Zero a random ``ratio H x ratio W`` square of each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = (gx + ox - ch // 2).clamp(0, h - 1)
    gy = (gy + oy - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


class DiffAugment(torch.nn.Module):
    """``translation`` then ``cutout`` (either 0 to leave it out)."""

    def __init__(self, translation: float = 0.125, cutout: float = 0.5):
        super().__init__()
        self.translation, self.cutout = translation, cutout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.translation:
            x = translate(x, self.translation)
        if self.cutout:
            x = cut_out(x, self.cutout)
        return x
