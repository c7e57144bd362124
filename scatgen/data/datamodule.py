"""The LightningDataModule shared by all models: images, and whitened codes when a model needs them.

``prepare_data`` (rank 0 only under DDP) renders or checks the data set and builds the code
cache; ``setup`` opens both as memory maps on every process.  Validation uses the first
``val_size`` test images; the final evaluation of a run uses the full splits.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from scatgen.data.datasets import ArrayDataset, identity_collate
from scatgen.data.source import ImageSource
from scatgen.encoders.code_cache import CodeCache
from scatgen.encoders.scattering import Scattering
from scatgen.encoders.whitening import PCAWhitening


class GenerativeDataModule(L.LightningDataModule):
    def __init__(self, source: ImageSource, batch_size: int = 64, num_workers: int = 0, val_size: int = 1024,
                 cache_dir: str | Path = "data/cache", code_dtype: str = "float32", encode_batch_size: int = 64,
                 encoder: Scattering | None = None, whitening: PCAWhitening | None = None, with_codes: bool = True,
                 encode_device: str = "cpu"):
        super().__init__()
        self.source, self.batch_size, self.num_workers, self.val_size = source, batch_size, num_workers, val_size
        self.with_codes = with_codes and encoder is not None and whitening is not None
        self.cache = CodeCache(cache_dir, source, encoder, whitening, code_dtype, encode_batch_size, encode_device) \
            if self.with_codes else None
        self.codes: dict[str, np.ndarray] = {}

    def prepare_data(self) -> None:
        self.source.prepare()
        if self.cache is not None:
            self.cache.load_or_build()

    def setup(self, stage: str | None = None) -> None:
        self.source.prepare()
        if self.cache is not None and not self.codes:
            self.codes = self.cache.load_or_build()

    def dataset(self, split: str, limit: int | None = None) -> ArrayDataset:
        images, labels = self.source.split(split)
        codes = self.codes.get(split) if self.with_codes else None
        if limit is not None:
            images, codes = images[:limit], (codes[:limit] if codes is not None else None)
            labels = labels[:limit] if labels is not None else None
        return ArrayDataset(images, codes, labels)

    def _loader(self, dataset: ArrayDataset, shuffle: bool, drop_last: bool = False) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, drop_last=drop_last,
                          num_workers=self.num_workers, collate_fn=identity_collate,
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        return self._loader(dataset, shuffle=True, drop_last=len(dataset) > self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test", self.val_size), shuffle=False)

    def split_loader(self, split: str, limit: int | None = None) -> DataLoader:
        """Deterministic loader over a whole split (for the final evaluation)."""
        return self._loader(self.dataset(split, limit), shuffle=False)

    def fixed_batch(self, split: str, n: int = 16) -> tuple[torch.Tensor, ...]:
        """The first ``n`` items of a split: the same images in every grid of a run."""
        return self.dataset(split, n).__getitems__(list(range(min(n, len(self.source.split(split)[0])))))
