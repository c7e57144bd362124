"""Throughput of the fast scattering backend against kymatio, in one process, on the same batch.

    python scripts/bench_scattering.py [--repeats 3] [--batch 64]

Both backends are warmed up, then timed alternately (kymatio, fast, kymatio, fast, ...) on the
same batch of RGB images; the figures are images/s (median over repeats) and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from kymatio.torch import Scattering2D

from scatgen.encoders.fast_scattering import FastScattering2D


def images_per_second(fn, x, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return x.shape[0] / statistics.median(times)


def bench(size: int, J: int, L: int, batch: int, repeats: int, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    x = (torch.rand(batch, 3, size, size) * 2 - 1).to(device)
    kym = Scattering2D(J, (size, size), L=L, max_order=2).to(device)
    fast = FastScattering2D(J, (size, size), L=L, max_order=2).to(device)
    with torch.no_grad():
        ref, out = kym(x[:4]), fast(x[:4])  # warm-up, and a correctness check
        rel = ((out - ref).norm() / ref.norm()).item()
        rates = {"kymatio": [], "fast": []}
        for _ in range(repeats):
            rates["kymatio"].append(images_per_second(kym, x, 1))
            rates["fast"].append(images_per_second(fast, x, 1))
    k, f = statistics.median(rates["kymatio"]), statistics.median(rates["fast"])
    return {"size": size, "J": J, "L": L, "batch": batch, "kymatio": k, "fast": f, "ratio": f / k, "rel_err": rel}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'size':>8} {'J':>2} {'L':>2} {'kymatio img/s':>14} {'fast img/s':>11} {'ratio':>6} {'rel err':>8}")
    for size, J in ((64, 4), (128, 5)):
        r = bench(size, J, 8, args.batch, args.repeats, args.device)
        print(f"{size:>4}x{size:<3} {J:>2} {r['L']:>2} {r['kymatio']:>14.1f} {r['fast']:>11.1f} {r['ratio']:>5.1f}x {r['rel_err']:>8.1e}")


if __name__ == "__main__":
    main()
