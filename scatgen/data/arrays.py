"""Prepared image arrays: uint8 ``(N, H, W, C)`` per split, memory-mapped, with a manifest.

A prepared data set is a directory ``<name>/`` holding ``<split>_images.npy`` (uint8),
optionally ``<split>_labels.npy`` (int64) and ``manifest.json`` (shapes, dtypes, a checksum of
the first and last images, and whatever the source records, e.g. skipped files).  It is written
into a temporary directory and renamed into place when complete, so a directory that exists
with a manifest is complete; ``open_arrays`` checks it anyway and names what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"


class CorruptArrays(RuntimeError):
    """A prepared array or cache on disk does not match its manifest."""


def config_hash(config: dict) -> str:
    """A stable short hash of a JSON-able config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def sample_checksum(array: np.ndarray) -> str:
    """sha256 of the first and last rows: cheap, and catches truncation and overwrites."""
    if len(array) == 0:
        return "empty"
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(array[0]).tobytes())
    h.update(np.ascontiguousarray(array[-1]).tobytes())
    return h.hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def atomic_write_dir(dest: Path, write) -> Path:
    """Run ``write(tmp_dir)`` and rename ``tmp_dir`` to ``dest`` when it returns.

    An interrupted write leaves only ``<dest>.tmp-<pid>``, which never looks complete."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f"{dest.name}.tmp-*"):  # left by a killed process
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def write_manifest(directory: Path, names: list[str], extra: dict) -> None:
    """Record shape, dtype and checksum of each ``<name>.npy`` in ``directory``."""
    entries = {}
    for name in names:
        a = np.load(Path(directory) / f"{name}.npy", mmap_mode="r")
        entries[name] = {"shape": list(a.shape), "dtype": str(a.dtype), "checksum": sample_checksum(a)}
    manifest = {"arrays": entries, **extra}
    path = Path(directory) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str))


def read_verified(directory: Path, expect: dict | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Open every array of ``directory`` memory-mapped and check it against the manifest.

    ``expect`` holds manifest entries that must match (e.g. the config hash).  Raises
    ``CorruptArrays`` with a one-line reason."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise CorruptArrays(f"{directory}: no {MANIFEST}") from None
    except json.JSONDecodeError as err:
        raise CorruptArrays(f"{directory}/{MANIFEST} is not valid JSON ({err})") from None
    for key, value in (expect or {}).items():
        if manifest.get(key) != value:
            raise CorruptArrays(f"{directory}: manifest {key}={manifest.get(key)!r}, expected {value!r}")
    arrays = {}
    for name, entry in manifest.get("arrays", {}).items():
        path = directory / f"{name}.npy"
        try:
            a = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise CorruptArrays(f"{path} cannot be read ({err})") from None
        if list(a.shape) != entry["shape"] or str(a.dtype) != entry["dtype"]:
            raise CorruptArrays(f"{path} has shape {list(a.shape)} {a.dtype}, manifest says {entry['shape']} {entry['dtype']}")
        if sample_checksum(a) != entry["checksum"]:
            raise CorruptArrays(f"{path} does not match its manifest checksum")
        arrays[name] = a
    return manifest, arrays


def save_npy(directory: Path, name: str, array: np.ndarray) -> None:
    np.save(Path(directory) / f"{name}.npy", np.ascontiguousarray(array))


class NpyWriter:
    """Append rows to a ``.npy`` file with plain writes (no memory map), so the writer's resident
    memory stays one batch, whatever the file size.

    ``shape[0]`` is the number of rows expected; with ``allow_fewer`` (images that fail to decode
    are skipped) ``close()`` rewrites the header with the rows actually written (the header keeps
    its length, so no data moves); otherwise it checks that every row was written."""

    _HEADER_BYTES = 256  # magic + length + padded dict: room for any shape

    def __init__(self, path: Path, shape: tuple, dtype, allow_fewer: bool = False):
        self.path, self.shape, self.dtype, self.allow_fewer = Path(path), tuple(shape), np.dtype(dtype), allow_fewer
        self.rows = 0
        self._file = open(self.path, "wb")
        self._file.write(self._header(self.shape[0]))

    def _header(self, rows: int) -> bytes:
        fields = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (rows, *self.shape[1:])}
        body = repr(fields).encode("latin1")
        pad = self._HEADER_BYTES - 12 - len(body) - 1  # version 2.0: 8 magic + 4 length bytes
        if pad < 0:
            raise ValueError(f"shape {self.shape} is too long for a .npy header")
        return np.lib.format.magic(2, 0) + (self._HEADER_BYTES - 12).to_bytes(4, "little") + body + b" " * pad + b"\n"

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or self.rows + len(rows) > self.shape[0]:
            raise ValueError(f"{self.path}: rows of shape {rows.shape} do not fit {self.shape} after {self.rows} rows")
        self._file.write(rows.tobytes())
        self.rows += len(rows)

    def close(self) -> None:
        if self.rows != self.shape[0]:
            if not self.allow_fewer:
                self._file.close()
                raise ValueError(f"{self.path}: {self.rows} rows written of {self.shape[0]}")
            self._file.seek(0)
            self._file.write(self._header(self.rows))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self._file.close()


def _read_header(f) -> tuple[tuple, np.dtype]:
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(f)
    return shape, dtype


def read_rows(path: Path, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a ``.npy`` file with a plain read (no memory map: streaming passes
    over large files keep a bounded resident size)."""
    with open(path, "rb") as f:
        shape, dtype = _read_header(f)
        row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        stop = min(stop, shape[0])
        f.seek(f.tell() + start * row)
        buf = f.read(max(0, stop - start) * row)
    return np.frombuffer(buf, dtype=dtype).reshape(-1, *shape[1:])


def npy_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return _read_header(f)[0][0]
