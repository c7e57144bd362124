"""Decode image files (or encoded bytes) into uint8 arrays at the target size, in parallel, skipping
the unreadable ones: the preparation step shared by CelebA, LSUN and image folders.

Each image is centre-cropped to a square (of side ``crop``, or the short side when ``crop`` is
None), resized with a Lanczos filter (anti-aliased) to ``size x size`` and converted to RGB.
A file that cannot be decoded (truncated JPEG, zero bytes, not an image) is skipped and
recorded, never silently replaced; so is an image whose square is smaller than
``MIN_SIDE_FRACTION`` (1/2) of ``size``, since upscaling it more than 2x would invent its detail.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from scatgen.data.datasets import identity_collate
from scatgen.storage.arrays import NpyWriter

log = logging.getLogger(__name__)

MIN_SIDE_FRACTION = 0.5  # images whose square side is below this fraction of ``size`` are skipped


class TooSmall(ValueError):
    """An image too small to be resized to the data set's size without inventing detail."""


DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


def center_square(img: Image.Image, size: int, crop: int | None = None) -> Image.Image:
    """Centre square crop (side ``crop`` or the short side), then a Lanczos resize to ``size``
    (anti-aliased when shrinking), in the image's own mode (``F`` keeps float precision)."""
    w, h = img.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    return img if side == size else img.resize((size, size), Image.LANCZOS)


def crop_resize(img: Image.Image, size: int, crop: int | None = None) -> np.ndarray:
    """``center_square`` of the RGB image: uint8 ``(S, S, 3)``; ``TooSmall`` for a square below
    ``MIN_SIDE_FRACTION * size``."""
    side = min(img.size) if crop is None else min(crop, *img.size)
    if side < MIN_SIDE_FRACTION * size:
        raise TooSmall(f"{img.size[0]}x{img.size[1]} is smaller than {MIN_SIDE_FRACTION:g} of data.image_size={size} "
                       "(upscaling would invent detail)")
    return np.asarray(center_square(img.convert("RGB"), size, crop), dtype=np.uint8)


def open_image(source: str | Path | bytes) -> Image.Image:
    img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    img.load()  # decode now: truncation and corruption surface here
    return img


class DecodeDataset(torch.utils.data.Dataset):
    """``items[i]`` -> ``(i, image or None, error or None)``; ``read(item)`` returns a path or bytes.
    ``read`` must be picklable (e.g. ``LMDBReader`` opens its environment lazily per worker)."""

    def __init__(self, items: Sequence, size: int, crop: int | None = None, read: Callable | None = None):
        self.items, self.size, self.crop, self.read = items, size, crop, read

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        item = self.items[i]
        try:
            data = self.read(item) if self.read is not None else item
            if data is None:
                raise OSError("missing entry")
            return i, crop_resize(open_image(data), self.size, self.crop), None
        except DECODE_ERRORS as err:
            return i, None, f"{item}: {err}"


def decode_to_npy(path: Path, dataset: DecodeDataset, num_workers: int = 0, desc: str = "decode") -> tuple[int, list[str]]:
    """Decode every item of ``dataset`` in order into ``path`` (uint8 ``(N, S, S, 3)``), skipping and
    returning the failures. Workers decode in parallel; writes stay sequential."""
    s = dataset.size
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, num_workers=num_workers, collate_fn=identity_collate)
    skipped: list[str] = []
    with NpyWriter(path, (len(dataset), s, s, 3), np.uint8, allow_fewer=True) as writer:
        for batch in tqdm(loader, desc=desc, unit="batch", leave=False):
            good = [img for _, img, _ in batch if img is not None]
            skipped += [err for _, img, err in batch if img is None]
            if good:
                writer.write(np.stack(good))
        rows = writer.rows
    return rows, skipped


def report_skipped(skipped: list[str], total: int, what: str) -> None:
    if skipped:
        first = "; ".join(skipped[:3])
        log.warning("skipped %d unreadable or too small image(s) of %d in %s (first: %s)", len(skipped), total, what,
                    first)
