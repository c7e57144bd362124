"""The LightningDataModule shared by all models: images, and the whitened codes ``z`` when the
pipeline attaches them (``attach_codes``; the data package knows nothing of encoders).

``prepare_data`` renders or checks the data set; ``setup`` opens it as memory maps on every
process.  Validation holds out the last ``val_size`` images of the *training* split (never the
test split, so that checkpoint selection and sweeps never see test images); the model trains on
the rest.  The final evaluation of a run uses the full train and test splits.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from scatgen.data.datasets import ArrayDataset, identity_collate
from scatgen.data.source import ImageSource
from scatgen.errors import ConfigError

SPLITS = ("train", "val", "test")


class GenerativeDataModule(L.LightningDataModule):
    def __init__(self, source: ImageSource, batch_size: int = 64, num_workers: int = 0, val_size: int = 1024):
        super().__init__()
        self.source, self.batch_size, self.num_workers, self.val_size = source, batch_size, num_workers, val_size
        self.codes: dict[str, np.ndarray] | None = None

    def attach_codes(self, codes: dict[str, np.ndarray] | None) -> None:
        """``{"train": z, "test": z}`` aligned with the images (or ``None``: images only)."""
        self.codes = codes

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        self.source.prepare()
        n = len(self.source.split("train")[0])
        if not 0 <= self.val_size < n:
            raise ConfigError(f"data.val_size={self.val_size} leaves no training images out of the {n} of the "
                              f"train split; use data.val_size<={max(n // 8, 1)}")

    def _rows(self, split: str) -> slice:
        """The rows of the source's split that make ``split``: val is the tail of train."""
        n = len(self.source.split("train" if split == "val" else split)[0])
        if split == "train":
            return slice(0, n - self.val_size)
        if split == "val":
            return slice(n - self.val_size, n)
        return slice(0, n)

    def dataset(self, split: str, limit: int | None = None) -> ArrayDataset:
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is unknown; use one of {', '.join(SPLITS)}")
        stored = "train" if split == "val" else split
        rows = self._rows(split)
        if limit is not None:
            rows = slice(rows.start, min(rows.stop, rows.start + limit))
        images, labels = self.source.split(stored)
        codes = self.codes[stored][rows] if self.codes is not None else None
        return ArrayDataset(images[rows], codes, labels[rows] if labels is not None else None)

    def _loader(self, dataset: ArrayDataset, shuffle: bool, drop_last: bool = False) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, drop_last=drop_last,
                          num_workers=self.num_workers, collate_fn=identity_collate,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        return self._loader(dataset, shuffle=True, drop_last=len(dataset) > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"), shuffle=False)

    def split_loader(self, split: str, limit: int | None = None) -> DataLoader:
        """Deterministic loader over a whole split (for the final evaluation)."""
        return self._loader(self.dataset(split, limit), shuffle=False)

    def fixed_batch(self, split: str, n: int = 16) -> tuple[torch.Tensor, ...]:
        """The first ``n`` items of a split: the same images in every grid of a run."""
        dataset = self.dataset(split, n)
        return dataset.__getitems__(list(range(len(dataset))))
