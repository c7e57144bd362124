"""The LightningDataModule shared by all models: images, and the whitened codes ``z`` when the
pipeline attaches them (``attach_codes``; the data package knows nothing of encoders).

``prepare_data`` renders or checks the data set; ``setup`` opens it as memory maps on every
process.  Validation holds out the last ``val_size`` images of the *training* split (never the
test split, so that checkpoint selection and sweeps never see test images); the model trains on
the rest.  ``val_size=None`` (the default) holds out ``min(512, n // 10)`` of the ``n`` training
images, so small data sets work without a setting.  The final evaluation of a run uses the full
train and test splits.
"""

from __future__ import annotations

import logging

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from scatgen.data.datasets import ArrayDataset, identity_collate
from scatgen.data.source import ImageSource
from scatgen.errors import ConfigError

log = logging.getLogger(__name__)

LOADER_SPLITS = ("train", "val", "test")
DEFAULT_VAL_SIZE, DEFAULT_VAL_SHARE = 512, 10  # val_size=None: min(512, a tenth of the train split)


class EpochPermutation(Sampler[int]):
    """Row order of one epoch: ``randperm(n)`` from a generator seeded by ``(seed, epoch)``; its first
    iteration skips ``skip()`` batches of ``batch_size`` rows (those a resumed run already trained)."""

    def __init__(self, n: int, seed: int, batch_size: int, skip=lambda: 0):
        self.n, self.seed, self.batch_size, self.skip, self.epoch = n, seed, batch_size, skip, 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at the start of every epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=generator)
        start, self.skip = self.skip() * self.batch_size, lambda: 0  # only the first epoch after a resume skips
        return iter(order[start:].tolist())


class ResumableLoader(DataLoader):
    """A DataLoader that Lightning treats as resumable: its order is a function of the seed and the
    epoch (``EpochPermutation``), so there is no state to keep beyond what Lightning's progress
    counters already hold."""

    def state_dict(self) -> dict:
        return {"sampler": type(self.sampler).__name__, "seed": getattr(self.sampler, "seed", None)}

    def load_state_dict(self, state: dict) -> None:
        pass


class GenerativeDataModule(L.LightningDataModule):
    def __init__(self, source: ImageSource, batch_size: int = 64, num_workers: int = 0, val_size: int | None = None,
                 shuffle_seed: int | None = 0):
        super().__init__()
        self.source, self.batch_size, self.num_workers = source, batch_size, num_workers
        self.shuffle_seed = shuffle_seed or 0
        self.val_size_setting = val_size
        self.codes: dict[str, np.ndarray] | None = None

    @property
    def val_size(self) -> int:
        """The held-out validation rows: the setting, or ``min(512, n // 10)`` of ``n`` training images."""
        if self.val_size_setting is not None:
            return self.val_size_setting
        return min(DEFAULT_VAL_SIZE, len(self.source.split("train")[0]) // DEFAULT_VAL_SHARE)

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
        if self.val_size_setting is None and stage in (None, "fit"):
            log.info("data.val_size=null: validating on the last %d of the %d training images (min(%d, n/%d)); "
                     "give data.val_size=N to choose", self.val_size, n, DEFAULT_VAL_SIZE, DEFAULT_VAL_SHARE)

    def _rows(self, split: str) -> slice:
        """The rows of the source's split that make ``split``: val is the tail of train."""
        n = len(self.source.split("train" if split == "val" else split)[0])
        if split == "train":
            return slice(0, n - self.val_size)
        if split == "val":
            return slice(n - self.val_size, n)
        return slice(0, n)

    def dataset(self, split: str, limit: int | None = None) -> ArrayDataset:
        if split not in LOADER_SPLITS:
            raise ValueError(f"split={split!r} is unknown; use one of {', '.join(LOADER_SPLITS)}")
        stored = "train" if split == "val" else split
        rows = self._rows(split)
        if limit is not None:
            rows = slice(rows.start, min(rows.stop, rows.start + limit))
        images, labels = self.source.split(stored)
        codes = self.codes[stored][rows] if self.codes is not None else None
        return ArrayDataset(images[rows], codes, labels[rows] if labels is not None else None)

    def _loader(self, dataset: ArrayDataset, shuffle: bool = False, drop_last: bool = False, sampler=None,
                loader_class=DataLoader) -> DataLoader:
        return loader_class(dataset, batch_size=self.batch_size, shuffle=shuffle, sampler=sampler, drop_last=drop_last,
                            num_workers=self.num_workers, collate_fn=identity_collate,
                            persistent_workers=self.num_workers > 0)

    def _batches_done_this_epoch(self) -> int:
        """Batches of the current epoch that a run resumed mid-epoch already trained (else 0)."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or not trainer.fit_loop.restarted_mid_epoch:
            return 0
        return trainer.fit_loop.epoch_loop.batch_progress.current.completed

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        drop_last = len(dataset) > self.batch_size
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.world_size > 1:  # DDP: Lightning's DistributedSampler
            return self._loader(dataset, shuffle=True, drop_last=drop_last)
        sampler = EpochPermutation(len(dataset), self.shuffle_seed, self.batch_size, self._batches_done_this_epoch)
        return self._loader(dataset, drop_last=drop_last, sampler=sampler, loader_class=ResumableLoader)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"), shuffle=False)

    def split_loader(self, split: str, limit: int | None = None, batch_size: int | None = None) -> DataLoader:
        """Deterministic loader over a whole split (for the final evaluation), in batches of
        ``batch_size`` (``None``: ``data.batch_size``)."""
        loader = self._loader(self.dataset(split, limit), shuffle=False)
        if batch_size is None or batch_size == self.batch_size:
            return loader
        return DataLoader(loader.dataset, batch_size=batch_size, shuffle=False, num_workers=self.num_workers,
                          collate_fn=identity_collate)

    def fixed_batch(self, split: str, n: int = 16) -> tuple[torch.Tensor, ...]:
        """The first ``n`` items of a split: the same images in every grid of a run."""
        dataset = self.dataset(split, n)
        return dataset.__getitems__(list(range(len(dataset))))
