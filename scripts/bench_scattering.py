"""Throughput of the fast scattering backend against kymatio, in one process, on the same batch.

    python scripts/bench_scattering.py [--repeats 3] [--batch 64]

kymatio, the fast backend (eager) and the fast backend through ``torch.compile`` (the default in
``conf/encoder/scattering.yaml``) are warmed up, then timed in turn, repeatedly, on the same
batch of RGB images; the figures are images/s (median over repeats) and ratios to kymatio.
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
    compiled = FastScattering2D(J, (size, size), L=L, max_order=2, compile=True).to(device)
    with torch.no_grad():
        t = time.perf_counter()
        compiled(x[:4])  # compiles once (cached on disk by PyTorch for later processes)
        compile_s = time.perf_counter() - t
        ref = kym(x)  # warm-up, and the correctness check of both fast paths
        rel = max(((m(x) - ref).norm() / ref.norm()).item() for m in (fast, compiled))
        rates = {"kymatio": [], "fast": [], "compiled": []}
        for _ in range(repeats):
            for name, module in (("kymatio", kym), ("fast", fast), ("compiled", compiled)):
                rates[name].append(images_per_second(module, x, 1))
    r = {name: statistics.median(v) for name, v in rates.items()}
    return {"size": size, "J": J, "L": L, "batch": batch, **r, "ratio": r["fast"] / r["kymatio"],
            "ratio_compiled": r["compiled"] / r["kymatio"], "rel_err": rel, "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'size':>8} {'J':>2} {'L':>2} {'kymatio img/s':>14} {'fast img/s':>11} {'ratio':>6} "
          f"{'compiled img/s':>15} {'ratio':>6} {'compile s':>10} {'max rel err':>12}")
    for size, J in ((64, 4), (128, 5)):
        r = bench(size, J, 8, args.batch, args.repeats, args.device)
        print(f"{size:>4}x{size:<3} {J:>2} {r['L']:>2} {r['kymatio']:>14.1f} {r['fast']:>11.1f} {r['ratio']:>5.1f}x "
              f"{r['compiled']:>15.1f} {r['ratio_compiled']:>5.1f}x {r['compile_s']:>10.1f} {r['rel_err']:>12.1e}")


if __name__ == "__main__":
    main()
