"""python research/train_recipes.py [--recipes width32_9ep,default] [--precision 32-true] [--root DIR]:
the search for a ``make train`` recipe that fits 10 minutes on the float32-only CPU kinds (issue 39).

Each recipe is a list of ``train.py`` overrides on top of ``make train``'s defaults (64x64 polygons,
8,192 images, the inverse-scattering model).  Every recipe trains once, in the given precision
(``32-true`` stands in for a CPU without bf16: the same float32 kernels), into
``<root>/<recipe>-<precision>/``; a finished run (``metrics.json``) is read back, so an interrupted
search resumes.  The table printed: the generator's GFLOP per image for a training step (forward
and backward, ``torch.utils.flop_counter``, batch 1), seconds per epoch, fit and preparation time,
test and train PSNR, and the fit time as a ratio of the first recipe's, all on this CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from torch.utils.flop_counter import FlopCounterMode

from scatgen.devices import cpu_kind

ROOT = Path(__file__).resolve().parents[1]
# Each recipe pins what it changes from the old default (width 32, 9 epochs) or the new one (width 16,
# 12 epochs, since the fifth session), so that a cached result keeps meaning the same run.
OLD = ["model.generator.width=32", "trainer.max_epochs=9"]
RECIPES: dict[str, list[str]] = {
    "default": [],                                          # make train's recipe: width 16, 12 epochs (0.411 GFLOP)
    "width32_9ep": OLD,                                     # the old default: 1.615 GFLOP
    "width24": ["model.generator.width=24", "trainer.max_epochs=9"],   # 0.57x the FLOPs
    "width16": ["model.generator.width=16", "trainer.max_epochs=9"],   # 0.25x
    "max_mult4": [*OLD, "model.generator.max_mult=4"],      # 0.75x: the 8x8-16x16 widths halved
    "width24_lr2e-3": ["model.generator.width=24", "trainer.max_epochs=9", "model.optimizer.lr=2e-3"],
    "width16_lr2e-3": ["model.generator.width=16", "trainer.max_epochs=9", "model.optimizer.lr=2e-3"],
    "width16_18ep": ["model.generator.width=16", "trainer.max_epochs=18"],  # 0.25x per epoch, twice the epochs
    "width16_12ep": ["model.generator.width=16", "trainer.max_epochs=12"],  # the new default, pinned
    # what a float32 kind's make train gets in its time budget (8 epochs), at the default and twice its peak rate
    "width16_8ep": ["model.generator.width=16", "trainer.max_epochs=8"],
    "width16_8ep_lr2e-3": ["model.generator.width=16", "trainer.max_epochs=8", "model.optimizer.lr=2e-3"],
    "width16_12ep_lr2e-3": ["model.generator.width=16", "trainer.max_epochs=12", "model.optimizer.lr=2e-3"],
}


def generator_gflop(overrides: list[str]) -> float:
    """GFLOP of one training step of the recipe's generator on one image (forward and backward)."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    generator = instantiate(cfg.model.generator)(z_dim=512)
    z = torch.randn(1, 512)
    with FlopCounterMode(display=False) as counter:
        generator(z).square().mean().backward()
    return counter.get_total_flops() / 1e9


def train(name: str, overrides: list[str], precision: str, root: Path) -> dict:
    run_dir = root / f"{name}-{precision}"
    if not (run_dir / "metrics.json").exists():
        cmd = [sys.executable, str(ROOT / "train.py"), *overrides, f"trainer.precision={precision}",
               f"hydra.run.dir={run_dir}", "logger=csv"]
        print("[recipes]", " ".join(cmd[1:]), flush=True)
        if subprocess.run(cmd, cwd=ROOT).returncode:
            raise SystemExit(f"recipe {name} stopped; run the same command again to resume the search")
    return json.loads((run_dir / "metrics.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipes", default="width32_9ep,default")
    p.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    p.add_argument("--root", type=Path, default=ROOT / "logs" / "train_recipes")
    args = p.parse_args()
    names = args.recipes.split(",")
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise SystemExit(f"--recipes {','.join(unknown)}: unknown; choose from {', '.join(RECIPES)}")
    rows = []
    for name in names:
        m = train(name, RECIPES[name], args.precision, args.root)
        rows.append((name, generator_gflop(RECIPES[name]), m))
    print(f"\n{cpu_kind()}, precision {args.precision}, 2 cores\n")
    print("| recipe | overrides | GFLOP per image (fwd + bwd) | epochs | s per epoch | fit | prepare | test PSNR | train PSNR | fit vs first |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    first = rows[0][2]["time/fit_s"]
    for name, gflop, m in rows:
        epochs = m.get("epochs", 0) or 1
        print(f"| {name} | {' '.join(RECIPES[name]) or '-'} | {gflop:.3f} | {epochs} | {m['time/fit_s'] / epochs:.1f} | "
              f"{m['time/fit_s']:.0f} s | {m.get('time/prepare_s', float('nan')):.0f} s | {m['test/psnr']:.2f} dB | "
              f"{m.get('train/psnr', float('nan')):.2f} dB | {m['time/fit_s'] / first:.2f}x |")


if __name__ == "__main__":
    main()
