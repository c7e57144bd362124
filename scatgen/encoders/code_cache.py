"""On-disk cache of whitened scattering codes: encode once, reuse across epochs, runs and sweeps.

``<cache_dir>/codes-<key>/`` holds ``z_train.npy`` and ``z_test.npy`` (memory-mapped), the fitted
``whitening.pt`` and ``manifest.json``.  The key hashes everything that changes the codes: the
data set and its config, the encoder config, the whitening config, the storage dtype and the
library version.  Building streams over the images in batches (bounded memory): raw codes go to
a temporary memory map, the whitening is fitted over it, then ``z`` is written.  The directory
is renamed into place when complete, under a file lock, so concurrent runs never see half a
cache; an incomplete or corrupt one is reported in one line and rebuilt.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from tqdm.auto import tqdm

import scatgen
from scatgen.data.arrays import (CorruptArrays, NpyWriter, atomic_write_dir, config_hash, npy_rows, read_rows,
                                 read_verified, write_manifest)
from scatgen.data.datasets import images_to_tensor
from scatgen.data.source import ImageSource
from scatgen.encoders.scattering import Scattering
from scatgen.encoders.whitening import PCAWhitening, check_whitening_config, n_passes
from scatgen.errors import ConfigError

DTYPES = {"float32": np.float32, "float16": np.float16}


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


class CodeCache:
    """Whitened codes of a data set, built on first use and verified on every load."""

    def __init__(self, cache_dir: str | Path, source: ImageSource, encoder: Scattering, whitening: PCAWhitening,
                 dtype: str = "float32", batch_size: int = 64, device: str = "cpu", progress: bool = True):
        if dtype not in DTYPES:
            raise ValueError(f"data.code_dtype={dtype!r} is unknown; use one of {', '.join(DTYPES)}")
        self.cache_dir, self.source, self.encoder, self.whitening = Path(cache_dir), source, encoder, whitening
        self.dtype, self.batch_size, self.device, self.progress = dtype, batch_size, device, progress

    @property
    def key(self) -> str:
        return config_hash({"source": self.source.name, "data": self.source.config(), "encoder": self.encoder.config(),
                            "whitening": self.whitening.config(), "dtype": self.dtype, "version": scatgen.__version__})

    @property
    def directory(self) -> Path:
        return self.cache_dir / f"codes-{self.key}"

    # -- public -------------------------------------------------------------------------------
    def load_or_build(self) -> dict[str, np.ndarray]:
        """``{"train": z_train, "test": z_test}`` memory maps; fits ``whitening`` in place."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.directory) + ".lock"):
            if self.directory.exists():
                try:
                    return self._load()
                except CorruptArrays as err:
                    print(f"[scatgen] code cache is unusable ({err}); rebuilding it")
            atomic_write_dir(self.directory, self._build)
            return self._load()

    # -- internals ----------------------------------------------------------------------------
    def _load(self) -> dict[str, np.ndarray]:
        manifest, arrays = read_verified(self.directory, {"key": self.key})
        wpath = self.directory / "whitening.pt"
        if not wpath.exists() or _file_digest(wpath) != manifest.get("whitening_digest"):
            raise CorruptArrays(f"{wpath} is missing or does not match the manifest")
        self.whitening.load_state_dict(torch.load(wpath, map_location="cpu", weights_only=True))
        for split in ("train", "test"):
            n = len(self.source.split(split)[0])
            if f"z_{split}" not in arrays or arrays[f"z_{split}"].shape != (n, self.whitening.z_dim):
                raise CorruptArrays(f"{self.directory}: z_{split} does not hold {n} codes of {self.whitening.z_dim}")
        return {"train": arrays["z_train"], "test": arrays["z_test"]}

    @torch.no_grad()
    def _encode(self, split: str):
        """Yield scattering codes of a split's images batch by batch, with a progress bar; the
        images are read with plain file reads, so memory stays bounded."""
        path = self.source.image_file(split)
        n = npy_rows(path)
        encoder = self.encoder.to(self.device)
        bar = tqdm(total=n, desc=f"encode {split}", unit="img", disable=not self.progress, dynamic_ncols=True)
        for start in range(0, n, self.batch_size):
            x = images_to_tensor(read_rows(path, start, start + self.batch_size)).to(self.device)
            yield encoder(x)
            bar.update(len(x))
        bar.close()

    @staticmethod
    def _stream(path: Path, batch: int = 512):
        """A re-iterable stream of a ``.npy`` in batches of tensors (one pass per call)."""
        def batches():
            n = npy_rows(path)
            for start in range(0, n, batch):
                yield torch.from_numpy(read_rows(path, start, start + batch).copy())
        return batches

    @torch.no_grad()
    def _build(self, tmp: Path) -> None:
        n_train = npy_rows(self.source.image_file("train"))
        n_test = npy_rows(self.source.image_file("test"))
        raw_path, z_dim, dtype = tmp / "raw_train.npy", self.whitening.z_dim, DTYPES[self.dtype]
        try:  # the number of training images is known for sure only now (real data sets skip files)
            check_whitening_config(self.whitening.n_components, self.whitening.mode, self.encoder.code_shape, n_train)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        with NpyWriter(raw_path, (n_train, *self.encoder.code_shape), np.float32) as raw:
            for s in self._encode("train"):
                raw.write(s.cpu().numpy())
        print(f"[scatgen] fitting {self.whitening.mode} PCA ({self.whitening.solver}, {n_passes(self.whitening)} pass(es)) "
              f"on {n_train} codes of {int(np.prod(self.encoder.code_shape))} numbers")
        t = time.perf_counter()
        self.whitening.cpu().fit(self._stream(raw_path))
        print(f"[scatgen] PCA fitted in {time.perf_counter() - t:.1f} s")
        with NpyWriter(tmp / "z_train.npy", (n_train, z_dim), dtype) as z_train:
            for s in self._stream(raw_path)():
                z_train.write(self.whitening(s).numpy())
        raw_path.unlink()
        whitening = self.whitening.to(self.device)
        with NpyWriter(tmp / "z_test.npy", (n_test, z_dim), dtype) as z_test:
            for s in self._encode("test"):
                z_test.write(whitening(s).cpu().numpy())
        self.whitening.cpu()
        torch.save(self.whitening.state_dict(), tmp / "whitening.pt")
        write_manifest(tmp, ["z_train", "z_test"], {
            "key": self.key, "whitening_digest": _file_digest(tmp / "whitening.pt"), "encoder": self.encoder.config(),
            "whitening": self.whitening.config(), "data": self.source.config(), "version": scatgen.__version__})
