"""Throughput of the fast scattering backend against kymatio, in one process, on the same batch.

    python bench/bench_scattering.py [--repeats 3] [--batch 64] [--device cuda]

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

from scatgen.config import CONF_DIR
from scatgen.scattering.fast import FastScattering2D
from scatgen.scattering.kymatio_compat import kymatio_scattering2d


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


def bytes_per_image(fast: FastScattering2D, channels: int = 3, fused: bool = False) -> int:
    """Memory traffic of the GPU (gather) design for one RGB image: every intermediate tensor
    written once and read once (float32, complex64), nothing kept in cache: the roofline's
    numerator.  Per filter group of ``Q`` filters on ``P`` spectra of ``R`` pixels, subsampled by
    ``k`` with ``nb`` blocks per filter: the block-order copy (``P R``), the gathered blocks
    (``P Q nb R / k^2``), the summed product and its inverse FFT (``2 P Q R / k^2``, complex),
    the modulus (real) that the low-pass reads.  ``fused`` (torch.compile's one kernel for the
    gather, product and sum): the spectra are read once and no copy or gathered block is stored."""
    (mp, np_), L = fast.padded_shape, fast.L
    c, r = 8, 4  # bytes of a complex64 and of a float32

    def group(name: str, spectra: int, pixels: int) -> int:
        k, nb = fast._k[name], getattr(fast, f"{name}_blocks").shape[1]
        small = pixels // (k * k)
        if fused:
            return c * spectra * pixels + 2 * (2 * c * spectra * L * small + r * spectra * L * small)
        return 2 * (c * spectra * pixels + c * spectra * L * nb * small + 2 * c * spectra * L * small + r * spectra * L * small)

    total = 2 * (r * mp * np_ + c * mp * np_)  # the padded image and its spectrum
    total += sum(group(f"psi1_{j}", 1, mp * np_) for j in range(fast.J))
    for j1 in range(fast.J - 1 if fast.max_order == 2 else 0):
        pixels = mp * np_ // 4**j1
        total += 2 * c * L * pixels  # the spectra of the L moduli at scale j1
        total += sum(group(f"psi2_{j1}_{j2}", L, pixels) for j2 in range(j1 + 1, fast.J))
    return channels * total


def bench(size: int, J: int, L: int, batch: int, repeats: int, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    x = (torch.rand(batch, 3, size, size) * 2 - 1).to(device)
    kym = kymatio_scattering2d(J, (size, size), L=L, max_order=2).to(device)
    fast = FastScattering2D(J, (size, size), L=L, max_order=2).to(device)
    compiled = FastScattering2D(J, (size, size), L=L, max_order=2, compile=True).to(device)
    encoder = encoder_from_config(size, J).to(device)
    with torch.no_grad():
        t = time.perf_counter()
        compiled(x)  # compiles once per chunk shape (cached on disk by PyTorch for later processes)
        compile_s = time.perf_counter() - t
        encoder(x)
        ref = kymatio_scattering2d(J, (size, size), L=L, max_order=2).to(device).double()(x[:8].double())
        rel = max((((m(x[:8]).double() - ref).norm() / ref.norm()).item() for m in (fast, compiled)))
        kym(x)  # warm-up
        rates = {"kymatio": [], "fast": [], "compiled": [], "encoder": []}
        for _ in range(repeats):
            for name, module in (("kymatio", kym), ("fast", fast), ("compiled", compiled), ("encoder", encoder)):
                rates[name].append(images_per_second(module, x, 1))
    r = {name: statistics.median(v) for name, v in rates.items()}
    return {"size": size, "J": J, "L": L, "batch": batch, **r, "ratio": r["fast"] / r["kymatio"],
            "bytes": bytes_per_image(fast), "bytes_fused": bytes_per_image(fast, fused=True),
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
        print(f"{'':>8} GPU design moves {r['bytes'] / 1e6:.1f} MB per RGB image eager, {r['bytes_fused'] / 1e6:.1f} MB "
              f"fused: at 4.3 TB/s (H200) the memory roofline is {4.3e12 / r['bytes']:,.0f} and "
              f"{4.3e12 / r['bytes_fused']:,.0f} images/s")


if __name__ == "__main__":
    main()
