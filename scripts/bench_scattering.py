"""Throughput of the fast scattering backend against kymatio, in one process, on the same batch.

    python scripts/bench_scattering.py [--repeats 3] [--batch 64] [--device cuda]

kymatio, the fast backend (eager), the fast backend through ``torch.compile`` and the encoder as
``conf/encoder/scattering.yaml`` builds it (``Scattering``: compiled fast backend, RGB) are warmed
up, then timed in turn, repeatedly, on the same batch of RGB images; the figures are images/s
(median over repeats), ratios to kymatio, and the largest relative error of the fast paths
against kymatio run in float64.  The design of the fast backend follows the device (a block
loop on the CPU, one gather per scale on CUDA).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from kymatio.torch import Scattering2D

from scatgen.config import CONF_DIR
from scatgen.encoders.fast_scattering import FastScattering2D


def encoder_from_config(size: int, J: int):
    """The encoder exactly as train.py builds it (conf/encoder/scattering.yaml)."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"data.image_size={size}", f"encoder.J={J}"])
    return instantiate(cfg.encoder)


def images_per_second(fn, x, repeats):
    times = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
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
    encoder = encoder_from_config(size, J).to(device)
    with torch.no_grad():
        t = time.perf_counter()
        compiled(x)  # compiles once per chunk shape (cached on disk by PyTorch for later processes)
        compile_s = time.perf_counter() - t
        encoder(x)
        ref = Scattering2D(J, (size, size), L=L, max_order=2).to(device).double()(x[:8].double())
        rel = max((((m(x[:8]).double() - ref).norm() / ref.norm()).item() for m in (fast, compiled)))
        kym(x)  # warm-up
        rates = {"kymatio": [], "fast": [], "compiled": [], "encoder": []}
        for _ in range(repeats):
            for name, module in (("kymatio", kym), ("fast", fast), ("compiled", compiled), ("encoder", encoder)):
                rates[name].append(images_per_second(module, x, 1))
    r = {name: statistics.median(v) for name, v in rates.items()}
    return {"size": size, "J": J, "L": L, "batch": batch, **r, "ratio": r["fast"] / r["kymatio"],
            "ratio_compiled": r["compiled"] / r["kymatio"], "ratio_encoder": r["encoder"] / r["kymatio"],
            "rel_err": rel, "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    print(f"{'size':>8} {'J':>2} {'L':>2} {'kymatio img/s':>14} {'fast img/s':>11} {'ratio':>6} "
          f"{'compiled img/s':>15} {'ratio':>6} {'encoder img/s':>14} {'ratio':>6} {'compile s':>10} "
          f"{'rel err (f64 ref)':>18}")
    for size, J in ((64, 4), (128, 5)):
        r = bench(size, J, 8, args.batch, args.repeats, args.device)
        print(f"{size:>4}x{size:<3} {J:>2} {r['L']:>2} {r['kymatio']:>14.1f} {r['fast']:>11.1f} {r['ratio']:>5.1f}x "
              f"{r['compiled']:>15.1f} {r['ratio_compiled']:>5.1f}x {r['encoder']:>14.1f} {r['ratio_encoder']:>5.1f}x "
              f"{r['compile_s']:>10.1f} {r['rel_err']:>18.1e}")


if __name__ == "__main__":
    main()
