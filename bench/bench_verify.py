"""What verifying artefacts whole costs: the sha256 of every file, checked on every load.

    python bench/bench_verify.py [--rows 65536] [--size 64] [--dir /tmp]

Writes a prepared-array-like file of ``rows`` CelebA-size images (uint8, size x size x 3) and its
whitened codes (512 float32 numbers per image), with a manifest, then times ``read_verified`` (the
check every run makes before training) against a bare memory-mapped open.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from scatgen.storage.arrays import NpyWriter
from scatgen.storage.artefacts import read_verified, write_manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=65536)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--dir", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        with NpyWriter(tmp / "train_images.npy", (args.rows, args.size, args.size, 3), np.uint8) as w:
            for start in range(0, args.rows, 4096):
                w.write(rng.integers(0, 256, (min(4096, args.rows - start), args.size, args.size, 3), dtype=np.uint8))
        with NpyWriter(tmp / "z_train.npy", (args.rows, 512), np.float32) as w:
            for start in range(0, args.rows, 4096):
                w.write(rng.standard_normal((min(4096, args.rows - start), 512), dtype=np.float32))
        write_manifest(tmp, ["train_images", "z_train"], {})
        size = sum(f.stat().st_size for f in tmp.glob("*.npy"))
        for label in ("first read (page cache warm from writing)", "second read"):
            t = time.perf_counter()
            read_verified(tmp)
            verified = time.perf_counter() - t
            t = time.perf_counter()
            for f in tmp.glob("*.npy"):
                np.load(f, mmap_mode="r")
            bare = time.perf_counter() - t
            print(f"{label}: {args.rows} images of {args.size}x{args.size}x3 + codes, {size / 1e9:.2f} GB: "
                  f"verified in {verified:.2f} s ({size / verified / 1e9:.2f} GB/s), bare open {bare * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
