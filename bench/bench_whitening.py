"""Time and peak memory of the PCA whitening fit at the scale of CelebA 64x64 (65,536 codes of
20,016 numbers, J=4, L=8, RGB), streamed from a file as the code cache does.

    python bench/bench_whitening.py [--n 65536] [--dim 20016] [--components 512]

The codes are synthetic (a decaying spectrum of 1,024 directions plus noise) because the cost of
a fit does not depend on the values; encoding 65,536 real images first would take minutes and
measure the encoder, not the fit.  Each fit runs in a fresh process to read its own peak RSS.
The exact solver (D x D float64 covariance + eigh) is timed on a smaller D and its cost is
extrapolated: it grows as n D^2 + D^3.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_codes(path: Path, n: int, dim: int, rank: int = 1024, seed: int = 0) -> None:
    from scatgen.storage.arrays import NpyWriter

    rng = np.random.default_rng(seed)
    rank = min(rank, dim)
    basis = rng.standard_normal((rank, dim)).astype(np.float32) / np.sqrt(dim)
    spectrum = np.logspace(1, -2, rank).astype(np.float32)
    with NpyWriter(path, (n, dim), np.float32) as w:
        for start in range(0, n, 1024):
            m = min(1024, n - start)
            coef = rng.standard_normal((m, rank)).astype(np.float32) * spectrum
            w.write(coef @ basis + 0.01 * rng.standard_normal((m, dim)).astype(np.float32) + 1.0)


def fit_once(path: str, solver: str, components: int) -> dict:
    import torch

    from scatgen.storage.arrays import npy_rows
    from scatgen.encoding.code_cache import CodeCache
    from scatgen.encoding.whitening import PCAWhitening

    n = npy_rows(Path(path))
    dim = np.load(path, mmap_mode="r").shape[1]
    w = PCAWhitening(components, (dim, 1, 1), solver=solver)
    stream = CodeCache._stream(Path(path))

    def batches():
        for b in stream():
            yield b.view(len(b), dim, 1, 1)

    t = time.perf_counter()
    w.fit(batches)
    return {"n": n, "dim": dim, "solver": solver, "fit_s": time.perf_counter() - t,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": torch.get_num_threads()}


def run_child(path: Path, solver: str, components: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--solver", solver,
                          "--components", str(components)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=65536)
    parser.add_argument("--dim", type=int, default=20016)
    parser.add_argument("--components", type=int, default=512)
    parser.add_argument("--exact-n", type=int, default=8192)
    parser.add_argument("--exact-dim", type=int, default=4096)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="randomized", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit_once(args.child, args.solver, args.components)))
        return
    print(f"{'codes':>7} {'dim':>6} {'solver':>10} {'fit s':>8} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory(prefix="scatgen-pca-") as tmp:
        rows = []
        small = Path(tmp) / "small.npy"
        write_codes(small, args.exact_n, args.exact_dim)
        rows += [run_child(small, "exact", args.components), run_child(small, "randomized", args.components)]
        small.unlink()
        big = Path(tmp) / "big.npy"
        write_codes(big, args.n, args.dim)
        rows.append(run_child(big, "randomized", args.components))
        for r in rows:
            print(f"{r['n']:>7} {r['dim']:>6} {r['solver']:>10} {r['fit_s']:>8.1f} {r['peak_rss_mb']:>12.0f}")
    ex = rows[0]
    scale = (args.n * args.dim**2 + args.dim**3) / (ex["n"] * ex["dim"] ** 2 + ex["dim"] ** 3)
    print(f"exact solver at {args.n} x {args.dim}, extrapolated from {ex['n']} x {ex['dim']}: "
          f"~{ex['fit_s'] * scale / 60:.0f} min and a {args.dim**2 * 8 / 2**30:.1f} GiB covariance")


if __name__ == "__main__":
    main()
