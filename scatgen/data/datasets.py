"""Torch datasets over prepared arrays: images (and whitened codes ``z``) fetched a batch at a time."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(B, H, W, C)`` -> float ``(B, C, H, W)`` in ``[-1, 1]``."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).permute(0, 3, 1, 2).float()
    return x.div_(127.5).sub_(1.0)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Images in ``[-1, 1]`` -> ``[0, 1]`` (the range in which PSNR is reported)."""
    return ((x + 1) / 2).clamp(0, 1)


def identity_collate(batch):
    """The batch as the dataset returned it (``__getitems__`` already collates; decode keeps a list)."""
    return batch


class ArrayDataset(Dataset):
    """``(z, x)`` pairs when codes are given, else ``(x,)``; ``x`` in ``[-1, 1]``, ``(C, H, W)``.

    ``__getitems__`` reads a whole batch with one sorted fancy index into the memory maps, which
    is far cheaper than one read per image; use it with ``identity_collate``.
    """

    def __init__(self, images: np.ndarray, codes: np.ndarray | None = None, labels: np.ndarray | None = None):
        if codes is not None and len(codes) != len(images):
            raise ValueError(f"{len(codes)} codes for {len(images)} images")
        self.images, self.codes, self.labels = images, codes, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices):
        idx = np.asarray(indices)
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        x = images_to_tensor(self.images[sorted_idx][inverse])
        if self.codes is None:
            return (x,)
        z = torch.from_numpy(np.asarray(self.codes[sorted_idx][inverse], dtype=np.float32))
        return z, x

    def __getitem__(self, index: int):
        return tuple(t[0] for t in self.__getitems__([index]))
