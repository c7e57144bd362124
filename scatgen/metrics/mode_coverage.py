"""Mode coverage: which of a data set's labelled modes (polygons: 48, vertex count x colour) a
generator produces.

An attribute classifier (a small CNN) is trained once per rendering config (image size,
anti-aliasing) on freshly rendered images (``source.render_labelled``: every step sees new
images) and on images of no mode (``source.render_off_modes``: polygons' are smooth blobs, the
shapes a generator draws before it learns corners), its reject class; every training image is
mildly degraded (``degrade``: blur, noise, contrast, colour offset, none enough to move a palette
colour nearer another).  So its confidence says which mode an image shows, not whether its pixels
are the renderer's exact values, and a blob is no mode rather than an octagon.  It is accepted
only if its accuracy on the data set's real *test* split is at least ``min_accuracy`` (0.95):
otherwise the metric is refused, since a weak classifier would invent or hide modes.  For the
renderings the study uses (polygons at 32x32 and 64x64) a trained classifier ships with the
package (``metrics/classifiers/``, sealed with its sha256 and written by
``research/train_mode_classifier.py``), so a first evaluation trains nothing; any other rendering
is trained on first use and cached under ``<cache_dir>/mode_classifier/``.  Either is verified
on every load: the digest, then the accuracy bar on the real test split.

On generated samples, as the mode-dropping literature counts them (PacGAN, VEEGAN, Unrolled GAN:
only high-quality samples count): a sample is *confident* when the classifier gives its mode
probability >= ``confidence`` (0.9); ``good_fraction`` is their share; ``modes_covered`` counts the
modes that at least ``min_count`` (k) confident samples land in; ``kl`` = KL(q || p) (nats) and
``jsd`` (bits, in [0, 1]) compare the confident samples' mode histogram q with the classifier's
histogram p of the real test images (p with add-half smoothing, so a mode missing from a small
test split stays finite; ``None`` without any confident sample).  ``modes_predicted`` is the
count of modes predicted for at least k samples, confident or not (blobs included: a sample's
predicted mode is its most probable one, whatever the reject class's probability).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from scatgen.data.datasets import images_to_tensor
from scatgen.data.source import ImageSource
from scatgen.devices import bf16_is_fast
from scatgen.errors import UserError
import logging

from scatgen.storage.artefacts import CorruptArtefact, config_hash, load_or_build
from scatgen.storage.checkpoints import BadCheckpoint, load_sealed, write_checkpoint

log = logging.getLogger(__name__)
SHIPPED_DIR = Path(__file__).resolve().parent / "classifiers"
ARCH = 2  # bump when ModeClassifier or its training changes: cached and shipped classifiers of another version are not used
# (2: a reject class and degraded renderings; version 1, 48 classes on exact renderings, was 94% confident on real
# test images, 10% on the same images blurred by a 0.7-px Gaussian, 13% at 0.9x contrast, and called 89% of
# circles confident octagons: README, the study)


class ClassifierRefused(UserError):
    """The mode classifier is not accurate enough for its counts to mean anything."""


class ModeClassifier(nn.Module):
    """Four conv blocks (3x3 conv, BN, ReLU, 2x2 max-pool), global average pool, linear to the
    ``n_modes`` modes plus one reject class, "no mode" (``source.render_off_modes``)."""

    def __init__(self, n_modes: int = 48, width: int = 32):
        super().__init__()
        self.n_modes = n_modes
        layers, c = [], 3
        for mult in (1, 2, 4, 4):
            layers += [nn.Conv2d(c, width * mult, 3, padding=1, bias=False), nn.BatchNorm2d(width * mult),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = width * mult
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_modes + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(-2, -1)))


@torch.no_grad()
def predict(classifier: ModeClassifier, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Each mode's softmax probability ``(N, n_modes)`` for images in ``[-1, 1]``; a row sums to one
    minus the reject class's probability (on the classifier's device; returned on the CPU).  The
    classifier is put in eval mode and channels-last memory format, in place."""
    # channels-last: oneDNN's convolutions and max-pooling run 1.4x faster on the CPU, the same numbers (to 1e-8)
    classifier.eval().to(memory_format=torch.channels_last)
    device = next(classifier.parameters()).device
    return torch.cat([F.softmax(classifier(images[i:i + batch].to(device).float().contiguous(memory_format=torch.channels_last)),
                                dim=1)[:, :classifier.n_modes].cpu()
                      for i in range(0, len(images), batch)])


def accuracy(classifier: nn.Module, images: torch.Tensor, modes: torch.Tensor) -> float:
    """Fraction of images whose predicted mode is right."""
    return float((predict(classifier, images).argmax(1) == modes).double().mean())


@dataclass(frozen=True)
class Degradation:
    """The ranges ``degrade`` draws from, per image (intensities on ``[0, 1]``)."""
    blur: float = 0.8            # Gaussian blur, sigma ~ U(0, blur) pixels
    noise: float = 0.04          # additive white noise, std ~ U(0, noise)
    contrast: tuple[float, float] = (0.92, 1.05)  # u -> a u + b, a ~ U(contrast)
    brightness: float = 0.03     # b ~ U(-brightness, brightness), the same for the three channels
    colour: float = 0.03         # plus a per-channel offset ~ U(-colour, colour)


def degrade(x: torch.Tensor, generator: torch.Generator, d: Degradation = Degradation()) -> torch.Tensor:
    """Images ``(B, C, H, W)`` in ``[-1, 1]``, each blurred, rescaled in intensity and noised by
    amounts drawn from ``d`` (at the widest ranges every palette colour stays nearer itself than
    any other: tested).  Blur: a separable 7-tap Gaussian per image (grouped convolution,
    replicated borders)."""
    b, c, h, w = x.shape
    u = lambda *shape: torch.rand(*shape, generator=generator).to(x)  # noqa: E731
    sigma = (u(b) * d.blur).clamp_min(1e-3).repeat_interleave(c)
    taps = torch.arange(-3, 4, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-taps[None] ** 2 / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)
    y = F.pad(x.reshape(1, b * c, h, w), (3, 3, 3, 3), mode="replicate")
    y = F.conv2d(y, kernel[:, None, None, :], groups=b * c)
    y = F.conv2d(y, kernel[:, None, :, None], groups=b * c).reshape(b, c, h, w)
    a = d.contrast[0] + u(b, 1, 1, 1) * (d.contrast[1] - d.contrast[0])
    shift = d.brightness * (2 * u(b, 1, 1, 1) - 1) + d.colour * (2 * u(b, c, 1, 1) - 1)
    noise = d.noise * u(b, 1, 1, 1) * torch.randn(x.shape, generator=generator).to(x)
    unit = a * (y + 1) / 2 + shift + noise
    return (2 * unit - 1).clamp(-1, 1)


def train_classifier(source: ImageSource, steps: int = 2000, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                     width: int = 32, degradation: Degradation | None = Degradation(),
                     off_modes: int = 12) -> ModeClassifier:
    """Train on a stream of new images, ``off_modes`` of each batch of no mode (the reject class,
    where the source renders them) and the rest labelled, each ``degrade``d (``degradation=None``:
    the exact renderings), with one-cycle AdamW and bf16 autocast on CPU where it is measurably faster."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 4242])
    model = ModeClassifier(source.n_modes, width=width).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_is_fast())
    noise = torch.Generator().manual_seed(seed)
    model.train()
    bar = tqdm(range(steps), desc="train mode classifier", unit="step", leave=False)
    for _ in bar:
        off = source.render_off_modes(off_modes, rng) if off_modes else None
        images, modes = source.render_labelled(batch_size - (0 if off is None else len(off)), rng)
        if off is not None:
            images = np.concatenate([images, off])
            modes = np.concatenate([modes, np.full(len(off), source.n_modes)])
        x = images_to_tensor(images)
        if degradation is not None:
            x = degrade(x, noise, degradation)
        x = x.contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(modes)
        with autocast:
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


def shipped_path(source: ImageSource) -> Path:
    """Where the package keeps a trained classifier for ``source``'s rendering (it may not exist)."""
    key = config_hash({**source.rendering_key(), "arch": ARCH})
    return SHIPPED_DIR / f"{source.rendering_key()['source']}-{source.image_size}px-{key}.pt"


def _read_into(classifier: ModeClassifier, path: Path) -> ModeClassifier:
    """Load a sealed state dict (digest checked); ``CorruptArtefact`` if damaged or foreign."""
    try:
        classifier.load_state_dict(load_sealed(path, "mode classifier"))
    except (BadCheckpoint, RuntimeError, KeyError) as err:
        raise CorruptArtefact(f"{path} is unusable ({str(err).splitlines()[0][:160]})") from None
    return classifier


def load_or_train_classifier(source: ImageSource, cache_dir: str | Path, steps: int = 2000, seed: int = 0,
                             min_accuracy: float = 0.95, device: str | torch.device = "cpu",
                             shipped: bool = True) -> tuple[ModeClassifier, float, str]:
    """The classifier for this rendering, its accuracy on ``source``'s real test split and where it
    came from (``shipped``, or ``trained`` and cached on first use); raises ``ClassifierRefused``
    below ``min_accuracy``.  A shipped classifier that is damaged or below the bar is reported and
    replaced by a trained one."""
    images, labels = source.split("test")
    x_test, modes = images_to_tensor(np.asarray(images)), torch.from_numpy(source.modes_of(labels))
    path = shipped_path(source)
    if shipped and path.is_file():
        try:
            classifier = _read_into(ModeClassifier(source.n_modes), path).to(device)
            test_accuracy = accuracy(classifier, x_test, modes)
            check_accuracy(test_accuracy, min_accuracy)
            return classifier.eval(), test_accuracy, "shipped"
        except (CorruptArtefact, ClassifierRefused) as err:
            log.warning("the shipped mode classifier is not used (%s); training one instead", err)
    key = config_hash({**source.rendering_key(), "steps": steps, "seed": seed, "arch": ARCH})
    path = Path(cache_dir) / "mode_classifier" / f"{source.image_size}px-{key}.pt"

    def build():
        write_checkpoint(train_classifier(source, steps=steps, seed=seed).state_dict(), path)

    classifier = load_or_build(path, lambda: _read_into(ModeClassifier(source.n_modes), path), build,
                               "mode classifier").to(device)
    test_accuracy = accuracy(classifier, x_test, modes)
    check_accuracy(test_accuracy, min_accuracy)
    return classifier.eval(), test_accuracy, "trained"


def check_accuracy(test_accuracy: float, min_accuracy: float = 0.95) -> None:
    if test_accuracy < min_accuracy:
        raise ClassifierRefused(
            f"mode classifier test accuracy {test_accuracy:.3f} < {min_accuracy:.2f}: the mode-coverage metric is "
            "refused; train it longer (study.classifier_steps=...) or lower study.min_classifier_accuracy knowingly")


def mode_histogram(probs: torch.Tensor) -> torch.Tensor:
    """Counts of predicted modes ``(n_modes,)``."""
    return torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()


def _kl_bits(p: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """KL(p || m) in bits with 0 log 0 = 0."""
    keep = p > 0
    return (p[keep] * (p[keep] / m[keep]).log2()).sum()


def mode_coverage(fake_probs: torch.Tensor, real_probs: torch.Tensor, min_count: int = 10,
                  confidence: float = 0.9) -> dict[str, float | int | None]:
    """Coverage statistics of generated samples against real images (both classifier outputs)."""
    n_modes = fake_probs.shape[1]
    real_hist = mode_histogram(real_probs)
    good = fake_probs.max(1).values >= confidence
    good_hist = torch.bincount(fake_probs.argmax(1)[good], minlength=n_modes).double()
    p = (real_hist + 0.5) / (real_hist + 0.5).sum()
    out = {
        "modes_covered": int((good_hist >= min_count).sum()),
        "modes_predicted": int((mode_histogram(fake_probs) >= min_count).sum()),
        "good_fraction": float(good.double().mean()),
        "real_good_fraction": float((real_probs.max(1).values >= confidence).double().mean()),
        "kl": None, "jsd": None, "n_samples": len(fake_probs),
    }
    if good.any():
        q = good_hist / good_hist.sum()
        m = (p + q) / 2
        out["kl"] = float(_kl_bits(q, p) * np.log(2))
        out["jsd"] = float(0.5 * _kl_bits(p, m) + 0.5 * _kl_bits(q, m))
    return out
