"""python research/classifier_robustness.py [--image-size 32] [--compare OLD.pt ...] [--probe G.pt ...]:
what the mode classifier's confidence measures.

For the shipped classifier (and each ``--compare`` sealed state dict, e.g. version 1 from git
history: ``git show b2350a6:scatgen/metrics/classifiers/polygons-32px-73a6da096ca1.pt > v1.pt``;
one without a reject class is read with that class never chosen) it prints the share of images
classified with confidence >= 0.9 and, where labels exist, the accuracy, on: the real test
polygons, the same blurred (Gaussian, 0.5 / 0.7 / 1 px), dimmed (0.9x contrast) and noised
(std 0.05); fresh blobs (``render_non_polygons``) and plain circles, with the share put in the
reject class and the share called octagons; and the samples of each ``--probe`` generator
(``research/gan_probe.py``'s ``<name>.pt``, built with the width, latent size and upsampling its
``<name>.json`` records; 2,048 samples from N(0, Id)); and, for each ``--recon`` checkpoint of a
trained run (``train.py``'s ``checkpoints/last.ckpt``, the run's own data), its reconstructions of
the first ``--recon-limit`` test images (a GAN's by latent inversion, under the run's precision), with
their PSNR: how well the shared generator draws a polygon when it is given a good code.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageDraw

from scatgen.data.datasets import images_to_tensor
from scatgen.data.polygons import BACKGROUND, MIN_VERTICES, PALETTE, Polygons, render_non_polygons
from scatgen.metrics.mode_coverage import ModeClassifier, predict, shipped_path
from scatgen.models.components.generator import Generator
from scatgen.storage.checkpoints import load_sealed


def read_classifier(path: Path, n_modes: int) -> ModeClassifier:
    """A sealed state dict; one with a head of ``n_modes`` rows gets a reject class it never picks."""
    state = load_sealed(path, "mode classifier")
    if state["head.weight"].shape[0] == n_modes:
        state["head.weight"] = torch.cat([state["head.weight"], torch.zeros_like(state["head.weight"][:1])])
        state["head.bias"] = torch.cat([state["head.bias"], torch.tensor([-1e4])])
    model = ModeClassifier(n_modes)
    model.load_state_dict(state)
    return model.eval()


def circles(n: int, size: int, rng: np.random.Generator, supersample: int = 4) -> np.ndarray:
    """Filled circles of the polygons' sizes, positions and colours."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        r = rng.uniform(0.2, 0.4) * size
        cx, cy = rng.uniform(r, size - r, 2)
        canvas = Image.new("RGB", (size * supersample, size * supersample), BACKGROUND)
        box = [(cx - r) * supersample, (cy - r) * supersample, (cx + r) * supersample, (cy + r) * supersample]
        ImageDraw.Draw(canvas).ellipse(box, fill=tuple(int(c) for c in PALETTE[rng.integers(len(PALETTE))]))
        out[i] = np.asarray(canvas.resize((size, size), Image.BOX))
    return out


def row(name: str, probs: torch.Tensor, modes: torch.Tensor | None = None) -> str:
    confident = probs.max(1).values >= 0.9
    octagons = (probs.argmax(1) // len(PALETTE) + MIN_VERTICES == 8) & confident
    cells = [f"confident {confident.double().mean():.3f}", f"rejected {(probs.sum(1) < 0.5).double().mean():.3f}",
             f"confident octagons {octagons.double().mean():.3f}"]
    if modes is not None:
        cells.append(f"accuracy {(probs.argmax(1) == modes).double().mean():.3f}")
    return f"  {name:<58}" + " | ".join(cells)


def probe_generator(path: Path, image_size: int) -> Generator:
    """A ``gan_probe.py`` generator, built as its ``.json`` says (older probes: the defaults then)."""
    args = json.loads(path.with_suffix(".json").read_text())["args"] if path.with_suffix(".json").exists() else {}
    g = Generator(args.get("z_dim", 512), image_size=image_size, width=args.get("g_width", 32),
                  upsample=args.get("upsample", "bilinear"))
    g.load_state_dict(torch.load(path, weights_only=True))
    return g.eval()


def reconstructions(ckpt: Path, limit: int) -> tuple[str, torch.Tensor, torch.Tensor]:
    """A trained run's name (model, upsampling, seed), its reconstructions of its first ``limit`` test
    images in ``[-1, 1]``, and their PSNR."""
    from omegaconf import OmegaConf

    from scatgen.devices import trainer_precision
    from scatgen.evaluate import load_model
    from scatgen.metrics.reconstruction import reconstruction_scores
    from scatgen.studies.context import precision_context

    cfg, datamodule, model = load_model(ckpt)
    precision = str(trainer_precision(OmegaConf.select(cfg, "trainer.precision", default="32-true"), "cpu"))
    loader = datamodule.split_loader("test", limit, 128 if getattr(model, "reconstructs_by_inversion", False) else None)
    name = f"{type(model).__name__}, {cfg.model.generator.get('upsample', 'bilinear')}, seed {cfg.seed}"
    scores = reconstruction_scores(model, loader, f"reconstruct ({name})", precision_context(precision, model.device),
                                   keep_images=True)
    return name, scores["reconstructions"] * 2 - 1, scores["psnr"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--compare", nargs="*", default=[], type=Path, help="other sealed classifiers")
    p.add_argument("--probe", nargs="*", default=[], type=Path, help="generators' state dicts (gan_probe.py)")
    p.add_argument("--recon", nargs="*", default=[], type=Path, help="trained runs' checkpoints (their test reconstructions)")
    p.add_argument("--recon-limit", type=int, default=1024, help="test images each --recon run reconstructs")
    a = p.parse_args()
    root = Path(tempfile.gettempdir()) / "scatgen-classifier-robustness"
    source = Polygons(root, image_size=a.image_size, n_train=1, n_test=1024)
    images, labels = source.split("test")
    x, modes = images_to_tensor(np.asarray(images)), torch.from_numpy(source.modes_of(labels))
    noise = 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    sets = {"real test polygons": (x, modes), "  blurred 0.5 px": (TF.gaussian_blur(x, 5, 0.5), modes),
            "  blurred 0.7 px": (TF.gaussian_blur(x, 5, 0.7), modes), "  blurred 1 px": (TF.gaussian_blur(x, 5, 1.0), modes),
            "  0.9x contrast": (0.9 * x, modes), "  noise std 0.05": ((x + noise).clamp(-1, 1), modes),
            "fresh blobs": (images_to_tensor(render_non_polygons(1024, a.image_size, np.random.default_rng(5))), None),
            "circles": (images_to_tensor(circles(1024, a.image_size, np.random.default_rng(6))), None)}
    z = torch.randn(2048, 512, generator=torch.Generator().manual_seed(123))
    for path in a.probe:
        g = probe_generator(path, a.image_size)
        with torch.no_grad():
            sets[f"samples of {path.stem}"] = (torch.cat([g(z[i:i + 256]) for i in range(0, len(z), 256)]), None)
    for path in a.recon:
        name, x_hat, psnr = reconstructions(path, a.recon_limit)
        sets[f"reconstructions: {name} ({psnr.mean():.2f} dB)"] = (x_hat, modes[:len(x_hat)])
    for path in [shipped_path(source), *a.compare]:
        print(f"{path.name}:")
        classifier = read_classifier(path, source.n_modes)
        for name, (images, labels) in sets.items():
            print(row(name, predict(classifier, images), labels), flush=True)


if __name__ == "__main__":
    sys.exit(main())
