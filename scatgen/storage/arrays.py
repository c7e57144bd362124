"""``.npy`` files streamed row by row with plain file I/O (no memory map while writing or
streaming), so that resident memory stays one batch whatever the file size.

The prepared data sets (uint8 ``(N, H, W, C)`` images per split) and the code caches are such
files; ``scatgen.storage.artefacts`` verifies them against their manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from scatgen.errors import NO_SPACE, disk_full


def save_npy(directory: Path, name: str, array: np.ndarray) -> None:
    np.save(Path(directory) / f"{name}.npy", np.ascontiguousarray(array))


class NpyWriter:
    """Append rows to a ``.npy`` file with plain writes (no memory map), so the writer's resident
    memory stays one batch, whatever the file size.

    ``shape[0]`` is the number of rows expected; with ``allow_fewer`` (images that fail to decode
    are skipped) ``close()`` rewrites the header with the rows actually written (the header keeps
    its length, so no data moves); otherwise it checks that every row was written.  With
    ``finite`` a row holding NaN or infinity is refused."""

    _HEADER_BYTES = 256  # magic + length + padded dict: room for any shape

    def __init__(self, path: Path, shape: tuple, dtype, allow_fewer: bool = False, finite: bool = False):
        self.path, self.shape, self.dtype, self.allow_fewer = Path(path), tuple(shape), np.dtype(dtype), allow_fewer
        self.finite = finite
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
        if self.finite and rows.dtype.kind == "f" and not np.isfinite(rows).all():
            bad = self.rows + int(np.flatnonzero(~np.isfinite(rows).reshape(len(rows), -1).all(1))[0])
            raise ValueError(f"{self.path}: row {bad} holds NaN or infinity")
        if rows.shape[1:] != self.shape[1:] or self.rows + len(rows) > self.shape[0]:
            raise ValueError(f"{self.path}: rows of shape {rows.shape} do not fit {self.shape} after {self.rows} rows")
        data = rows.tobytes()
        try:
            self._file.write(data)
        except OSError as err:  # a full disk names this file (the cache being built), not the run directory
            if err.errno in NO_SPACE:
                raise disk_full(self.path, len(data)) from None
            raise
        self.rows += len(rows)

    def close(self) -> None:
        if self.rows != self.shape[0]:
            if not self.allow_fewer:
                self._file.close()
                raise ValueError(f"{self.path}: {self.rows} rows written of {self.shape[0]}")
            self._file.seek(0)
            self._file.write(self._header(self.rows))
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            if err.errno in NO_SPACE:
                raise disk_full(self.path) from None
            raise
        finally:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            try:
                self._file.close()
            except OSError:  # the buffered rest cannot be written either (a full disk): the first error stands
                pass


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
