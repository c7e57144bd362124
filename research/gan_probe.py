"""python research/gan_probe.py --name NAME [--steps 2880] [--no-sn --r1 G --loss non_saturating] [--noise S] ...:
a GAN learning curve at the study's settings, cheaper than a train.py run per point.

The study's SN-GAN (the shared generator, ``ConvEncoder`` discriminator, hinge loss, Adam betas
(0, 0.9), lr 2e-4, batch 32, 32x32 polygons, float32) trained in one process without Lightning,
with three moving averages of G kept at once (decays 0.99 / 0.995 / 0.999 under the ramp
``min(d, (1 + t) / (10 + t))``).  Every ``--every`` steps it prints the share of 2,048 fixed
N(0, Id) samples that the shipped mode classifier labels with confidence >= 0.9 (the study's
``modes/good_fraction``), for the trained G and each average.  At the end, for the chosen average
(``--report``): which vertex count the classifier sees in the samples (the mode histogram's
vertex axis) and how confident it is, and a PNG of 64 samples.  Outputs in
``logs/gan_probe/<name>.{json,png,pt}`` (the ``.pt``: the reported G's weights).  Options that are not in ``conf/model/``: ``--noise``
(instance noise on D's inputs, annealed to 0) and ``--no-sn`` (D without spectral norm or batch
norm, for R1 alone).  2,880 steps = the study's 12 epochs of 8,192 images.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torchvision

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import MAX_VERTICES, MIN_VERTICES, PALETTE, Polygons
from scatgen.metrics.distribution import precision_recall
from scatgen.metrics.features import ScatteringFeatures
from scatgen.metrics.mode_coverage import ModeClassifier, _read_into, predict, shipped_path
from scatgen.models.components.conv_encoder import ConvEncoder
from scatgen.models.gan import ADVERSARIAL, discriminator_loss, ema_step, generator_loss
from scatgen.models.components.generator import Generator

ROOT = Path(__file__).resolve().parents[1]
DECAYS = (0.99, 0.995, 0.999)


def confident_share(generator: torch.nn.Module, classifier: torch.nn.Module, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Share of ``G(z)`` classified with confidence >= 0.9, and the probabilities."""
    generator.eval()
    with torch.no_grad():
        images = torch.cat([generator(z[i:i + 256]) for i in range(0, len(z), 256)])
    generator.train()
    probs = predict(classifier, images)
    return float((probs.max(1).values >= 0.9).float().mean()), probs


def sample_precision(generator: torch.nn.Module, z: torch.Tensor, train: torch.Tensor, source: Polygons) -> dict:
    """Precision/recall (k=3) of ``G(z)`` against the test images on the study's features (the
    scattering map fitted on the training images), as ``scripts/evaluate.py``'s ``distribution``."""
    features = ScatteringFeatures(image_size=train.shape[-1]).fit(train)
    test = images_to_tensor(np.asarray(source.split("test")[0]))
    generator.eval()
    with torch.no_grad():
        fake = torch.cat([generator(z[i:i + 256]) for i in range(0, len(z), 256)])
    return precision_recall(features.embed(test), features.embed(fake), k=3)


def vertex_report(probs: torch.Tensor) -> dict:
    """Per predicted vertex count: the share of samples and the confident share among them; and
    the share whose colour alone is confident (probabilities summed over vertex counts)."""
    confidence, mode = probs.max(1)
    vertices = mode // len(PALETTE) + MIN_VERTICES
    rows = {}
    for n in range(MIN_VERTICES, MAX_VERTICES + 1):
        chosen = vertices == n
        rows[n] = {"share": float(chosen.float().mean()),
                   "confident": float((confidence[chosen] >= 0.9).float().mean()) if chosen.any() else 0.0}
    colour = probs.view(len(probs), -1, len(PALETTE)).sum(1).max(1).values
    return {"vertices": rows, "colour_confident": float((colour >= 0.9).float().mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument("--steps", type=int, default=2880)
    p.add_argument("--every", type=int, default=480)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr-g", type=float, default=2e-4)
    p.add_argument("--lr-d", type=float, default=2e-4)
    p.add_argument("--g-width", type=int, default=32, help="model.generator.width (the study's: 32)")
    p.add_argument("--loss", choices=ADVERSARIAL, default="hinge")
    p.add_argument("--noise", type=float, default=0.0, help="instance noise sigma on D's inputs at step 0, linearly to 0")
    p.add_argument("--no-sn", action="store_true", help="D without spectral norm (and without batch norm)")
    p.add_argument("--r1", type=float, default=0.0, help="R1 gamma on real images, every D step")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--report", default="ema0.99", help="the generator reported at the end: online or ema<decay>")
    p.add_argument("--upsample", default="nearest",
                   help="model.generator.upsample (bilinear | nearest; the study's G: nearest since 2026-12-06)")
    p.add_argument("--betas", type=float, nargs=2, default=(0.0, 0.9), help="Adam betas for G and D")
    p.add_argument("--z-dim", type=int, default=512, help="model.latent_dim (the study's: 512)")
    p.add_argument("--d-width", type=int, default=32, help="model.discriminator.width")
    p.add_argument("--d-depth", type=int, default=1, help="model.discriminator.depth (2: a 3x3 conv before each strided one)")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for G and D (train.py's precision on AVX-512 CPUs)")
    p.add_argument("--no-precision", action="store_true", help="skip precision/recall of the reported G at the end")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    source = Polygons(root=ROOT / "data", image_size=32)
    images, _ = source.split("train")
    x_all = images_to_tensor(np.asarray(images))
    classifier = _read_into(ModeClassifier(source.n_modes), shipped_path(source)).eval()
    G = Generator(z_dim=a.z_dim, image_size=32, width=a.g_width, upsample=a.upsample)
    D = ConvEncoder(out_dim=1, image_size=32, width=a.d_width, spectral_norm=not a.no_sn, depth=a.d_depth)
    if a.no_sn:
        D.features = torch.nn.Sequential(*[m for m in D.features if not isinstance(m, torch.nn.BatchNorm2d)])
    averages = {f"ema{d}": (d, copy.deepcopy(G).requires_grad_(False)) for d in DECAYS}
    opt_g = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=tuple(a.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=a.lr_d, betas=tuple(a.betas))
    z_fixed = torch.randn(2048, a.z_dim, generator=torch.Generator().manual_seed(123))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)
    order = torch.Generator().manual_seed(a.seed)
    perm, pos, log, t0 = torch.randperm(len(x_all), generator=order), 0, [], time.time()
    for step in range(1, a.steps + 1):
        if pos + a.batch > len(x_all):
            perm, pos = torch.randperm(len(x_all), generator=order), 0
        x = x_all[perm[pos:pos + a.batch]]
        pos += a.batch
        with autocast:
            fake = G(torch.randn(a.batch, a.z_dim))
        sigma = a.noise * max(0.0, 1 - step / a.steps)
        noisy = (lambda t: t + sigma * torch.randn_like(t)) if sigma > 0 else (lambda t: t)
        with autocast:
            loss_d = discriminator_loss(a.loss, D(noisy(x)).float(), D(noisy(fake.detach())).float())
        if a.r1:
            xr = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(D(xr).sum(), xr, create_graph=True)
            loss_d = loss_d + 0.5 * a.r1 * grad.square().flatten(1).sum(1).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with autocast:
            loss_g = generator_loss(a.loss, D(noisy(fake)).float())
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for decay, average in averages.values():
            ema_step(average, G, decay, step - 1)  # the model's own moving average, three decays at once
        if step % a.every == 0 or step == a.steps:
            row = {"step": step, "seconds": round(time.time() - t0), "loss_d": round(loss_d.item(), 3),
                   "loss_g": round(loss_g.item(), 3), "online": confident_share(G, classifier, z_fixed)[0],
                   **{k: confident_share(g, classifier, z_fixed)[0] for k, (_, g) in averages.items()}}
            log.append(row)
            print(a.name, json.dumps(row), flush=True)
    chosen = G if a.report == "online" else averages[a.report][1]
    share, probs = confident_share(chosen, classifier, z_fixed)
    report = {"generator": a.report, "confident": share, **vertex_report(probs),
              "seconds": round(time.time() - t0)}
    if not a.no_precision:
        report.update(sample_precision(chosen, z_fixed, x_all, source))
    print(a.name, json.dumps(report), flush=True)
    out_dir = ROOT / "logs" / "gan_probe"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{a.name}.json").write_text(json.dumps({"args": vars(a), "log": log, "report": report}, indent=1))
    torch.save(chosen.state_dict(), out_dir / f"{a.name}.pt")  # for a later reading (another classifier, more samples)
    chosen.eval()
    with torch.no_grad():
        torchvision.utils.save_image((chosen(z_fixed[:64]) + 1) / 2, out_dir / f"{a.name}.png", nrow=8, padding=1)


if __name__ == "__main__":
    main()
