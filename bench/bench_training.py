"""One epoch of inverse-scattering training: cached codes against encoding every batch on the fly.

    python bench/bench_training.py [--n-train 2048] [--width 16]

Same data (64x64 polygons), same generator, same precision, in one process.  Three ways to get
``z`` for a batch: read it from the code cache, or compute ``L S_J x`` with the fast backend, or
with kymatio.  Prints images/s of a training epoch for each, and the ratios to the cached one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from scatgen.devices import cpu_precision
from scatgen.data.datamodule import GenerativeDataModule
from scatgen.data.polygons import Polygons
from scatgen.scattering.transform import Scattering
from scatgen.encoding.whitening import PCAWhitening
from scatgen.models.components.generator import Generator


def epoch(loader, generator, optimizer, get_z, autocast: bool) -> float:
    """Images/s of one training epoch where ``get_z(batch)`` provides the codes."""
    n, start = 0, time.perf_counter()
    for batch in loader:
        x = batch[-1]
        with torch.no_grad():
            z = get_z(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = F.l1_loss(generator(z), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        n += len(x)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=2048)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--root", default=None, help="data/cache root (default: a temporary directory)")
    args = parser.parse_args()
    autocast = cpu_precision() == "bf16-mixed"
    root = Path(args.root or tempfile.mkdtemp(prefix="scatgen-bench-"))

    source = Polygons(root / "data", image_size=64, n_train=args.n_train, n_test=256)
    encoders = {name: Scattering(J=4, image_size=64, backend=name) for name in ("fast", "kymatio")}
    whitening = PCAWhitening(512, encoders["fast"].code_shape)
    dm = GenerativeDataModule(source, batch_size=args.batch, cache_dir=root / "cache", encoder=encoders["fast"],
                              whitening=whitening)
    t = time.perf_counter()
    dm.prepare_data()
    dm.setup()
    print(f"build the cache (encode {args.n_train + 256} images, fit PCA): {time.perf_counter() - t:.1f} s")

    ways = {
        "cache": lambda batch: batch[0],
        "fast": lambda batch: whitening(encoders["fast"](batch[-1])),
        "kymatio": lambda batch: whitening(encoders["kymatio"](batch[-1])),
    }
    rates = {}
    torch.manual_seed(0)
    for name, get_z in ways.items():
        generator = Generator(whitening.z_dim, 64, width=args.width)
        optimizer = torch.optim.Adam(generator.parameters(), 1e-3)
        rates[name] = epoch(dm.train_dataloader(), generator, optimizer, get_z, autocast)
    print(f"training epoch on {args.n_train} images, generator width {args.width}, "
          f"{'bf16-mixed' if autocast else 'fp32'}, {torch.get_num_threads()} threads")
    for name, rate in rates.items():
        print(f"  z from {name:<8} {rate:8.1f} img/s   cache / {name} = {rates['cache'] / rate:5.1f}x")


if __name__ == "__main__":
    main()
