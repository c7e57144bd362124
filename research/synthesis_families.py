"""python research/synthesis_families.py [--size 128] [--cap 300] [--textures ...]: which marginal family
and which phase-harmonic scale links to keep by default (issue 38).  Each variant of scatgen's
phase-harmonic and scattering models synthesises one sample of every texture from the same white
noise (torch L-BFGS, to the plateau or the cap, as scripts/anchors_synthesis.py runs them) and is
scored on the pixel-histogram W1 and the held-out orientation TV and gradient W1.  Prints a
markdown table (mean over the textures in the last rows) for docs/research-log.md."""

import argparse
import platform
import time

import numpy as np

from scatgen.devices import cpu_kind
from scatgen.synthesis.images.moments import moment_model
from scatgen.synthesis.images.statistics import image_statistics
from scatgen.synthesis.images.textures import BUILTIN, load_texture
from scatgen.synthesis.microcanonical import synthesize
from scatgen.synthesis.trajectory import Trajectory

VARIANTS = {
    "phase harmonic, today": ("phase_harmonic", {"scale_links": "neighbours", "marginal": "none"}),
    "+ all scale pairs": ("phase_harmonic", {"scale_links": "all", "marginal": "none"}),
    "+ bin means": ("phase_harmonic", {"scale_links": "neighbours", "marginal": "bin_means"}),
    "+ all scale pairs + bin means": ("phase_harmonic", {"scale_links": "all", "marginal": "bin_means"}),
    "+ all scale pairs + moments": ("phase_harmonic", {"scale_links": "all", "marginal": "moments"}),
    "+ all scale pairs + PS moments": ("phase_harmonic", {"scale_links": "all", "marginal": "ps_moments"}),
    "+ all scale pairs + quantiles": ("phase_harmonic", {"scale_links": "all", "marginal": "quantiles"}),
    "scattering, today": ("scattering", {"marginal": "none"}),
    "scattering + bin means": ("scattering", {"marginal": "bin_means"}),
    "scattering + moments": ("scattering", {"marginal": "moments"}),
}
KEYS = ("marginal_w1", "heldout/orientation_tv", "heldout/gradient_w1")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--J", type=int, default=5)
    p.add_argument("--cap", type=int, default=300)
    p.add_argument("--textures", nargs="+", default=list(BUILTIN))
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    args = p.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {cpu_kind()} ({platform.machine()}), size {args.size}, J={args.J}, L=4, "
          f"1 sample (seed 0), torch L-BFGS to the plateau (1e-4 over 50 evaluations) or {args.cap} evaluations")
    rows = {}
    for name in args.variants:
        model_name, options = VARIANTS[name]
        for texture in args.textures:
            target = load_texture(texture, args.size)
            model = moment_model(model_name, (args.size, args.size), args.J, 4, **options)
            result = synthesize(model, target, 1, args.cap, 1, 0, evaluations=args.cap,
                                watch=lambda: Trajectory(cap=args.cap, at_evaluations=()))
            stats = image_statistics(result.images[:1], target)
            rows[name, texture] = {**stats, "evaluations": len(result.losses[0]), "seconds": result.seconds,
                                   "moments": model.count}
            print(f"  {name} / {texture}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[name, texture].items()), flush=True)
    print("\n| variant | moments | " + " | ".join(f"{t}: pixel W1 / orient. TV / grad. W1" for t in args.textures)
          + " | mean pixel W1 | mean orient. TV | mean grad. W1 | s per run |")
    print("|---" * (len(args.textures) + 6) + "|")
    for name in args.variants:
        r = [rows[name, t] for t in args.textures]
        cells = [" / ".join(f"{x[k]:.3g}" for k in KEYS) for x in r]
        means = [f"{np.mean([x[k] for x in r]):.4g}" for k in KEYS]
        print(f"| {name} | {r[0]['moments']} | " + " | ".join(cells) + " | " + " | ".join(means)
              + f" | {np.mean([x['seconds'] for x in r]):.0f} |")


if __name__ == "__main__":
    main()
