"""Real data sets read from the layouts they ship in: CelebA, LSUN bedrooms (LMDB), any image folder.

Each is turned once into prepared uint8 arrays (``<prepared_dir>/<name>/<size>px-<hash>/``, see
``arrays.py``) that training memory-maps, instead of decoding JPEG/WebP every epoch.  Missing data
raise ``DataNotFound`` with one line: the exact path expected, the layout, and the command.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from scatgen.storage.artefacts import atomic_write_bytes, write_manifest
from scatgen.data.decode import DecodeDataset, decode_to_npy, report_skipped
from scatgen.data.source import ImageSource
from scatgen.errors import ConfigError, DataNotFound

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".ppm", ".tif", ".tiff")


class PreparedSource(ImageSource):
    """A source whose raw files live in ``root`` and whose prepared arrays go to ``prepared_dir``."""

    def __init__(self, root, image_size: int, n_train: int | None, n_test: int | None, prepared_dir=None,
                 num_workers: int = 2, crop: int | None = None):
        super().__init__(Path(prepared_dir) if prepared_dir else Path(root), image_size, n_train, n_test)
        self.raw_root = Path(root).expanduser()
        self.num_workers, self.crop = num_workers, crop

    def config(self) -> dict:
        """What changes the prepared arrays: the shared settings plus ``_config_extra()``."""
        return {"root": str(self.raw_root.resolve()), "image_size": self.image_size, "crop": self.crop,
                "n_train": self.n_train, "n_test": self.n_test, "format": 1, **self._config_extra()}

    def _config_extra(self) -> dict:
        return {}

    def prepare_hint(self) -> str:
        return f"python scripts/prepare_data.py data={self.name} data.root={self.raw_root}"

    def _splits(self) -> dict[str, tuple[list, object]]:
        """``{split: (items, reader)}``: what to decode for each split."""
        raise NotImplementedError

    def _check_root(self) -> None:
        if self.raw_root.exists() and not self.raw_root.is_dir():
            raise DataNotFound(f"data.root={self.raw_root} is a file, not a folder: point data.root at the folder that "
                               f"holds the {self.name} data ({self.prepare_hint()})")

    def _build(self, directory: Path) -> None:
        self._check_root()
        splits = self._splits()
        if not splits["train"][0]:
            raise ConfigError(f"the test split takes every image of {self.raw_root} ({len(splits['test'][0])} with "
                              f"data.n_test={self.n_test}), leaving none to train on; lower data.n_test")
        names, skipped_all, counts = [], {}, {}
        for split, (items, reader) in splits.items():
            dataset = DecodeDataset(items, self.image_size, self.crop, reader)
            rows, skipped = decode_to_npy(directory / f"{split}_images.npy", dataset, self.num_workers, f"prepare {split}")
            report_skipped(skipped, len(items), f"{self.name} {split}")
            if rows == 0:
                raise DataNotFound(f"none of the {len(items)} files of the {split} split of {self.raw_root} is a readable "
                                   f"image ({len(skipped)} skipped: see the warning above)")
            names.append(f"{split}_images")
            skipped_all[split], counts[split] = skipped, rows
        write_manifest(directory, names, {"key": self.key, "source": self.name, "config": self.config(),
                                          "counts": counts, "skipped": skipped_all})


def _limit(items: list, n: int | None) -> list:
    return items if n is None else items[:n]


class CelebA(PreparedSource):
    """CelebA in torchvision's layout: ``<root>/celeba/img_align_celeba/*.jpg`` and
    ``<root>/celeba/list_eval_partition.txt`` (``name partition``, 0 train, 1 valid, 2 test).
    The official partition is used; the aligned 178x218 faces are centre-cropped to ``crop``."""

    name = "celeba"
    PARTITIONS = {"train": 0, "valid": 1, "test": 2}

    def __init__(self, root="data", image_size: int = 64, crop: int = 148, n_train: int | None = None,
                 n_test: int | None = None, test_partition: str = "test", download: bool = False,
                 prepared_dir=None, num_workers: int = 2):
        super().__init__(root, image_size, n_train, n_test, prepared_dir, num_workers, crop)
        if test_partition not in ("valid", "test"):
            raise ValueError(f"data.test_partition={test_partition!r} must be valid or test")
        self.test_partition, self.download = test_partition, download

    def _config_extra(self) -> dict:
        return {"test_partition": self.test_partition}

    def _splits(self):
        base = self.raw_root / "celeba"
        images, partition = base / "img_align_celeba", base / "list_eval_partition.txt"
        if self.download and not partition.exists():
            import torchvision

            torchvision.datasets.CelebA(str(self.raw_root), split="all", download=True)
        if not images.is_dir() or not partition.is_file():
            missing = images if not images.is_dir() else partition
            raise DataNotFound(
                f"CelebA not found: {missing} does not exist; expected {images}/*.jpg and {partition} "
                f"(torchvision's CelebA layout); put the files there (or set data.download=true) and run "
                f"{self.prepare_hint()}")
        listed: dict[int, list[str]] = {0: [], 1: [], 2: []}
        for n, line in enumerate(partition.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                name, part = line.split()
                listed[int(part)].append(name)
            except (ValueError, KeyError):
                raise DataNotFound(f"{partition}:{n}: expected '<image name> <0|1|2>', got {line!r}") from None
        on_disk = {p.name for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
        all_listed = [name for names in listed.values() for name in names]
        for name in all_listed:
            if name not in on_disk:
                raise DataNotFound(f"{partition} lists {name}, which is not in {images}: the partition file does not match the images")
        unlisted = sorted(on_disk - set(all_listed))
        if unlisted:
            raise DataNotFound(f"{images / unlisted[0]} is not listed in {partition}: the partition file does not match the images")
        train = _limit(sorted(listed[0]), self.n_train)
        test = _limit(sorted(listed[self.PARTITIONS[self.test_partition]]), self.n_test)
        return {"train": ([images / n for n in train], None), "test": ([images / n for n in test], None)}


class ImageFolder(PreparedSource):
    """Any folder tree of images, split into train and test by a seeded permutation."""

    name = "image_folder"

    def __init__(self, root="data/images", image_size: int = 64, crop: int | None = None, n_train: int | None = None,
                 n_test: int | None = None, test_fraction: float = 0.1, seed: int = 0, prepared_dir=None,
                 num_workers: int = 2):
        super().__init__(root, image_size, n_train, n_test, prepared_dir, num_workers, crop)
        self.test_fraction, self.seed = test_fraction, seed

    def _config_extra(self) -> dict:
        return {"test_fraction": self.test_fraction, "seed": self.seed, "files": self._fingerprint()}

    def _files(self) -> list[Path]:
        self._check_root()
        if not self.raw_root.is_dir():
            raise DataNotFound(f"image folder {self.raw_root} does not exist; point data.root at a folder tree of images "
                               f"({', '.join(IMAGE_EXTENSIONS)}) and run {self.prepare_hint()}")
        files = sorted(p for p in self.raw_root.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataNotFound(f"image folder {self.raw_root} holds no files; put images in it and run {self.prepare_hint()}")
        return files

    def _fingerprint(self) -> str:
        """Names and sizes of the files: a changed folder prepares anew."""
        if getattr(self, "_fp", None) is None:
            h = hashlib.sha256()
            for p in self._files():
                h.update(f"{p.relative_to(self.raw_root)}:{p.stat().st_size}".encode())
            self._fp = h.hexdigest()[:16]
        return self._fp

    def _splits(self):
        # Every file is tried (a non-image file is reported and skipped, not silently ignored).
        files = self._files()
        order = np.random.default_rng(self.seed).permutation(len(files))
        n_test = self.n_test if self.n_test is not None else max(1, round(self.test_fraction * len(files)))
        if n_test >= len(files):
            raise ConfigError(f"data.n_test={n_test} takes all {len(files)} files of {self.raw_root}, leaving none to "
                              f"train on; use data.n_test<={len(files) - 1} (10% is {max(1, len(files) // 10)})")
        test = [files[i] for i in order[:n_test]]
        train = _limit([files[i] for i in order[n_test:]], self.n_train)
        return {"train": (train, None), "test": (test, None)}


_OPEN_ENVS: dict[tuple[int, str], object] = {}


def _open_lmdb(path: Path):
    """One read-only environment per database and process (LMDB refuses a second open)."""
    import lmdb

    key = (os.getpid(), str(Path(path).resolve()))
    if key not in _OPEN_ENVS:
        _OPEN_ENVS[key] = lmdb.open(key[1], readonly=True, lock=False, readahead=False, meminit=False)
    return _OPEN_ENVS[key]


class LMDBReader:
    """Reads values of an LMDB by key. The environment is opened lazily in each process and is
    never pickled, so a reader can go to DataLoader workers (an open LMDB cannot)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __call__(self, key: bytes) -> bytes | None:
        with _open_lmdb(self.path).begin(write=False) as txn:
            return txn.get(key)


def lmdb_keys(path: Path, index_dir: Path) -> list[bytes]:
    """All keys of an LMDB, listed once and kept in ``index_dir`` (not the working directory):
    listing LSUN's 3 million keys takes minutes, so it is done once per database."""
    stamp = hashlib.sha256(f"{path.resolve()}:{(path / 'data.mdb').stat().st_mtime_ns}".encode()).hexdigest()[:16]
    index = Path(index_dir) / f"lmdb-keys-{stamp}.txt"
    if index.exists():
        return [bytes.fromhex(line) for line in index.read_text().split()]
    key = (os.getpid(), str(Path(path).resolve()))
    opened_here = key not in _OPEN_ENVS
    env = _open_lmdb(path)
    with env.begin(write=False) as txn:
        keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
    if opened_here:  # close it again: DataLoader workers forked later must open their own
        env.close()
        del _OPEN_ENVS[key]
    atomic_write_bytes(index, "\n".join(k.hex() for k in keys).encode())
    return keys


class LSUNBedroom(PreparedSource):
    """LSUN bedrooms from the LMDB folders it ships as: ``<root>/bedroom_train_lmdb`` (and
    ``bedroom_val_lmdb``, only 300 images). By default the test split is a fixed, seeded subset
    of train held out from training (``test_from=train``); ``test_from=val`` uses the val LMDB."""

    name = "lsun_bedroom"

    def __init__(self, root="data", image_size: int = 64, n_train: int | None = None, n_test: int | None = 1024,
                 test_from: str = "train", seed: int = 0, prepared_dir=None, num_workers: int = 2):
        super().__init__(root, image_size, n_train, n_test, prepared_dir, num_workers)  # square centre crop
        if test_from not in ("train", "val"):
            raise ValueError(f"data.test_from={test_from!r} must be train or val")
        self.test_from, self.seed = test_from, seed

    def _config_extra(self) -> dict:
        return {"test_from": self.test_from, "seed": self.seed}

    def _lmdb(self, split: str) -> Path:
        path = self.raw_root / f"bedroom_{split}_lmdb"
        if not (path / "data.mdb").is_file():
            raise DataNotFound(
                f"LSUN bedroom not found: {path / 'data.mdb'} does not exist; expected the LMDB folders "
                f"{self.raw_root}/bedroom_train_lmdb and bedroom_val_lmdb as LSUN ships them; then run {self.prepare_hint()}")
        return path

    def _splits(self):
        train_db = self._lmdb("train")
        keys = lmdb_keys(train_db, self.root / self.name)
        order = np.random.default_rng(self.seed).permutation(len(keys))
        if self.test_from == "train":
            n_test = self.n_test or 0
            if n_test >= len(keys):
                raise ConfigError(f"data.n_test={n_test} takes all {len(keys)} images of {train_db}, leaving none to "
                                  f"train on; use data.n_test<={len(keys) - 1} (10% is {max(1, len(keys) // 10)}) "
                                  "or data.source.test_from=val")
            test_keys, train_keys = [keys[i] for i in order[:n_test]], [keys[i] for i in order[n_test:]]
            test = (test_keys, LMDBReader(train_db))
        else:
            val_db = self._lmdb("val")
            test = (_limit(lmdb_keys(val_db, self.root / self.name), self.n_test), LMDBReader(val_db))
            train_keys = [keys[i] for i in order]
        return {"train": (_limit(train_keys, self.n_train), LMDBReader(train_db)), "test": test}


__all__ = ["CelebA", "ImageFolder", "LSUNBedroom", "LMDBReader", "lmdb_keys"]
