"""Texture synthesis speed at 256x256: the same L-BFGS loop on scattering moments with the fast
backend (ours, periodic) and with kymatio (the reference), in one process.

Prints L-BFGS iterations per second (strong Wolfe line search: a few loss evaluations each) and
loss evaluations (forward + backward) per second, and the ratio fast / kymatio.
The 1-D (audio) case: the scattering moments of 3 s of sound at 16 kHz, ours against moments
computed with kymatio's Scattering1D, in loss+gradient evaluations per second.

The anchors (``--anchors``, needs ``.[anchors]``): seconds per loss+gradient evaluation and per
sample at the side-by-side report's budget, for scatgen's three models and the two anchors, each
run by its own synthesis loop (scatgen/synthesis/images/report.py) on one texture.

python bench/bench_synthesis.py [--size 256] [--J 5] [--iterations 10] [--device cuda] [--audio-only] [--anchors]
"""

import argparse
import os
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import torch

from scatgen.scattering.kymatio_compat import kymatio_scattering1d
from scatgen.synthesis.microcanonical import MomentLoss, synthesize
from scatgen.synthesis.images.moments import moment_model
from scatgen.synthesis.sounds.moments import moment_model_1d
from scatgen.synthesis.sounds.textures import make_sound
from scatgen.synthesis.images.textures import load_texture


class KymatioScattering1DMoments(torch.nn.Module):
    """The reference for the 1-D case: time averages of kymatio's Scattering1D (T = 2^J averaging,
    reflection padding), order 2 normalised by order 1 as ours."""

    def __init__(self, length: int, J: int, Q: int):
        super().__init__()
        self.s = kymatio_scattering1d(J, length, Q=Q, out_type="list")

    def forward(self, x):
        coefs = self.s(x[:, 0])
        order1 = {c["n"]: c["coef"].mean(-1) for c in coefs if len(c["n"]) == 1}
        o2 = [c["coef"].mean(-1) / order1[c["n"][:1]].clamp_min(1e-12) for c in coefs if len(c["n"]) == 2]
        return {"order1": torch.stack(list(order1.values()), 1), "order2": torch.stack(o2, 1)}


def audio(device: str, seconds: float = 3.0, rate: int = 16000, J: int = 10, Q: int = 8) -> None:
    """Loss+gradient evaluations/s of the 1-D scattering moments: ours (periodic, full rate) against
    kymatio's Scattering1D, on 3 s of rain at 16 kHz."""
    x = make_sound("rain", seconds, rate).to(device)
    x0 = torch.randn_like(x) * x.std()
    print(f"rain {seconds:g} s at {rate} Hz, J={J}, Q={Q}, {torch.get_num_threads()} threads, {device}")
    ours = evaluations_per_second(MomentLoss(moment_model_1d("scattering", x.shape[-1], J, Q).to(device), x), x0, 3)
    kym = evaluations_per_second(MomentLoss(KymatioScattering1DMoments(x.shape[-1], J, Q).to(device), x), x0, 3)
    print(f"  scattering moments: ours {ours:.2f}, kymatio Scattering1D {kym:.2f} loss+gradient evals/s "
          f"(ratio {ours / kym:.2f}x)")
    for name in ("gaussian", "phase_harmonic"):
        evals = evaluations_per_second(MomentLoss(moment_model_1d(name, x.shape[-1], J, Q).to(device), x), x0, 3)
        print(f"  (other models) {name}: {evals:.2f} loss+gradient evals/s")


def sync(x: torch.Tensor) -> None:
    if x.is_cuda:
        torch.cuda.synchronize()


def evaluations_per_second(loss_fn, x0, repeats: int) -> float:
    x = x0.clone().requires_grad_(True)
    loss_fn(x).backward()  # warm-up
    sync(x)
    start = time.perf_counter()
    for _ in range(repeats):
        x.grad = None
        loss_fn(x).backward()
    sync(x)
    return repeats / (time.perf_counter() - start)


def anchors(args) -> None:
    """Seconds per evaluation of every model of the side-by-side report, each in its own loop."""
    from scatgen.synthesis.images.report import LABELS, Settings, synthesize_with

    budget = Settings.evaluations
    s = Settings(size=args.size, J=args.J, n_samples=1, evaluations=10, device=args.device)
    target = load_texture(args.texture, args.size).to(args.device)
    print(f"{args.texture} {args.size}x{args.size}, J={args.J}, L={s.L}, {torch.get_num_threads()} threads, {args.device}")
    for model in LABELS:
        synthesize_with(model, target, Settings(size=args.size, J=args.J, n_samples=1, evaluations=2, device=args.device))
        result, count = synthesize_with(model, target, s)
        per_eval = result.seconds / max(1, len(result.losses[0]))
        print(f"  {LABELS[model]:34s} {count:6d} moments  {per_eval:7.3f} s per evaluation  "
              f"{per_eval * budget:7.1f} s per sample at {budget} evaluations")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--J", type=int, default=5)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--texture", default="gravel")
    p.add_argument("--device", default="cpu")
    p.add_argument("--audio-only", action="store_true", help="only the 1-D (audio) case")
    p.add_argument("--anchors", action="store_true", help="only the five models of docs/synthesis.md")
    args = p.parse_args()
    if args.anchors:
        return anchors(args)
    audio(args.device)
    if args.audio_only:
        return
    torch.manual_seed(0)
    target = load_texture(args.texture, args.size).to(args.device)
    x0 = torch.randn_like(target) * target.std() + target.mean()
    print(f"{args.texture} {args.size}x{args.size}, J={args.J}, L=8, {torch.get_num_threads()} threads, {args.device}")
    rates = {}
    for backend in ("fast", "kymatio"):
        moments = moment_model("scattering", (args.size, args.size), args.J, 8, backend).to(args.device)
        loss_fn = MomentLoss(moments, target)
        evals = evaluations_per_second(loss_fn, x0, 5)
        result = synthesize(moments, target, n_samples=1, iterations=args.iterations, restarts=1)
        rates[backend] = (result.iterations / result.seconds, evals, result.losses[0][-1])
        print(f"  {backend:8s} {rates[backend][0]:6.2f} L-BFGS it/s   {evals:6.2f} loss+gradient evals/s   "
              f"loss after {result.iterations} it: {rates[backend][2]:.3g}")
    print(f"  ratio fast/kymatio: {rates['fast'][0] / rates['kymatio'][0]:.1f}x iterations/s, "
          f"{rates['fast'][1] / rates['kymatio'][1]:.1f}x evaluations/s")
    for name in ("gaussian", "phase_harmonic"):
        model = moment_model(name, (args.size, args.size), args.J, 8).to(args.device)
        evals = evaluations_per_second(MomentLoss(model, target), x0, 20 if args.device != "cpu" else 3)
        print(f"  (other models) {name}: {evals:.2f} loss+gradient evals/s")


if __name__ == "__main__":
    main()
