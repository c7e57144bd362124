"""Texture synthesis speed at 256x256: the same L-BFGS loop on scattering moments with the fast
backend (ours, periodic) and with kymatio (the reference), in one process.

Prints L-BFGS iterations per second (strong Wolfe line search: a few loss evaluations each) and
loss evaluations (forward + backward) per second, and the ratio fast / kymatio.
python scripts/bench_synthesis.py [--size 256] [--J 5] [--iterations 10]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

from scatgen.synthesis.microcanonical import MomentLoss, synthesize  # noqa: E402
from scatgen.synthesis.moments import moment_model  # noqa: E402
from scatgen.synthesis.textures import load_texture  # noqa: E402


def evaluations_per_second(loss_fn, x0, repeats: int) -> float:
    x = x0.clone().requires_grad_(True)
    loss_fn(x).backward()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        x.grad = None
        loss_fn(x).backward()
    return repeats / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--J", type=int, default=5)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--texture", default="gravel")
    args = p.parse_args()
    torch.manual_seed(0)
    target = load_texture(args.texture, args.size)
    x0 = torch.randn_like(target) * target.std() + target.mean()
    print(f"{args.texture} {args.size}x{args.size}, J={args.J}, L=8, {torch.get_num_threads()} threads, CPU")
    rates = {}
    for backend in ("fast", "kymatio"):
        moments = moment_model("scattering", (args.size, args.size), args.J, 8, backend)
        loss_fn = MomentLoss(moments, target)
        evals = evaluations_per_second(loss_fn, x0, 5)
        result = synthesize(moments, target, n_samples=1, iterations=args.iterations, restarts=1)
        rates[backend] = (result.iterations / result.seconds, evals, result.losses[0][-1])
        print(f"  {backend:8s} {rates[backend][0]:6.2f} L-BFGS it/s   {evals:6.2f} loss+gradient evals/s   "
              f"loss after {result.iterations} it: {rates[backend][2]:.3g}")
    print(f"  ratio fast/kymatio: {rates['fast'][0] / rates['kymatio'][0]:.1f}x iterations/s, "
          f"{rates['fast'][1] / rates['kymatio'][1]:.1f}x evaluations/s")
    for name in ("gaussian", "phase_harmonic"):
        evals = evaluations_per_second(MomentLoss(moment_model(name, (args.size, args.size), args.J, 8), target), x0, 3)
        print(f"  (other models) {name}: {evals:.2f} loss+gradient evals/s")


if __name__ == "__main__":
    main()
