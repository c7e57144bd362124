"""Image grids (torchvision): reconstructions beside inputs, samples, interpolation strips."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torchvision.utils import save_image

from scatgen.data.datasets import to_unit
from scatgen.storage.artefacts import atomic_write_bytes


def save_png(images: torch.Tensor, path: str | Path, nrow: int = 8) -> Path:
    """Save images in ``[-1, 1]`` as one PNG grid (atomically: a full disk is one line)."""
    buffer = io.BytesIO()
    save_image(to_unit(images.detach().cpu().float()), buffer, format="png", nrow=nrow, padding=2, pad_value=1.0)
    return atomic_write_bytes(Path(path), buffer.getvalue())


def side_by_side(x: torch.Tensor, x_hat: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """Rows of inputs, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, len(x), nrow):
        rows += [x[start:start + nrow], x_hat[start:start + nrow]]
    return torch.cat(rows)
