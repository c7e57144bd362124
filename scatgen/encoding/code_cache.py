"""The encoding stage on disk: ``z = L S_J x`` for both splits of a data set, computed once.

``<cache_dir>/codes-<key>/`` holds ``z_train.npy`` and ``z_test.npy`` (memory-mapped), the
whitening operator ``whitening.pt`` (the same state dict as the model's ``whitening.*`` buffers,
so checkpoint and cache hold one ``L``), and ``manifest.json``.  The key hashes everything that
changes the codes: the data set and its config, the encoder config, the whitening config, the
storage dtype and the format version.

Building streams over the images in batches (bounded memory): ``S_J x`` of the training split
goes to a temporary file, ``L`` is fitted over it (``PCAWhitening.fit``), then ``z`` is written;
the test split is encoded with that ``L``.  Codes that are not finite are refused.  The directory
is written atomically (``scatgen.storage.artefacts``) and every file is verified on load.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from scatgen.data.datasets import images_to_tensor
from scatgen.data.source import ImageSource
from scatgen.scattering.transform import Scattering
from scatgen.encoding.whitening import PCAWhitening, check_whitening_config, n_passes
from scatgen.errors import ConfigError
from scatgen.storage.arrays import NpyWriter, npy_rows, read_rows
from scatgen.storage.artefacts import (CorruptArtefact, atomic_write_dir, config_hash, load_or_build, read_verified,
                                       write_manifest)

log = logging.getLogger(__name__)

DTYPES = {"float32": np.float32, "float16": np.float16}
FORMAT = 2  # 2: whole-file checksums, whitening digest in the manifest


class CodeCache:
    """Whitened codes of a data set, built on first use and verified on every load."""

    def __init__(self, cache_dir: str | Path, source: ImageSource, encoder: Scattering, whitening_config: dict,
                 dtype: str = "float32", batch_size: int = 64, device: str | torch.device = "cpu", progress: bool = True):
        if dtype not in DTYPES:
            raise ConfigError(f"data.code_dtype={dtype!r} is unknown; use one of {', '.join(DTYPES)}")
        self.cache_dir, self.source, self.encoder = Path(cache_dir), source, encoder
        self.whitening_config, self.dtype, self.batch_size = dict(whitening_config), dtype, batch_size
        self.device, self.progress = torch.device(device), progress

    @property
    def key(self) -> str:
        return config_hash({"source": self.source.name, "data": self.source.config(), "encoder": self.encoder.config(),
                            "whitening": self.whitening_config, "dtype": self.dtype, "format": FORMAT})

    @property
    def directory(self) -> Path:
        return self.cache_dir / f"codes-{self.key}"

    # -- public -------------------------------------------------------------------------------
    def load_or_build(self, whitening: PCAWhitening) -> dict[str, np.ndarray]:
        """``{"train": z_train, "test": z_test}`` memory maps.  ``whitening`` leaves fitted: with the
        cache's ``L`` when the cache exists, else fitted here on the training codes."""
        return load_or_build(self.directory, lambda: self._load(whitening),
                             lambda: atomic_write_dir(self.directory, lambda tmp: self._build(tmp, whitening)),
                             "code cache")

    def load_matching(self, whitening: PCAWhitening) -> dict[str, np.ndarray] | None:
        """The cached codes if the cache exists and holds exactly this (fitted) ``L``, e.g. a
        checkpoint's; ``None`` otherwise (the caller then encodes with its own ``L``)."""
        try:
            manifest, arrays = read_verified(self.directory, {"key": self.key})
        except CorruptArtefact:
            return None
        if manifest.get("whitening_digest") != whitening.digest():
            log.warning("the code cache %s holds another whitening L than the checkpoint: encoding with the "
                        "checkpoint's L instead", self.directory)
            return None
        return self._splits(arrays, whitening.z_dim)

    # -- internals ----------------------------------------------------------------------------
    def _splits(self, arrays: dict[str, np.ndarray], z_dim: int) -> dict[str, np.ndarray]:
        for split in ("train", "test"):
            n = len(self.source.split(split)[0])
            if f"z_{split}" not in arrays or arrays[f"z_{split}"].shape != (n, z_dim):
                raise CorruptArtefact(f"{self.directory}: z_{split} does not hold {n} codes of {z_dim}")
        return {"train": arrays["z_train"], "test": arrays["z_test"]}

    def _load(self, whitening: PCAWhitening) -> dict[str, np.ndarray]:
        manifest, arrays = read_verified(self.directory, {"key": self.key})
        try:
            state = torch.load(self.directory / "whitening.pt", map_location="cpu", weights_only=True)
            whitening.load_state_dict(state)
        except (OSError, RuntimeError, KeyError) as err:
            raise CorruptArtefact(f"{self.directory}/whitening.pt is unreadable ({type(err).__name__})") from None
        if whitening.digest() != manifest.get("whitening_digest"):
            raise CorruptArtefact(f"{self.directory}/whitening.pt does not match the manifest")
        return self._splits(arrays, whitening.z_dim)

    @torch.no_grad()
    def _encode(self, split: str):
        """Scattering codes ``S_J x`` of a split's images, batch by batch, on ``self.device``, with a
        progress bar; the images are read with plain file reads, so memory stays bounded."""
        path = self.source.image_file(split)
        encoder = self.encoder.to(self.device)
        with tqdm(total=npy_rows(path), desc=f"encode {split}", unit="img", disable=not self.progress,
                  dynamic_ncols=True) as bar:
            for start in range(0, bar.total, self.batch_size):
                x = images_to_tensor(read_rows(path, start, start + self.batch_size)).to(self.device)
                yield encoder(x)
                bar.update(len(x))

    @staticmethod
    def _stream(path: Path, batch: int = 512):
        """A re-iterable stream of a ``.npy`` in batches of tensors (one pass per call)."""
        def batches():
            for start in range(0, npy_rows(path), batch):
                yield torch.from_numpy(read_rows(path, start, start + batch).copy())
        return batches

    @torch.no_grad()
    def _build(self, tmp: Path, whitening: PCAWhitening) -> None:
        n_train = npy_rows(self.source.image_file("train"))
        n_test = npy_rows(self.source.image_file("test"))
        raw_path, z_dim, dtype = tmp / "raw_train.npy", whitening.z_dim, DTYPES[self.dtype]
        try:  # the number of training images is known for sure only now (real data sets skip files)
            check_whitening_config(whitening.n_components, whitening.mode, self.encoder.code_shape, n_train)
        except ValueError as err:
            raise ConfigError(str(err)) from None
        # Stage 1: S_J x of the training images (a temporary file, not kept).
        t = time.perf_counter()
        with NpyWriter(raw_path, (n_train, *self.encoder.code_shape), np.float32, finite=True) as raw:
            for s in self._encode("train"):
                raw.write(s.cpu().numpy())
        log.info("S_J x of %d training images encoded on %s in %.1f s", n_train, self.device, time.perf_counter() - t)
        # Stage 2: fit L on them.
        log.info("fitting %s PCA (%s, %d pass(es)) on %d codes of %d numbers", whitening.mode, whitening.solver,
                 n_passes(whitening), n_train, int(np.prod(self.encoder.code_shape)))
        t = time.perf_counter()
        whitening.cpu().fit(self._stream(raw_path))
        log.info("PCA fitted in %.1f s", time.perf_counter() - t)
        # Stage 3: z = L S_J x for both splits.
        with NpyWriter(tmp / "z_train.npy", (n_train, z_dim), dtype, finite=True) as z_train:
            for s in self._stream(raw_path)():
                z_train.write(whitening(s).numpy())
        raw_path.unlink()
        on_device = whitening.to(self.device)
        with NpyWriter(tmp / "z_test.npy", (n_test, z_dim), dtype, finite=True) as z_test:
            for s in self._encode("test"):
                z_test.write(on_device(s).cpu().numpy())
        whitening.cpu()
        buffer = io.BytesIO()
        torch.save(whitening.state_dict(), buffer)
        (tmp / "whitening.pt").write_bytes(buffer.getvalue())
        write_manifest(tmp, ["z_train", "z_test"], {
            "key": self.key, "whitening_digest": whitening.digest(), "encoder": self.encoder.config(),
            "whitening": self.whitening_config, "data": self.source.config(), "format": FORMAT})
