"""python research/gan_recipes.py [--recipes a,b] [--seeds 0,1,2] [--epochs 12] [--jobs 2]: the GAN
recipe search behind conf/model/sngan.yaml's defaults.

Each recipe is a list of train.py overrides on top of ``experiment=study32_gan`` (32x32 polygons,
the study's generator and data).  Every (recipe, seed) is trained once into
``logs/gan_recipes/<recipe>/e<epochs>-s<seed>/`` and scored on 2,048 samples from N(0, Id) with
the study's own measures (``scripts/evaluate.py``, parts ``distribution`` and ``modes``): the share
of confident samples (mode classifier confidence >= 0.9), precision/recall on the scattering
features, the modes the confident samples cover (k=10) and the mode KL.  Finished pairs are read
back, so an interrupted search resumes.  ``--jobs 2`` trains two pairs at once with one thread
each (on 2 cores about 1.4x the throughput of one job with two threads); the training times
printed are then each job's own wall clock beside the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scatgen.studies.metric_registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
RECIPES: dict[str, list[str]] = {
    "dcgan": ["model=dcgan"],
    "sngan": [],                                   # the default: conf/model/sngan.yaml (no DiffAugment)
    "sngan_diffaugment": ["model=sngan_diffaugment"],  # translation and cutout before D
    "sngan_fp32": ["trainer.precision=32-true"],
    "sngan_noema": ["model.ema_decay=null"],
    "sngan_ttur": ["model.optimizer_d.lr=4e-4", "model.optimizer_g.lr=1e-4"],
    "sngan_lr4": ["model.optimizer_d.lr=4e-4", "model.optimizer_g.lr=4e-4"],
    "sngan_ns": ["model.loss=non_saturating"],
    "sngan_translate": ["model=sngan_diffaugment", "model.augment.cutout=0"],
    "sngan_r1": ["model.r1_gamma=0.1"],
    "sngan_wide_d": ["model.discriminator.width=64"],
    "sngan_ndis2": ["model.d_steps_per_g=2"],      # SN-GAN's n_dis: 2 D steps per G step
    "sngan_ndis5": ["model.d_steps_per_g=5"],      # the SN-GAN paper's n_dis with betas (0, 0.9)
}
COLUMNS = [REGISTRY[k] for k in ("modes/good_fraction", "sample/precision", "sample/recall", "modes/modes_covered",
                                  "modes/kl")]


def run_dir(recipe: str, seed: int, epochs: int) -> Path:
    return ROOT / "logs" / "gan_recipes" / recipe / f"e{epochs}-s{seed}"


def train_and_score(recipe: str, seed: int, epochs: int, threads: int) -> dict:
    out = run_dir(recipe, seed, epochs)
    scores = out / "evaluation" / "metrics.json"
    if scores.exists():
        return json.loads(scores.read_text())
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    timing = out / "train_seconds.txt"
    if not (out / "checkpoints" / "last.ckpt").exists() or not timing.exists():
        t = time.perf_counter()
        cmd = [sys.executable, "train.py", "experiment=study32_gan", f"seed={seed}", f"trainer.max_epochs={epochs}",
               *RECIPES[recipe], "study.eval_limit=32", "logger=csv", f"hydra.run.dir={out}"]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        timing.write_text(f"{time.perf_counter() - t:.1f}\n")
    cmd = [sys.executable, "scripts/evaluate.py", f"ckpt_path={out}/checkpoints/last.ckpt", "study.n_samples=2048",
           "study.parts=[samples,distribution,modes]", f"hydra.run.dir={out}/evaluation"]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = json.loads(scores.read_text())
    metrics["train_seconds"] = float(timing.read_text())
    scores.write_text(json.dumps(metrics, indent=1))
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="sngan,sngan_diffaugment")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    recipes = args.recipes.split(",")
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        parser.error(f"--recipes: {unknown[0]!r} is not a recipe; choose from {', '.join(RECIPES)}")
    pairs = [(r, int(s)) for r in recipes for s in args.seeds.split(",")]
    threads = 1 if args.jobs > 1 else 2
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda p: train_and_score(*p, args.epochs, threads), pairs))
    print("| recipe | overrides | epochs | seed | training (s) | " + " | ".join(c.heading(results[0] if results else None) for c in COLUMNS) + " |")
    print("|" + " --- |" * (5 + len(COLUMNS)))
    for (recipe, seed), m in zip(pairs, results):
        cells = [c.cell(m) for c in COLUMNS]
        print(f"| {recipe} | {' '.join(RECIPES[recipe]) or '-'} | {args.epochs} | {seed} | "
              f"{m.get('train_seconds', 0):.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
