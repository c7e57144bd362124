"""What every data set provides: prepared uint8 arrays per split, and the config that made them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scatgen.storage.artefacts import atomic_write_dir, config_hash, load_or_build, read_verified

PREPARED_SPLITS = ("train", "test")  # what prepare() writes (the validation set is cut from train)


class ImageSource:
    """Base of the data sets. Subclasses set ``name`` and implement ``config()`` and ``_build()``.

    ``prepare()`` builds ``<root>/<name>/<tag>-<hash>/`` once (under a file lock, atomically),
    and ``split(name)`` returns ``(images uint8 (N, H, W, C) memmap, labels or None)``.
    """

    name = "source"
    n_modes = 0  # > 0: images carry mode labels (polygons: 48), for the mode-dropping study

    def __init__(self, root: str | Path, image_size: int, n_train: int | None, n_test: int | None):
        self.root = Path(root)
        self.image_size, self.n_train, self.n_test = int(image_size), n_train, n_test
        self._arrays: dict[str, np.ndarray] | None = None
        self.manifest: dict = {}

    def config(self) -> dict:
        raise NotImplementedError

    def _build(self, directory: Path) -> None:
        """Write the arrays and manifest into ``directory`` (a temporary one)."""
        raise NotImplementedError

    @property
    def key(self) -> str:
        return config_hash({"source": self.name, **self.config()})

    @property
    def directory(self) -> Path:
        return self.root / self.name / f"{self.image_size}px-{self.key}"

    def prepare(self) -> Path:
        """Build the arrays if they are missing or corrupt; idempotent and safe across processes;
        a complete prepared directory on read-only storage is used as it is."""
        if self._arrays is None:
            self.manifest, self._arrays = load_or_build(
                self.directory, lambda: read_verified(self.directory, {"key": self.key}),
                lambda: atomic_write_dir(self.directory, self._build), f"prepared {self.name} data")
        return self.directory

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray | None]:
        if split not in PREPARED_SPLITS:
            raise ValueError(f"split={split!r} is unknown; use one of {', '.join(PREPARED_SPLITS)}")
        if self._arrays is None:
            self.prepare()
        images = self._arrays[f"{split}_images"]
        labels = self._arrays.get(f"{split}_labels")
        return images, labels

    # -- modes (sources without labelled modes keep these defaults) -------------------------
    def modes_of(self, labels: np.ndarray | None) -> np.ndarray | None:
        """Mode index in ``[0, n_modes)`` of each image, from its stored labels (``None``: no modes)."""
        return None

    def mode_axes(self) -> tuple[tuple[str, list], tuple[str, list]] | None:
        """The two factors that make the modes (rows, columns of a heatmap), or ``None``."""
        return None

    def render_labelled(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fresh images (uint8 ``(n, H, W, C)``) and their modes, for training a mode classifier."""
        raise NotImplementedError(f"{self.name} has no labelled modes")

    def render_off_modes(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` fresh images of *no* mode (uint8 ``(n, H, W, C)``; what a generator that misses the
        data draws), the mode classifier's reject class; ``None``: the classifier has none."""
        return None

    def rendering_key(self) -> dict:
        """What changes how rendered images look (the mode classifier's cache key)."""
        raise NotImplementedError(f"{self.name} has no labelled modes")

    def image_file(self, split: str) -> Path:
        """The ``.npy`` of a split's images (for streaming reads, see ``arrays.read_rows``)."""
        self.split(split)
        return self.directory / f"{split}_images.npy"
