"""Image grids (torchvision): reconstructions beside inputs, samples, interpolation strips."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from scatgen.data.datasets import to_unit


def save_png(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Save images in ``[-1, 1]`` as one PNG grid."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(to_unit(images.detach().cpu().float()), path, nrow=nrow, padding=2, pad_value=1.0)
    return path


def side_by_side(x: torch.Tensor, x_hat: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Rows of inputs, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, len(x), nrow):
        rows += [x[start:start + nrow], x_hat[start:start + nrow]]
    return torch.cat(rows)
